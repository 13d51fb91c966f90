"""The blocking Consul transport: one keep-alive HTTP/1.1 connection (TCP, TLS or a Unix socket).

Errors read like Consul's Go client so scripts that grep them keep working:
`Get "http://127.0.0.1:8500/v1/agent/self": dial tcp 127.0.0.1:8500: connect: connection refused`
(TransportError) and `Unexpected response code: 500 (boom)` (StatusError). Only the standard
library is imported at module level so a CLI command starts fast.
"""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from pyconsul.client.errors import ConsulError, StatusError, TransportError, go_error
from pyconsul.client.request import encode_query, escape_path, query_defaults, request_headers
from pyconsul.client.settings import ClientSettings, resolve_token

if TYPE_CHECKING:
    import ssl

DIAL_TIMEOUT = 30.0


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float | None) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if self.timeout is not None:
            sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class _TLSConnection(http.client.HTTPSConnection):
    """HTTPS where SNI and the certificate name check use -tls-server-name when given."""

    def __init__(self, host: str, port: int, timeout: float | None, context: ssl.SSLContext,
                 server_name: str) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._server_name = server_name or host

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self._server_name)  # type: ignore[attr-defined]


class Response:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def index(self) -> int:
        try:
            return int(self.headers.get("X-Consul-Index", "0"))
        except ValueError:
            return 0

    def json(self) -> Any:
        """The decoded body; a body that is not JSON is a ConsulError worded like Go's decoder."""
        if not self.body.strip():
            return None
        try:
            return json.loads(self.body)
        except ValueError as exc:
            first = self.body.lstrip()[:1].decode("latin-1")
            if isinstance(exc, json.JSONDecodeError) and exc.pos == len(self.body.rstrip()):
                raise ConsulError("unexpected EOF") from None
            raise ConsulError(f"invalid character {first!r} looking for beginning of value") from None

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace").strip()


class Client:
    """A keep-alive HTTP/1.1 connection to one agent. Not thread-safe: one per thread.
    Raises ConfigError at once for an unreadable token file or bad TLS files."""

    def __init__(self, settings: ClientSettings, timeout: float | None = None, *,
                 user_agent: str = "pyconsul-cli") -> None:
        self.settings = settings
        self.timeout = timeout
        self.token = resolve_token(settings)
        self._user_agent = user_agent
        self._ssl: ssl.SSLContext | None = None
        if settings.tls:
            from pyconsul.client.tls import build_ssl_context  # only HTTPS pays for ssl

            self._ssl = build_ssl_context(settings)
        self._conn: http.client.HTTPConnection | None = None

    # -- plumbing --
    def _connect(self, timeout: float | None) -> http.client.HTTPConnection:
        settings = self.settings
        if settings.scheme == "unix":
            return _UnixConnection(settings.address, timeout)
        host, port = settings.host_port()
        if self._ssl is not None:
            return _TLSConnection(host, port, timeout, self._ssl, settings.tls_server_name)
        return http.client.HTTPConnection(host, port, timeout=timeout)

    def url(self, path: str, params: Mapping[str, str | list[str]] | None = None) -> str:
        query = encode_query(params or {})
        return self.settings.base_url() + escape_path(path) + (f"?{query}" if query else "")

    def _headers(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = request_headers(self.settings, self.token, self._user_agent)
        headers["Accept-Encoding"] = "identity"
        headers.update(extra or {})
        return headers

    def open(
        self,
        method: str,
        path: str,
        params: Mapping[str, str | list[str]] | None = None,
        body: bytes | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> http.client.HTTPResponse:
        """Send a request and return the unread response (for streams); raises TransportError."""
        all_params = query_defaults(self.settings, params, write=method != "GET")
        query = encode_query(all_params)
        target = escape_path(path) + (f"?{query}" if query else "")
        url = self.settings.base_url() + target
        hdrs = self._headers(headers)
        t = timeout if timeout is not None else self.timeout
        for attempt in (0, 1):
            fresh = self._conn is None
            if self._conn is None:
                self._conn = self._connect(t)
            conn = self._conn
            try:
                if conn.sock is None:
                    # Dial with a bound like Go's default dialer even when reads may block forever.
                    conn.timeout = t if t is not None else DIAL_TIMEOUT
                    conn.connect()
                assert conn.sock is not None
                conn.sock.settimeout(t)
                conn.timeout = t
                conn.request(method, target, body=body, headers=hdrs)
                return conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self.close()
                # A kept-alive socket the server closed: retry once on a new connection.
                if fresh or attempt == 1:
                    raise TransportError(go_error(method, url, exc, self.settings)) from None
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                raise TransportError(go_error(method, url, exc, self.settings)) from None
        raise AssertionError("unreachable")

    def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, str | list[str]] | None = None,
        body: bytes | str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        ok: tuple[int, ...] | None = (200,),
    ) -> Response:
        """One request; raises TransportError, or StatusError when the status is not in `ok`."""
        data = body.encode() if isinstance(body, str) else body
        resp = self.open(method, path, params, data, headers=headers, timeout=timeout)
        try:
            raw = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise TransportError(go_error(method, self.url(path, params), exc, self.settings)) from None
        if resp.will_close:
            self.close()
        out = Response(resp.status, resp.headers, raw)
        if ok is not None and out.status not in ok:
            raise StatusError(out.status, out.text())
        return out

    # -- conveniences mirroring Consul's api package --
    def get_json(self, path: str, params: Mapping[str, str | list[str]] | None = None,
                 *, timeout: float | None = None) -> tuple[Any, Response]:
        resp = self.request("GET", path, params, timeout=timeout)
        return resp.json(), resp

    def get_json_or_none(self, path: str, params: Mapping[str, str | list[str]] | None = None,
                         *, timeout: float | None = None) -> tuple[Any, Response]:
        """GET where 404 means "nothing there" (KV reads, catalog node), as the Go api treats it."""
        resp = self.request("GET", path, params, timeout=timeout, ok=(200, 404))
        return (resp.json() if resp.status == 200 else None), resp

    def put_json(self, path: str, payload: Any = None,
                 params: Mapping[str, str | list[str]] | None = None) -> Response:
        body = None if payload is None else json.dumps(payload).encode()
        return self.request("PUT", path, params, body)

    def stream_lines(self, path: str, params: Mapping[str, str | list[str]] | None = None) -> Iterator[bytes]:
        """GET a streaming endpoint and yield its lines as they arrive (monitor)."""
        resp = self.open("GET", path, params, timeout=None)
        if resp.status != 200:
            raise StatusError(resp.status, resp.read().decode("utf-8", "replace").strip())
        try:
            while True:
                try:
                    line = resp.readline()
                except (OSError, http.client.HTTPException):
                    return  # the agent went away mid-stream: same as the stream ending
                if not line:
                    return
                yield line
        finally:
            self.close()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
