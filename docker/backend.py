"""A sample backend for the compose stack: answers every GET with `this is <hostname>`.

Stdlib only, so it runs from the pyconsul image; the hostname tells which replica answered.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"this is {socket.gethostname()}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per request would drown the stack's logs


if __name__ == "__main__":
    # As PID 1 the default SIGTERM action is ignored; `docker stop` should stop it at once.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8080"))), Hello).serve_forever()
