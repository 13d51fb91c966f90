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

import errno
import http.client
import json
import os
import socket
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyconsul.cli.flags import FlagSet, Parsed, parse_go_bool

if TYPE_CHECKING:
    import ssl

DEFAULT_ADDR = "127.0.0.1:8500"
DIAL_TIMEOUT = 30.0


class ConsulError(Exception):
    """Anything a request can fail with; str() is the text Consul would print after its prefix."""


class ConfigError(ConsulError):
    """Bad -http-addr, token file, TLS files and the like."""


class TransportError(ConsulError):
    """The request never got an HTTP answer (refused, unreachable, TLS failure...)."""


class StatusError(ConsulError):
    def __init__(self, code: int, body: str) -> None:
        super().__init__(f"Unexpected response code: {code} ({body})")
        self.code = code
        self.body = body


# --- flags -------------------------------------------------------------------------------------

_CLIENT_FLAGS: list[tuple[str, str]] = [
    ("http-addr",
     "The `address` and port of the Consul HTTP agent. The value can be an IP address or DNS "
     "address, but it must also include the port. This can also be specified via the "
     "CONSUL_HTTP_ADDR environment variable. The default value is http://127.0.0.1:8500. The "
     "scheme can also be set to HTTPS by setting the environment variable CONSUL_HTTP_SSL=true."),
    ("token",
     "ACL token to use in the request. This can also be specified via the CONSUL_HTTP_TOKEN "
     "environment variable. If unspecified, the query will default to the token of the Consul "
     "agent at the HTTP address."),
    ("token-file",
     "File containing the ACL token to use in the request instead of one specified via the "
     "-token argument or CONSUL_HTTP_TOKEN environment variable. This can also be specified via "
     "the CONSUL_HTTP_TOKEN_FILE environment variable."),
    ("ca-file",
     "Path to a CA file to use for TLS when communicating with Consul. This can also be "
     "specified via the CONSUL_CACERT environment variable."),
    ("ca-path",
     "Path to a directory of CA certificates to use for TLS when communicating with Consul. "
     "This can also be specified via the CONSUL_CAPATH environment variable."),
    ("client-cert",
     "Path to a client cert file to use for TLS when 'verify_incoming' is enabled. This can "
     "also be specified via the CONSUL_CLIENT_CERT environment variable."),
    ("client-key",
     "Path to a client key file to use for TLS when 'verify_incoming' is enabled. This can also "
     "be specified via the CONSUL_CLIENT_KEY environment variable."),
    ("tls-server-name",
     "The server name to use as the SNI host when connecting via TLS. This can also be "
     "specified via the CONSUL_TLS_SERVER_NAME environment variable."),
]


def add_http_flags(fs: FlagSet, *, server: bool = True) -> None:
    """Consul's HTTP API options; `server=False` leaves out -datacenter and -stale (e.g. event)."""
    for name, usage in _CLIENT_FLAGS:
        fs.string(name, "", usage, placeholder="value", group="http")
    if server:
        fs.string("datacenter", "", "Name of the datacenter to query. If unspecified, this will "
                  "default to the datacenter of the queried agent.", placeholder="value", group="http")
        fs.bool("stale", False, "Permit any Consul server (non-leader) to respond to this request. "
                "This allows for lower latency and higher throughput, but can result in stale "
                "data. This option has no effect on non-read operations. The default value is "
                "false.", group="http")


# --- configuration -----------------------------------------------------------------------------

@dataclass
class ClientConfig:
    """Where and how to reach the agent, merged from CONSUL_* env and flags (flags win)."""

    address: str = DEFAULT_ADDR  # host:port, or the socket path when scheme is "unix"
    scheme: str = "http"  # http | https | unix
    token: str = ""
    token_file: str = ""
    datacenter: str = ""
    stale: bool = False
    ca_file: str = ""
    ca_path: str = ""
    cert_file: str = ""
    key_file: str = ""
    tls_server_name: str = ""
    insecure_skip_verify: bool = False
    http_auth: str = ""  # user[:password] from CONSUL_HTTP_AUTH
    warnings: list[str] = field(default_factory=list)

    @property
    def tls(self) -> bool:
        return self.scheme == "https"

    def host_port(self) -> tuple[str, int]:
        host, port = split_host_port(self.address, 443 if self.tls else 80)
        return host, port

    def base_url(self) -> str:
        if self.scheme == "unix":
            # Go's url package escapes the socket path into the host part.
            return "http://" + urllib.parse.quote(self.address, safe="")
        return f"{self.scheme}://{self.address}"


def split_host_port(address: str, default_port: int) -> tuple[str, int]:
    if address.startswith("["):
        host, _, rest = address[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif address.count(":") == 1:
        host, _, port = address.partition(":")
    else:
        host, port = address, ""
    if not port:
        return host, default_port
    try:
        return host, int(port)
    except ValueError:
        raise ConfigError(f'parse "{address}": invalid port ":{port}" after host') from None


def _apply_address(cfg: ClientConfig, raw: str) -> None:
    """`host:port`, `http://host:port`, `https://host:port` or `unix:///path`, as Consul's api."""
    scheme, sep, rest = raw.partition("://")
    if not sep:
        cfg.address = raw
        return
    if scheme == "http":
        pass  # never downgrade when CONSUL_HTTP_SSL asked for TLS
    elif scheme == "https":
        cfg.scheme = "https"
    elif scheme == "unix":
        cfg.scheme = "unix"
    else:
        raise ConfigError(f"Unknown protocol scheme: {scheme}")
    cfg.address = rest.rstrip("/") if scheme != "unix" else rest


def config_from_env(env: Mapping[str, str] | None = None) -> ClientConfig:
    """Consul api.DefaultConfig(): read the CONSUL_* environment variables."""
    env = os.environ if env is None else env
    cfg = ClientConfig()
    addr = env.get("CONSUL_HTTP_ADDR", "")
    ssl_flag = env.get("CONSUL_HTTP_SSL", "")
    if ssl_flag:
        try:
            if parse_go_bool(ssl_flag):
                cfg.scheme = "https"
        except ValueError:
            cfg.warnings.append(f"[WARN] client: could not parse CONSUL_HTTP_SSL: {ssl_flag}")
    if addr:
        _apply_address(cfg, addr)
    cfg.token_file = env.get("CONSUL_HTTP_TOKEN_FILE", "")
    cfg.token = env.get("CONSUL_HTTP_TOKEN", "")
    cfg.http_auth = env.get("CONSUL_HTTP_AUTH", "")
    verify = env.get("CONSUL_HTTP_SSL_VERIFY", "")
    if verify:
        try:
            cfg.insecure_skip_verify = not parse_go_bool(verify)
        except ValueError:
            cfg.warnings.append(f"[WARN] client: could not parse CONSUL_HTTP_SSL_VERIFY: {verify}")
    cfg.tls_server_name = env.get("CONSUL_TLS_SERVER_NAME", "")
    cfg.ca_file = env.get("CONSUL_CACERT", "")
    cfg.ca_path = env.get("CONSUL_CAPATH", "")
    cfg.cert_file = env.get("CONSUL_CLIENT_CERT", "")
    cfg.key_file = env.get("CONSUL_CLIENT_KEY", "")
    return cfg


def config_from_flags(opts: Parsed, env: Mapping[str, str] | None = None) -> ClientConfig:
    """Environment first, then any HTTP flag the user gave on the command line."""
    cfg = config_from_env(env)
    flag = opts.values
    if flag.get("http-addr"):
        _apply_address(cfg, flag["http-addr"])
    if flag.get("token"):
        cfg.token = flag["token"]
        cfg.token_file = ""
    elif flag.get("token-file"):
        cfg.token_file = flag["token-file"]
        cfg.token = ""
    for name, attr in (("ca-file", "ca_file"), ("ca-path", "ca_path"), ("client-cert", "cert_file"),
                       ("client-key", "key_file"), ("tls-server-name", "tls_server_name"),
                       ("datacenter", "datacenter")):
        if flag.get(name):
            setattr(cfg, attr, flag[name])
    cfg.stale = bool(flag.get("stale", False))
    return cfg


def resolve_token(cfg: ClientConfig) -> str:
    if cfg.token:
        return cfg.token
    if cfg.token_file:
        try:
            with open(cfg.token_file, encoding="utf-8") as fh:
                return fh.read().strip()
        except OSError as exc:
            raise ConfigError(f"Error loading token file: {_os_error_text(exc, cfg.token_file)}") from None
    return ""


def _os_error_text(exc: OSError, path: str) -> str:
    reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
    return f"open {path}: {reason}"


def build_ssl_context(cfg: ClientConfig) -> ssl.SSLContext:
    import ssl

    ctx = ssl.create_default_context(purpose=ssl.Purpose.SERVER_AUTH)
    try:
        if cfg.ca_file or cfg.ca_path:
            ctx.load_verify_locations(cafile=cfg.ca_file or None, capath=cfg.ca_path or None)
        if cfg.cert_file or cfg.key_file:
            if not (cfg.cert_file and cfg.key_file):
                raise ConfigError("Both client cert and client key must be provided")
            ctx.load_cert_chain(cfg.cert_file, cfg.key_file)
    except FileNotFoundError as exc:
        raise ConfigError(_os_error_text(exc, exc.filename or "")) from None
    except ssl.SSLError as exc:
        raise ConfigError(f"tls: failed to load certificates: {exc.reason or exc}") from None
    if cfg.insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


# --- transport ---------------------------------------------------------------------------------

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


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

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
                    raise TransportError(_go_error(method, url, exc, self.cfg)) from None
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                raise TransportError(_go_error(method, url, exc, self.cfg)) from None
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
            raise TransportError(_go_error(method, self.url(path, params), exc, self.cfg)) from None
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


# --- Go-style error text -----------------------------------------------------------------------

def _dial_target(cfg: ClientConfig) -> str:
    if cfg.scheme == "unix":
        return f"dial unix {cfg.address}"
    host, port = cfg.host_port()
    return f"dial tcp {host}:{port}" if ":" not in host else f"dial tcp [{host}]:{port}"


def _go_error(method: str, url: str, exc: BaseException, cfg: ClientConfig) -> str:
    prefix = f'{method[:1]}{method[1:].lower()} "{url}": '
    return prefix + go_transport_reason(exc, cfg)


def go_transport_reason(exc: BaseException, cfg: ClientConfig) -> str:
    """The part after the URL in Go's net/http error for the same failure."""
    import ssl

    dial = _dial_target(cfg)
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
        host = cfg.host_port()[0] if cfg.scheme != "unix" else cfg.address
        return f"dial tcp: lookup {host}: no such host"
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
