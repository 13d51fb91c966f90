"""The built-in proxy's configuration (pure): from flags, or from the sidecar's registration.

- Flags mode: `-service NAME`, `-upstream name:port` (or `name:host:port`; repeatable), and a
  public listener from `-listen host:port` to `-service-addr host:port`.
- Agent API mode: `-sidecar-for ID` picks the one local `connect-proxy` service whose
  `Proxy.DestinationServiceID` is ID (any case); `-proxy-id` names it directly. Its port (bound on
  `Proxy.Config.bind_address`, default 0.0.0.0) forwards to LocalServiceAddress:LocalServicePort;
  its `Proxy.Upstreams` with a local_bind_port become upstream listeners (127.0.0.1 by default).
The banner and error texts are Consul's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Row = dict[str, Any]


class ProxyConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Upstream:
    name: str
    bind_host: str
    bind_port: int
    destination_type: str = "service"
    datacenter: str = ""  # the upstream's Datacenter ("": the proxy's own)

    @property
    def key(self) -> str:
        """What the proxy files the upstream's instances under (a name can be in two datacenters)."""
        return f"{self.name}?dc={self.datacenter}" if self.datacenter else self.name

    def label(self) -> str:
        """Consul's listener name: `127.0.0.1:9191->service:default/socat`."""
        return f"{self.bind_host}:{self.bind_port}->{self.destination_type}:default/{self.name}"


@dataclass(frozen=True)
class PublicListener:
    bind_host: str
    bind_port: int
    backend_host: str
    backend_port: int


@dataclass(frozen=True)
class ProxyConfig:
    service: str  # the identity (and authorize Target)
    proxy_id: str = ""
    public: PublicListener | None = None
    upstreams: tuple[Upstream, ...] = field(default_factory=tuple)
    http_proxy: tuple[str, int] | None = None  # -http-proxy: plain HTTP routed by host name


def parse_upstream(text: str) -> Upstream:
    name, sep, addr = text.partition(":")
    if not sep or not name:
        raise ProxyConfigError(f"invalid value {text!r} for flag -upstream: upstream must be name:addr")
    host, _, port = addr.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        raise ProxyConfigError(f"invalid value {text!r} for flag -upstream: invalid port {port!r}") from None
    return Upstream(name, host, number)


def split_hostport(text: str, flag: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        raise ProxyConfigError(f"invalid {flag} address {text!r}: missing port")
    try:
        return host, int(port)
    except ValueError:
        raise ProxyConfigError(f"invalid {flag} address {text!r}: bad port") from None


def from_flags(service: str, upstreams: list[str], listen: str, service_addr: str) -> ProxyConfig:
    if listen and not service_addr:
        raise ProxyConfigError(
            "-service-addr must be specified with -listen so the proxy knows the backend service address.")
    public = None
    if listen:
        host, port = split_hostport(listen, "-listen")
        bhost, bport = split_hostport(service_addr, "-service-addr")
        public = PublicListener(host, port, bhost, bport)
    return ProxyConfig(service, "", public, tuple(parse_upstream(u) for u in upstreams))


def find_sidecar(services: Mapping[str, Row], sidecar_for: str) -> str:
    """The proxy ID registered as the sidecar for `sidecar_for`; Consul's errors otherwise."""
    found = sorted(
        sid for sid, svc in services.items()
        if svc.get("Kind") == "connect-proxy"
        and str((svc.get("Proxy") or {}).get("DestinationServiceID", "")).lower() == sidecar_for.lower()
    )
    if not found:
        raise ProxyConfigError(f"No sidecar proxy registered for {sidecar_for}")
    if len(found) > 1:
        raise ProxyConfigError(f"More than one sidecar proxy registered for {sidecar_for}.\n"
                               f"    Start proxy with -proxy-id and one of the following IDs: {', '.join(found)}")
    return found[0]


def _get(m: Mapping[str, Any], *names: str, default: Any = None) -> Any:
    for n in names:
        if n in m and m[n] not in (None, ""):
            return m[n]
    return default


def from_registration(svc: Row) -> ProxyConfig:
    """Agent API mode: the proxy service as `/v1/agent/service/:id` returns it."""
    if svc.get("Kind") != "connect-proxy":
        raise ProxyConfigError(f"service {svc.get('ID')} is not a connect-proxy")
    proxy = svc.get("Proxy") or {}
    config = proxy.get("Config") or {}
    bind = str(_get(config, "bind_address", default="0.0.0.0"))
    port = int(_get(config, "bind_port", default=svc.get("Port") or 0))
    public = None
    if port:
        public = PublicListener(bind, port, str(proxy.get("LocalServiceAddress") or "127.0.0.1"),
                                int(proxy.get("LocalServicePort") or 0))
    ups = []
    for u in proxy.get("Upstreams") or []:
        local_port = int(_get(u, "LocalBindPort", "local_bind_port", default=0) or 0)
        if not local_port:
            continue  # Consul skips an upstream without a local port
        ups.append(Upstream(str(_get(u, "DestinationName", "destination_name", default="")),
                            str(_get(u, "LocalBindAddress", "local_bind_address", default="127.0.0.1")),
                            local_port, str(_get(u, "DestinationType", "destination_type", default="service")),
                            str(_get(u, "Datacenter", "datacenter", default=""))))
    return ProxyConfig(str(proxy.get("DestinationServiceName") or ""), str(svc.get("ID") or ""), public, tuple(ups))


def _line(label: str, value: str) -> str:
    return f"    {label:>18}: {value}"


def banner_agent_mode(sidecar_for: str, proxy_id: str) -> list[str]:
    lines = ["==> Consul Connect proxy starting...", _line("Configuration mode", "Agent API")]
    if sidecar_for:
        lines.append(_line("Sidecar for ID", sidecar_for))
    lines.append(_line("Proxy ID", proxy_id))
    return lines


def banner_flags_mode(cfg: ProxyConfig) -> list[str]:
    lines = ["==> Consul Connect proxy starting...", _line("Configuration mode", "Flags"),
             _line("Service", cfg.service)]
    for u in cfg.upstreams:
        lines.append(_line("Upstream", f"{u.name} => {u.bind_host}:{u.bind_port}"))
    if cfg.public is None:
        lines.append(_line("Public listener", "Disabled"))
    else:
        p = cfg.public
        lines.append(_line("Public listener", f"{p.bind_host}:{p.bind_port} => {p.backend_host}:{p.backend_port}"))
    return lines
