"""Where and how to reach a Consul agent, built in one place from the environment and flags.

Precedence is Consul's api package's: defaults < `CONSUL_*` environment < what the program was
told on its command line (or, for pytemplate, its config file, then its flags). Each layer is a
`ClientOverrides` (None = not given) laid over the settings so far by `with_overrides`, which is
the only place the rules live:
- the address may be `host:port`, `http://…`, `https://…` (TLS) or `unix:///path`; any other
  scheme is a ConfigError worded as Consul's;
- the scheme is settled as Consul's NewClient settles it: `unix://` wins, then `https://` in
  the address or TLS asked for (`CONSUL_HTTP_SSL`, `-consul-ssl`, `consul-tls://`); a later
  layer saying TLS is off turns it off unless the address itself says https;
- a token replaces a token file given earlier and the other way round; when one layer gives
  both, the token wins.

This module reads the process environment only when a caller passes `env=None`.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, replace

from pyconsul.client.errors import ConfigError
from pyconsul.gocompat.strconv import parse_bool

DEFAULT_ADDR = "127.0.0.1:8500"


@dataclass(frozen=True, slots=True)
class ClientOverrides:
    """One layer of settings; None means this layer does not say."""

    address: str | None = None  # as written: host:port, http(s)://host:port or unix:///path
    use_tls: bool | None = None
    token: str | None = None
    token_file: str | None = None
    datacenter: str | None = None
    namespace: str | None = None
    stale: bool | None = None
    ca_file: str | None = None
    ca_path: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    tls_server_name: str | None = None
    insecure_skip_verify: bool | None = None
    http_auth: str | None = None  # user[:password] for HTTP basic auth
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """Everything a transport needs to reach one agent. Build with `settings_from_env` and
    `with_overrides`; never by reading the environment elsewhere."""

    address: str = DEFAULT_ADDR  # host:port, or the socket path when the scheme is unix
    address_scheme: str = ""  # the scheme written in the address ("" when none was)
    use_tls: bool = False  # TLS asked for apart from the address
    token: str = ""
    token_file: str = ""
    datacenter: str = ""
    namespace: str = ""
    stale: bool = False  # query default: let any server answer reads
    ca_file: str = ""
    ca_path: str = ""
    cert_file: str = ""
    key_file: str = ""
    tls_server_name: str = ""
    insecure_skip_verify: bool = False
    http_auth: str = ""
    warnings: tuple[str, ...] = ()  # what Consul's api package would log about the environment

    @classmethod
    def at(cls, address: str) -> ClientSettings:
        """Settings for this address and nothing else (no environment): tests, benchmarks."""
        return cls().with_overrides(ClientOverrides(address=address))

    @property
    def scheme(self) -> str:
        """http | https | unix."""
        if self.address_scheme == "unix":
            return "unix"
        return "https" if self.use_tls or self.address_scheme == "https" else "http"

    @property
    def tls(self) -> bool:
        return self.scheme == "https"

    def host_port(self) -> tuple[str, int]:
        return split_host_port(self.address, 443 if self.tls else 80)

    def base_url(self) -> str:
        if self.scheme == "unix":
            # Go's url package escapes the socket path into the host part.
            return "http://" + urllib.parse.quote(self.address, safe="")
        return f"{self.scheme}://{self.address}"

    def with_overrides(self, layer: ClientOverrides) -> ClientSettings:
        """These settings with `layer` laid over them (see the module rules)."""
        changes: dict[str, object] = {}
        if layer.use_tls is not None:
            changes["use_tls"] = layer.use_tls
        if layer.address is not None:
            changes["address_scheme"], changes["address"] = _split_address(layer.address)
        if layer.token_file is not None:
            changes["token_file"], changes["token"] = layer.token_file, ""
        if layer.token is not None:
            changes["token"] = layer.token
            if layer.token_file is None:
                changes["token_file"] = ""
        for name in ("datacenter", "namespace", "stale", "ca_file", "ca_path", "cert_file", "key_file",
                     "tls_server_name", "insecure_skip_verify", "http_auth"):
            value = getattr(layer, name)
            if value is not None:
                changes[name] = value
        if layer.warnings:
            changes["warnings"] = self.warnings + layer.warnings
        return replace(self, **changes)  # type: ignore[arg-type]


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


def _split_address(raw: str) -> tuple[str, str]:
    """(scheme written, host:port or socket path), as Consul's api splits an address."""
    scheme, sep, rest = raw.partition("://")
    if not sep:
        return "", raw
    if scheme not in ("http", "https", "unix"):
        raise ConfigError(f"Unknown protocol scheme: {scheme}")
    return scheme, rest if scheme == "unix" else rest.rstrip("/")


# -- the environment ----------------------------------------------------------------------------

def env_overrides(env: Mapping[str, str] | None = None) -> ClientOverrides:
    """Consul's api.DefaultConfig(): the CONSUL_* variables (empty ones are not set)."""
    env = os.environ if env is None else env
    warnings: list[str] = []

    def flag(name: str) -> bool | None:
        raw = env.get(name, "")
        if not raw:
            return None
        try:
            return parse_bool(raw)
        except ValueError:
            warnings.append(f"[WARN] client: could not parse {name}: {raw}")
            return None

    def text(name: str) -> str | None:
        return env.get(name) or None

    use_tls = flag("CONSUL_HTTP_SSL")
    verify = flag("CONSUL_HTTP_SSL_VERIFY")
    return ClientOverrides(
        address=text("CONSUL_HTTP_ADDR"),
        use_tls=True if use_tls else None,  # CONSUL_HTTP_SSL=false is Consul's default, not a downgrade
        token=text("CONSUL_HTTP_TOKEN"),
        token_file=text("CONSUL_HTTP_TOKEN_FILE"),
        namespace=text("CONSUL_NAMESPACE"),
        http_auth=text("CONSUL_HTTP_AUTH"),
        insecure_skip_verify=None if verify is None else not verify,
        tls_server_name=text("CONSUL_TLS_SERVER_NAME"),
        ca_file=text("CONSUL_CACERT"),
        ca_path=text("CONSUL_CAPATH"),
        cert_file=text("CONSUL_CLIENT_CERT"),
        key_file=text("CONSUL_CLIENT_KEY"),
        warnings=tuple(warnings),
    )


def settings_from_env(env: Mapping[str, str] | None = None) -> ClientSettings:
    """The settings a Consul command starts from before its flags."""
    return ClientSettings().with_overrides(env_overrides(env))


def consul_template_settings_from_env(env: Mapping[str, str] | None = None) -> ClientSettings:
    """consul-template's defaults: Consul's, and its older CONSUL_TOKEN when CONSUL_HTTP_TOKEN
    is not set."""
    env = os.environ if env is None else env
    settings = settings_from_env(env)
    if not settings.token and env.get("CONSUL_TOKEN"):
        settings = settings.with_overrides(ClientOverrides(token=env["CONSUL_TOKEN"]))
    return settings


def registrator_settings(scheme: str, address: str, env: Mapping[str, str] | None = None) -> ClientSettings:
    """gliderlabs/registrator's Consul adapter: Consul's environment, then the registry URI.

    `consul-tls` means https with TLS files from registrator's own CONSUL_CACERT, CONSUL_TLSCERT
    and CONSUL_TLSKEY, verification on; where registrator's pair is unset, Consul's
    CONSUL_CLIENT_CERT / CONSUL_CLIENT_KEY (what the rest of a seed 001 host exports) apply, so
    an agent under verify_incoming takes it. `consul-unix` talks HTTP over the socket at `address`."""
    env = os.environ if env is None else env
    settings = settings_from_env(env)
    if scheme == "consul-unix":
        return settings.with_overrides(ClientOverrides(address="unix://" + address))
    if scheme == "consul-tls":
        return settings.with_overrides(ClientOverrides(
            address=address, use_tls=True, ca_file=env.get("CONSUL_CACERT", ""), ca_path="",
            cert_file=env.get("CONSUL_TLSCERT") or env.get("CONSUL_CLIENT_CERT", ""),
            key_file=env.get("CONSUL_TLSKEY") or env.get("CONSUL_CLIENT_KEY", ""),
            insecure_skip_verify=False,
        ))
    return settings.with_overrides(ClientOverrides(address=address))


# -- the token ----------------------------------------------------------------------------------

def resolve_token(settings: ClientSettings) -> str:
    """The token to send: the token itself, else the token file's contents; ConfigError when
    the file cannot be read."""
    if settings.token:
        return settings.token
    if settings.token_file:
        try:
            with open(settings.token_file, encoding="utf-8") as fh:
                return fh.read().strip()
        except OSError as exc:
            raise ConfigError(f"Error loading token file: {os_error_text(exc, settings.token_file)}") from None
    return ""


def os_error_text(exc: OSError, path: str) -> str:
    """Go's *PathError text: `open /x: no such file or directory`."""
    reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
    return f"open {path}: {reason}"
