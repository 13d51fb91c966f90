"""The HTTP client every CLI command uses: Consul's global flags, CONSUL_* environment, TLS, errors.

Use it like this in a command:

    fs = FlagSet(HELP)
    add_http_flags(fs)                  # -http-addr, -token, TLS flags, -datacenter, -stale
    opts = fs.parse(argv)
    client = client_from_flags(opts)    # raises ConfigError for bad env/flags
    value, meta = client.get_json("/v1/agent/self")

Errors read like Consul's Go client so scripts that grep them keep working:
`Get "http://127.0.0.1:8500/v1/agent/self": dial tcp 127.0.0.1:8500: connect: connection refused`
(TransportError) and `Unexpected response code: 500 (boom)` (StatusError). Only the standard
library is imported at module level so a command starts fast.
"""

from __future__ import annotations

import http.client
import json
import socket
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from pyconsul.cli.flags import Parsed
from pyconsul.cli.http_config import (
    DEFAULT_ADDR,
    ClientConfig,
    add_http_flags,
    build_ssl_context,
    config_from_env,
    config_from_flags,
    resolve_token,
    split_host_port,
)
from pyconsul.cli.http_errors import (
    ConfigError,
    ConsulError,
    StatusError,
    TransportError,
    go_error,
    go_transport_reason,
)

if TYPE_CHECKING:
    import ssl

__all__ = [
    "DEFAULT_ADDR", "DIAL_TIMEOUT", "Client", "ClientConfig", "ConfigError", "ConsulError", "Response",
    "StatusError", "TransportError", "add_http_flags", "build_ssl_context", "client_from_flags",
    "config_from_env", "config_from_flags", "encode_query", "escape_path", "go_transport_reason",
    "resolve_token", "split_host_port",
]

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


def encode_query(params: Mapping[str, str | list[str]]) -> str:
    """Go's url.Values.Encode: keys sorted, each value QueryEscape'd; a flag param is `key=`."""
    parts: list[str] = []
    for key in sorted(params):
        raw = params[key]
        for value in raw if isinstance(raw, list) else [raw]:
            parts.append(f"{urllib.parse.quote_plus(key)}={urllib.parse.quote_plus(value)}")
    return "&".join(parts)


def escape_path(path: str) -> str:
    return urllib.parse.quote(path, safe="/:@!$&'()*+,;=-._~")


class Client:
    """A keep-alive HTTP/1.1 connection to one agent. Not thread-safe: one per thread."""

    def __init__(self, cfg: ClientConfig, timeout: float | None = None) -> None:
        self.cfg = cfg
        self.timeout = timeout
        self.token = resolve_token(cfg)
        self._ssl: ssl.SSLContext | None = build_ssl_context(cfg) if cfg.tls else None
        self._conn: http.client.HTTPConnection | None = None

    # -- plumbing --
    def _connect(self, timeout: float | None) -> http.client.HTTPConnection:
        cfg = self.cfg
        if cfg.scheme == "unix":
            return _UnixConnection(cfg.address, timeout)
        host, port = cfg.host_port()
        if self._ssl is not None:
            return _TLSConnection(host, port, timeout, self._ssl, cfg.tls_server_name)
        return http.client.HTTPConnection(host, port, timeout=timeout)

    def url(self, path: str, params: Mapping[str, str | list[str]] | None = None) -> str:
        query = encode_query(params or {})
        return self.cfg.base_url() + escape_path(path) + (f"?{query}" if query else "")

    def _params(self, params: Mapping[str, str | list[str]] | None, *, write: bool) -> dict[str, Any]:
        out: dict[str, Any] = dict(params or {})
        if self.cfg.datacenter and "dc" not in out:
            out["dc"] = self.cfg.datacenter
        if self.cfg.stale and not write and "stale" not in out:
            out["stale"] = ""
        return out

    def _headers(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = {"User-Agent": "pyconsul-cli", "Accept-Encoding": "identity"}
        if self.token:
            headers["X-Consul-Token"] = self.token
        if self.cfg.http_auth:
            import base64

            headers["Authorization"] = "Basic " + base64.b64encode(self.cfg.http_auth.encode()).decode()
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
        all_params = self._params(params, write=method != "GET")
        query = encode_query(all_params)
        target = escape_path(path) + (f"?{query}" if query else "")
        url = self.cfg.base_url() + target
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
                    raise TransportError(go_error(method, url, exc, self.cfg)) from None
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                raise TransportError(go_error(method, url, exc, self.cfg)) from None
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
            raise TransportError(go_error(method, self.url(path, params), exc, self.cfg)) from None
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


def client_from_flags(opts: Parsed, env: Mapping[str, str] | None = None,
                      timeout: float | None = None) -> Client:
    return Client(config_from_flags(opts, env), timeout=timeout)
