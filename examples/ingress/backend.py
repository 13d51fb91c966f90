"""A sample backend for the ingress examples: answers every GET with its name.

  python backend.py NAME ADDR PORT                                   plain HTTP (termination)
  python backend.py NAME ADDR PORT --cert C --key K                  HTTPS (re-encrypt)
  python backend.py NAME ADDR PORT --cert C --key K --client-ca CA   HTTPS that requires a client
                                                                     certificate signed by CA
                                                                     (passthrough)
The answer is `NAME` plus, when a client certificate was given, ` client=<its CN>`.
"""

from __future__ import annotations

import argparse
import signal
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def handler_for(name: str) -> type[BaseHTTPRequestHandler]:
    class Named(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            text = name
            peer = self.connection.getpeercert() if isinstance(self.connection, ssl.SSLSocket) else None
            if peer:
                cn = dict(x[0] for x in peer.get("subject", ()))  # type: ignore[misc]
                text += f" client={cn.get('commonName', '')}"
            body = (text + "\n").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Named


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("name")
    p.add_argument("addr")
    p.add_argument("port", type=int)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--client-ca")
    a = p.parse_args(argv)
    server = ThreadingHTTPServer((a.addr, a.port), handler_for(a.name))
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(a.cert, a.key)
        if a.client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(a.client_ca)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
