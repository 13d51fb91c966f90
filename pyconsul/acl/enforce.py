"""Applying an authorizer to one request and to the rows of a list reply.

`require` raises PermissionDenied (403 with Consul's text) when the identity lacks the access;
the `filter_*` functions keep only the rows the identity may read and say whether any were
dropped, which the HTTP layer turns into `X-Consul-Results-Filtered-By-ACLs: true` — only for a
non-anonymous token, so an anonymous caller cannot learn that hidden rows exist.

Row shapes are Consul's JSON (catalog nodes and services, health entries, checks, KV entries,
sessions, events, members). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pyconsul.acl.errors import PermissionDenied
from pyconsul.acl.resolver import Identity

Row = dict[str, Any]
T = TypeVar("T")

FILTERED_HEADER = "X-Consul-Results-Filtered-By-ACLs"


def require(identity: Identity, resource: str, access: str, name: str | None = None) -> None:
    if not identity.authorizer.allowed(resource, access, name or ""):
        raise PermissionDenied(identity.accessor_id, resource, access, name)


def require_key_write_prefix(identity: Identity, prefix: str) -> None:
    """Delete-tree: write on every key below `prefix`."""
    if not identity.authorizer.key_write_prefix(prefix):
        raise PermissionDenied(identity.accessor_id, "key", "write", prefix)


def keep(identity: Identity, rows: list[T], allowed: Callable[[T], bool]) -> tuple[list[T], bool]:
    """(the rows `allowed` keeps, whether any were dropped)."""
    kept = [row for row in rows if allowed(row)]
    return kept, len(kept) != len(rows)


def _can(identity: Identity, resource: str, name: str) -> bool:
    return identity.authorizer.allowed(resource, "read", name)


def filter_nodes(identity: Identity, rows: list[Row]) -> tuple[list[Row], bool]:
    return keep(identity, rows, lambda r: _can(identity, "node", r.get("Node", "")))


def filter_service_names(identity: Identity, services: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """`/v1/catalog/services`: {name: tags}."""
    kept = {name: tags for name, tags in services.items() if _can(identity, "service", name)}
    return kept, len(kept) != len(services)


def filter_service_instances(identity: Identity, rows: list[Row]) -> tuple[list[Row], bool]:
    """Catalog service rows: both the node and the service must be readable."""
    return keep(identity, rows, lambda r: _can(identity, "node", r.get("Node", ""))
                and _can(identity, "service", r.get("ServiceName", "")))


def filter_health_entries(identity: Identity, rows: list[Row]) -> tuple[list[Row], bool]:
    """`/v1/health/service/:s` entries {Node, Service, Checks}: node and service readable; checks
    of other services the token cannot read are dropped from the entry."""
    kept: list[Row] = []
    dropped = False
    for entry in rows:
        node = (entry.get("Node") or {}).get("Node", "")
        service = (entry.get("Service") or {}).get("Service", "")
        if not (_can(identity, "node", node) and _can(identity, "service", service)):
            dropped = True
            continue
        checks, some = filter_checks(identity, list(entry.get("Checks") or []))
        dropped = dropped or some
        kept.append({**entry, "Checks": checks})
    return kept, dropped


def filter_checks(identity: Identity, rows: list[Row]) -> tuple[list[Row], bool]:
    """A node check needs node:read; a service check service:read on its service."""
    def allowed(r: Row) -> bool:
        if r.get("ServiceName"):
            return _can(identity, "service", r["ServiceName"])
        return _can(identity, "node", r.get("Node", ""))

    return keep(identity, rows, allowed)


def filter_keys(identity: Identity, keys: list[str]) -> tuple[list[str], bool]:
    return keep(identity, keys, lambda k: _can(identity, "key", k))


def filter_kv_entries(identity: Identity, rows: list[Row]) -> tuple[list[Row], bool]:
    return keep(identity, rows, lambda r: _can(identity, "key", r.get("Key", "")))


def filter_sessions(identity: Identity, rows: list[Row]) -> tuple[list[Row], bool]:
    return keep(identity, rows, lambda r: _can(identity, "session", r.get("Node", "")))


def filter_events(identity: Identity, rows: list[Row]) -> tuple[list[Row], bool]:
    return keep(identity, rows, lambda r: _can(identity, "event", r.get("Name", "")))


def filter_members(identity: Identity, rows: list[Row]) -> tuple[list[Row], bool]:
    return keep(identity, rows, lambda r: _can(identity, "node", r.get("Name", "")))


def filtered_headers(identity: Identity, dropped: bool) -> dict[str, str]:
    """The header Consul sends when rows were dropped — never to the anonymous token."""
    return {FILTERED_HEADER: "true"} if dropped and not identity.anonymous else {}
