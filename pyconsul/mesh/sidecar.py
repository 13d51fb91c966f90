"""`connect { sidecar_service {} }`: the proxy registration a service definition asks for (pure).

Consul's defaults (agent/sidecar_service.go), for parent `web` (ID `web`, port 8080):
- ID `<parent ID>-sidecar-proxy`, name `<parent name>-sidecar-proxy`, Kind `connect-proxy`;
  tags, meta and address from the parent when the sidecar sets none.
- Proxy: DestinationServiceName/ID = the parent's name/ID; LocalServiceAddress `127.0.0.1` and
  LocalServicePort = the parent's port when unset (a parent socket path becomes
  LocalServiceSocketPath); upstreams as given.
- Port: as given; else the port the same sidecar already had (re-registering and reloading keep
  it); else the lowest port in [sidecar_min_port, sidecar_max_port] no local service uses.
- Checks: as given; else a TCP check on the public listener ("Connect Sidecar Listening", 10s)
  and an alias of the parent ("Connect Sidecar Aliasing <parent name>").
The parent keeps its Connect block without SidecarService; the agent removes the sidecar with it.
"""

from __future__ import annotations

import copy
from collections.abc import Set
from dataclasses import dataclass
from typing import Any

from pyconsul.api.validate import service_from_request

Row = dict[str, Any]

SIDECAR_SUFFIX = "-sidecar-proxy"
LISTENING_CHECK = "Connect Sidecar Listening"
CHECK_INTERVAL = "10s"


class SidecarError(Exception):
    """A sidecar the agent cannot register (Consul's texts; the API prefixes `Invalid SidecarService: `)."""


@dataclass(frozen=True)
class Sidecar:
    parent: Row  # the parent without Connect.SidecarService
    service: Row  # the proxy's registration
    checks: list[Row]  # its checks, raw (the caller gives them ids and validates them)


def sidecar_id(parent_id: str) -> str:
    return parent_id + SIDECAR_SUFFIX


def allocate_port(low: int, high: int, in_use: Set[int]) -> int:
    if low <= 0 or high <= 0:
        raise SidecarError("no port provided for sidecar_service and auto-assignment disabled in config")
    for port in range(low, high + 1):
        if port not in in_use:
            return port
    raise SidecarError(f"no port provided for sidecar_service and none left in the configured range [{low}, {high}]")


def expand_sidecar(parent: Row, port_range: tuple[int, int], ports_in_use: Set[int],
                   previous: Row | None) -> Sidecar | None:
    """The sidecar `parent` (a decoded service definition) asks for, or None if it asks for none.

    `ports_in_use` are the ports of the agent's other local services; `previous` the sidecar
    already registered under this ID, if any.
    """
    connect = parent.get("Connect") or {}
    raw = connect.get("SidecarService")
    if raw is None:
        return None
    parent = copy.deepcopy(parent)
    parent["Connect"] = {k: v for k, v in connect.items() if k != "SidecarService"}
    side = service_from_request(copy.deepcopy(raw), "structs.ServiceDefinition")
    raw_checks: list[Row] = []
    if side.get("Check"):
        raw_checks.append(side["Check"])
    raw_checks.extend(side.get("Checks") or [])
    for key in ("Check", "Checks", "Token", "Connect"):
        side.pop(key, None)
    side["Kind"] = "connect-proxy"
    side["ID"] = sidecar_id(parent["ID"])
    if not side.get("Service"):
        side["Service"] = parent["Service"] + SIDECAR_SUFFIX
    if not side.get("Tags") and parent.get("Tags"):
        side["Tags"] = list(parent["Tags"])
    if not side.get("Meta") and parent.get("Meta"):
        side["Meta"] = dict(parent["Meta"])
    if not side.get("Address") and parent.get("Address"):
        side["Address"] = parent["Address"]
    proxy = dict(side.get("Proxy") or {"Mode": "", "MeshGateway": {}, "Expose": {}})
    proxy.setdefault("DestinationServiceName", parent["Service"])
    proxy.setdefault("DestinationServiceID", parent["ID"])
    if parent.get("SocketPath") and not proxy.get("LocalServiceSocketPath"):
        proxy["LocalServiceSocketPath"] = parent["SocketPath"]
    else:
        proxy.setdefault("LocalServiceAddress", "127.0.0.1")
        if not proxy.get("LocalServicePort"):
            proxy["LocalServicePort"] = int(parent.get("Port") or 0)
    side["Proxy"] = _ordered(proxy)
    if not side.get("Port"):
        if previous is not None and previous.get("Port"):
            side["Port"] = int(previous["Port"])
        else:
            side["Port"] = allocate_port(port_range[0], port_range[1], ports_in_use)
    if not raw_checks:
        host = side.get("Address") or proxy.get("LocalServiceAddress") or "127.0.0.1"
        raw_checks = [
            {"Name": LISTENING_CHECK, "TCP": f"{host}:{side['Port']}", "Interval": CHECK_INTERVAL},
            {"Name": f"Connect Sidecar Aliasing {parent['Service']}", "AliasService": parent["ID"]},
        ]
    return Sidecar(parent, side, raw_checks)


_PROXY_ORDER = ("DestinationServiceName", "DestinationServiceID", "LocalServiceAddress", "LocalServicePort",
                "LocalServiceSocketPath", "Mode", "Config", "Upstreams", "MeshGateway", "Expose")


def _ordered(proxy: Row) -> Row:
    """Consul's field order, so the JSON reads as Consul's does."""
    out = {k: proxy[k] for k in _PROXY_ORDER if k in proxy}
    out.update({k: v for k, v in proxy.items() if k not in out})
    return out


def ports_in_use(services: dict[str, Row], excluding: str) -> set[int]:
    """The ports of the agent's local services other than `excluding` (the sidecar being placed)."""
    return {int(s.get("Port") or 0) for sid, s in services.items() if sid != excluding} - {0}
