"""Where and how the CLI reaches the agent: Consul's HTTP flags and CONSUL_* environment, TLS.

Precedence as Consul's api package: defaults < environment < flags given on the command line.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping
from typing import TYPE_CHECKING

from pyconsul.cli.flags import FlagSet, Parsed, parse_go_bool
from pyconsul.cli.http_errors import ConfigError

if TYPE_CHECKING:
    import ssl

DEFAULT_ADDR = "127.0.0.1:8500"


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


class ClientConfig:
    """Where and how to reach the agent, merged from CONSUL_* env and flags (flags win)."""

    def __init__(self, address: str = DEFAULT_ADDR, scheme: str = "http") -> None:
        self.address = address  # host:port, or the socket path when scheme is "unix"
        self.scheme = scheme  # http | https | unix
        self.token = ""
        self.token_file = ""
        self.datacenter = ""
        self.stale = False
        self.ca_file = ""
        self.ca_path = ""
        self.cert_file = ""
        self.key_file = ""
        self.tls_server_name = ""
        self.insecure_skip_verify = False
        self.http_auth = ""  # user[:password] from CONSUL_HTTP_AUTH
        self.warnings: list[str] = []

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
    """TLS as Consul's api package sets it up: a CA file and/or every PEM file under a CA path
    replace the system roots (not added to them); a client certificate needs its key."""
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        if cfg.ca_file:
            ctx.load_verify_locations(cafile=cfg.ca_file)
        if cfg.ca_path:
            _load_ca_path(ctx, cfg.ca_path)
        if not (cfg.ca_file or cfg.ca_path):
            ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
        if cfg.cert_file or cfg.key_file:
            if not (cfg.cert_file and cfg.key_file):
                raise ConfigError("Both client cert and client key must be provided")
            ctx.load_cert_chain(cfg.cert_file, cfg.key_file)
    except ssl.SSLError as exc:  # before OSError: SSLError is one
        raise ConfigError(f"tls: failed to load certificates: {exc.reason or exc}") from None
    except OSError as exc:
        raise ConfigError(_os_error_text(exc, exc.filename or "")) from None
    if cfg.insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _load_ca_path(ctx: ssl.SSLContext, ca_path: str) -> None:
    """Every file under the directory is a PEM bundle (Go's rootcerts), no c_rehash names needed."""
    import ssl

    if not os.path.isdir(ca_path):
        raise ConfigError(f"Error loading CA Path: lstat {ca_path}: no such file or directory")
    for root, _dirs, files in sorted(os.walk(ca_path)):
        for name in sorted(files):
            path = os.path.join(root, name)
            try:
                with open(path, encoding="ascii", errors="replace") as fh:
                    ctx.load_verify_locations(cadata=fh.read())
            except ssl.SSLError:  # before OSError: SSLError is one
                raise ConfigError(f"Error loading CA Path: couldn't parse PEM in: {path}") from None
            except OSError as exc:
                raise ConfigError(f"Error loading file from CAPath: {exc}") from None
