"""What a token needs to read or write each kind of config entry (pure): Consul's CanRead/CanWrite.

- service-defaults: service:read / service:write on the entry's name.
- service-resolver, service-router, service-splitter (the discovery chain): service:read on the
  name to read; to write, service:write on the name and service:read on every other service the
  entry sends traffic to (a resolver's redirect and failover targets, a router's destinations, a
  splitter's splits): read is enough to point your own traffic at a service.
- service-intentions: intentions:read / intentions:write on the destination (the entry's name).
- proxy-defaults: anyone may read; writing needs mesh:write (operator:write without a mesh rule).
- ingress-gateway, terminating-gateway: service:read on the gateway's name to read; mesh:write
  to write.
A delete is checked on the kind and name alone, as Consul checks the blank entry it makes.
"""

from __future__ import annotations

from typing import Any

from pyconsul.entries.kinds import (
    INGRESS_GATEWAY,
    PROXY_DEFAULTS,
    SERVICE_INTENTIONS,
    SERVICE_RESOLVER,
    SERVICE_ROUTER,
    SERVICE_SPLITTER,
    TERMINATING_GATEWAY,
)

Row = dict[str, Any]
Check = tuple[str, str, str]  # (resource, access, name); name "" for the unlabeled mesh

CHAIN_KINDS = (SERVICE_RESOLVER, SERVICE_ROUTER, SERVICE_SPLITTER)
GATEWAY_KINDS = (INGRESS_GATEWAY, TERMINATING_GATEWAY)


def _service(value: Any) -> str:
    return str((value or {}).get("Service") or "") if isinstance(value, dict) else ""


def related_services(entry: Row) -> list[str]:
    """The other services a discovery-chain entry routes to (Consul's ListRelatedServices);
    an empty Service means the entry's own."""
    kind, name = entry.get("Kind"), str(entry.get("Name") or "")
    found: set[str] = set()
    if kind == SERVICE_RESOLVER:
        if entry.get("Redirect"):
            found.add(_service(entry["Redirect"]) or name)
        for failover in (entry.get("Failover") or {}).values():
            targets = (failover or {}).get("Targets") or []
            if not targets:
                found.add(_service(failover) or name)
            for target in targets:
                if not (target or {}).get("Peer"):
                    found.add(_service(target) or name)
    elif kind == SERVICE_ROUTER:
        for route in entry.get("Routes") or []:
            found.add(_service((route or {}).get("Destination")) or name)
    elif kind == SERVICE_SPLITTER:
        for split in entry.get("Splits") or []:
            found.add(_service(split) or name)
    found.discard(name)
    return sorted(found)


def read_checks(entry: Row) -> list[Check]:
    kind, name = entry.get("Kind"), str(entry.get("Name") or "")
    if kind == PROXY_DEFAULTS:
        return []
    if kind == SERVICE_INTENTIONS:
        return [("intentions", "read", name)]
    return [("service", "read", name)]  # service-defaults, the chain kinds, gateways


def write_checks(entry: Row) -> list[Check]:
    kind, name = entry.get("Kind"), str(entry.get("Name") or "")
    if kind in (PROXY_DEFAULTS, *GATEWAY_KINDS):
        return [("mesh", "write", "")]
    if kind == SERVICE_INTENTIONS:
        return [("intentions", "write", name)]
    checks: list[Check] = [("service", "write", name)]
    if kind in CHAIN_KINDS:
        checks += [("service", "read", other) for other in related_services(entry)]
    return checks
