"""Which services a catalog instance serves over Connect (the mesh view of the catalog).

A `connect-proxy` instance fronts its `Proxy.DestinationServiceName`; a Connect-native instance
(`Connect.Native`) serves its own name. `/v1/health/connect/:service`, `/v1/catalog/connect/:service`
and `<service>.connect.consul` list exactly the instances whose targets name the service.
"""

from __future__ import annotations

from typing import Any

Row = dict[str, Any]

CONNECT_PROXY = "connect-proxy"
INGRESS_GATEWAY = "ingress-gateway"
TERMINATING_GATEWAY = "terminating-gateway"


def connect_table(name: str) -> str:
    """The index table of one service's Connect answers (its proxies and native instances)."""
    return "connect." + name


def connect_targets(svc: Row) -> tuple[str, ...]:
    """The service names this instance answers for in the mesh (usually none or one)."""
    if svc.get("Kind") == CONNECT_PROXY:
        dest = (svc.get("Proxy") or {}).get("DestinationServiceName") or ""
        return (dest,) if dest else ()
    if (svc.get("Connect") or {}).get("Native"):
        return (svc.get("Service") or "",)
    return ()
