"""HEALTHCHECK of the pyconsul image (stdlib only, exit 0 = healthy).

  healthcheck.py [agent]       the agent at $CONSUL_HTTP_ADDR (default 127.0.0.1:8500; https://
                               with $CONSUL_CACERT, $CONSUL_CLIENT_CERT/KEY) knows a leader: a
                               server has joined a quorum, a client has joined servers
  healthcheck.py http URL      URL answers with any HTTP status below 500
  healthcheck.py tcp HOST:PORT something accepts connections there (a TLS backend that wants
                               a client certificate has no URL to ask)
  healthcheck.py ingress       nginx answers on 127.0.0.1:8000 (502 while no backend is
                               registered still counts: the proxy itself is up)
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import sys
import urllib.error
import urllib.request


def _tls_context() -> ssl.SSLContext:
    """HTTPS as the CLI does it, from seed 001's variables."""
    ctx = ssl.create_default_context(cafile=os.environ.get("CONSUL_CACERT") or None)
    if os.environ.get("CONSUL_CLIENT_CERT"):
        ctx.load_cert_chain(os.environ["CONSUL_CLIENT_CERT"], os.environ.get("CONSUL_CLIENT_KEY") or None)
    # The agent's certificate names localhost and 127.0.0.1, not the container's hostname.
    ctx.check_hostname = False
    return ctx


def _status(url: str) -> tuple[int, bytes]:
    ctx = _tls_context() if url.startswith("https://") else None
    try:
        with urllib.request.urlopen(url, timeout=1.5, context=ctx) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, b""


def healthy(argv: list[str]) -> bool:
    mode = argv[0] if argv else "agent"
    try:
        if mode == "agent":
            addr = os.environ.get("CONSUL_HTTP_ADDR", "127.0.0.1:8500")
            addr = addr if "://" in addr else f"http://{addr}"
            code, body = _status(f"{addr}/v1/status/leader")
            return code == 200 and bool(json.loads(body or b'""'))
        if mode == "http":
            return _status(argv[1])[0] < 500
        if mode == "tcp":
            host, _, port = argv[1].rpartition(":")
            socket.create_connection((host, int(port)), timeout=1.5).close()
            return True
        if mode == "ingress":
            return _status("http://127.0.0.1:8000/")[0] in range(200, 600)
    except (OSError, ValueError):
        return False
    print(f"unknown mode {mode!r}", file=sys.stderr)
    return False


if __name__ == "__main__":
    sys.exit(0 if healthy(sys.argv[1:]) else 1)
