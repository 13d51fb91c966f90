"""What a request to Consul fails with, worded as Consul's Go client words it."""

from __future__ import annotations

import errno
import http.client
import json
import os
import socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyconsul.client.settings import ClientSettings


class ConsulError(Exception):
    """Anything a request can fail with; str() is the text Consul would print after its prefix."""


class ConfigError(ConsulError):
    """Bad -http-addr, token file, TLS files and the like."""


class TransportError(ConsulError):
    """The request never got an HTTP answer (refused, unreachable, TLS failure...); `cause` is
    the underlying exception when a caller words the failure its own way."""

    def __init__(self, message: str, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.cause = cause


class StatusError(ConsulError):
    def __init__(self, code: int, body: str) -> None:
        super().__init__(f"Unexpected response code: {code} ({body})")
        self.code = code
        self.body = body


def _dial_target(settings: ClientSettings) -> str:
    if settings.scheme == "unix":
        return f"dial unix {settings.address}"
    host, port = settings.host_port()
    return f"dial tcp {host}:{port}" if ":" not in host else f"dial tcp [{host}]:{port}"


def go_error(method: str, url: str, exc: BaseException, settings: ClientSettings) -> str:
    prefix = f'{method[:1]}{method[1:].lower()} "{url}": '
    return prefix + go_transport_reason(exc, settings)


def go_transport_reason(exc: BaseException, settings: ClientSettings) -> str:
    """The part after the URL in Go's net/http error for the same failure."""
    import ssl

    dial = _dial_target(settings)
    if isinstance(exc, ssl.SSLCertVerificationError):
        msg = exc.verify_message or str(exc)
        if exc.verify_code in (2, 19, 20, 21):
            msg = "certificate signed by unknown authority"
        return f"tls: failed to verify certificate: x509: {msg}"
    if isinstance(exc, ssl.SSLError):
        reason = (exc.reason or "").upper()
        if "WRONG_VERSION_NUMBER" in reason or "RECORD_LAYER_FAILURE" in reason or "PACKET_LENGTH_TOO_LONG" in reason:
            return "http: server gave HTTP response to HTTPS client"
        if "CERTIFICATE_REQUIRED" in reason or "BAD_CERTIFICATE" in reason:
            return "remote error: tls: bad certificate"
        return f"tls: {(exc.reason or str(exc)).lower().replace('_', ' ')}"
    if isinstance(exc, socket.gaierror):
        host = settings.host_port()[0] if settings.scheme != "unix" else settings.address
        server = _resolver()
        return f"dial tcp: lookup {host}{f' on {server}' if server else ''}: no such host"
    if isinstance(exc, http.client.BadStatusLine):
        line = exc.args[0] if exc.args else ""
        return f"net/http: HTTP/1.x transport connection broken: malformed HTTP response {json.dumps(line)}"
    if isinstance(exc, http.client.RemoteDisconnected | http.client.IncompleteRead):
        return "EOF"
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"{dial}: i/o timeout"
    if isinstance(exc, OSError) and exc.errno is not None:
        reasons = {
            errno.ECONNREFUSED: "connection refused",
            errno.ENOENT: "no such file or directory",
            errno.EHOSTUNREACH: "no route to host",
            errno.ENETUNREACH: "network is unreachable",
            errno.EACCES: "permission denied",
            errno.ECONNRESET: "connection reset by peer",
            errno.EADDRNOTAVAIL: "cannot assign requested address",
        }
        reason = reasons.get(exc.errno, os.strerror(exc.errno).lower())
        if exc.errno == errno.ECONNRESET:
            return f"read: {reason}"
        return f"{dial}: connect: {reason}"
    return str(exc) or exc.__class__.__name__


def _resolver() -> str:
    """The first nameserver, as Go's resolver names it in lookup errors (`on 127.0.0.53:53`)."""
    try:
        with open("/etc/resolv.conf", encoding="utf-8") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "nameserver":
                    ns = parts[1]
                    return f"[{ns}]:53" if ":" in ns else f"{ns}:53"
    except OSError:
        pass
    return ""
