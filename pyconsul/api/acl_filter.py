"""Row-level ACL filtering of list replies: one filter per list kind, applied through one call.

A list handler passes its reply through `filter_reply(req, kind, value)` (or names the kind to
`APIContext.blocking_json`, which does it on every wake of a blocking query, before the reply is
encoded). With ACLs off, or on a route that needs no token, the request carries no identity and
the value passes unchanged. When rows were dropped the request is marked, and the HTTP wrapper
adds `X-Consul-Results-Filtered-By-ACLs: true` — never for the anonymous token
(`pyconsul.acl.enforce.filtered_headers`).

Kinds and the rows they keep (Consul's rules):
- nodes, coordinates, members: node:read on the node (`Node`, members' `Name`);
- service_names: `/v1/catalog/services` {name: tags}, service:read on the name;
- service_instances: catalog service rows, node:read and service:read;
- node_services: `{Node, Services}` of one node: null without node:read, services filtered;
- health_entries: health service entries (their checks filtered too);
- checks: health checks (service checks need service:read, node checks node:read);
- agent_checks / agent_services: the agent's own maps by ID;
- kv_entries / keys: key:read on each key;
- sessions: session:read on the session's node; events: event:read on the name;
- queries: query:read on the query's name (an unnamed query only for acl:write, as Consul);
- ui_services: service summaries; ui_nodes / ui_node: node dumps with their services and checks;
- config_entries: each entry by its kind's read rule (`pyconsul.entries.access`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from pyconsul.acl import enforce
from pyconsul.acl.resolver import Identity

Row = dict[str, Any]
IDENTITY_KEY = "acl.identity"  # set by the gate (api.acl_gate) for every checked request
FILTERED_KEY = "acl.filtered"  # set here when a reply lost rows


def _can(identity: Identity, resource: str, name: str) -> bool:
    return identity.authorizer.allowed(resource, "read", name)


def _node_services(identity: Identity, value: Any) -> tuple[Any, bool]:
    if value is None:
        return None, False
    if not _can(identity, "node", (value.get("Node") or {}).get("Node", "")):
        return None, True
    services = value.get("Services")
    if isinstance(services, dict):
        kept = {sid: s for sid, s in services.items() if _can(identity, "service", s.get("Service", ""))}
        return {**value, "Services": kept}, len(kept) != len(services)
    rows, dropped = enforce.keep(identity, list(services or []), lambda s: _can(identity, "service", s.get("Service", "")))
    return {**value, "Services": rows}, dropped


def _agent_map(allowed: Callable[[Identity, Row], bool]) -> Callable[[Identity, Any], tuple[Any, bool]]:
    def run(identity: Identity, value: Any) -> tuple[Any, bool]:
        kept = {k: row for k, row in value.items() if allowed(identity, row)}
        return kept, len(kept) != len(value)

    return run


def _agent_check_allowed(identity: Identity, row: Row) -> bool:
    if row.get("ServiceName"):
        return _can(identity, "service", row["ServiceName"])
    return _can(identity, "node", row.get("Node", ""))


REDACTED_TOKEN = "<hidden>"  # Consul's redactedToken


def _redact_tokens(identity: Identity, rows: list[Row]) -> list[Row]:
    """A prepared query's Token is shown only to acl:write, as Consul redacts it."""
    if identity.authorizer.allowed("acl", "write"):
        return rows
    return [{**row, "Token": REDACTED_TOKEN} if row.get("Token") else row for row in rows]


def query_readable(identity: Identity, row: Row) -> bool:
    """Consul's prepared-query read rule: query:read on a named query's name (a template's
    prefix); an unnamed query only for acl:write."""
    name = row.get("Name") or ""
    if not name:
        return identity.authorizer.allowed("acl", "write")
    return _can(identity, "query", name)


def _queries(identity: Identity, rows: Any) -> tuple[Any, bool]:
    kept, dropped = enforce.keep(identity, list(rows), lambda row: query_readable(identity, row))
    return _redact_tokens(identity, kept), dropped


def redact_query(req: web.Request, query: Row) -> Row:
    """One prepared query (explain's rendered query) with its Token redacted for this request."""
    identity = identity_of(req)
    return query if identity is None else _redact_tokens(identity, [query])[0]


def _ui_node(identity: Identity, row: Row) -> tuple[Row | None, bool]:
    if not _can(identity, "node", row.get("Node", "")):
        return None, True
    services, some = enforce.keep(identity, list(row.get("Services") or []),
                                  lambda s: _can(identity, "service", s.get("Service", "")))
    checks, more = enforce.filter_checks(identity, list(row.get("Checks") or []))
    return {**row, "Services": services, "Checks": checks}, some or more


def _ui_nodes(identity: Identity, rows: Any) -> tuple[Any, bool]:
    out: list[Row] = []
    dropped = False
    for row in rows:
        kept, some = _ui_node(identity, row)
        dropped = dropped or some
        if kept is not None:
            out.append(kept)
    return out, dropped


def _ui_one_node(identity: Identity, value: Any) -> tuple[Any, bool]:
    return (None, False) if value is None else _ui_node(identity, value)


def _ui_services(identity: Identity, rows: Any) -> tuple[Any, bool]:
    def allowed(row: Row) -> bool:
        return _can(identity, "service", row.get("Name", ""))

    kept, dropped = enforce.keep(identity, list(rows), allowed)
    # a summary names the nodes its instances run on: only the readable ones
    out = []
    for row in kept:
        nodes = [n for n in row.get("Nodes") or [] if _can(identity, "node", n)]
        dropped = dropped or len(nodes) != len(row.get("Nodes") or [])
        out.append({**row, "Nodes": nodes})
    return out, dropped


def _config_entries(identity: Identity, value: Any) -> tuple[Any, bool]:
    from pyconsul.entries.access import read_checks

    return enforce.keep(identity, list(value), lambda e: all(
        identity.authorizer.allowed(res, acc, name) for res, acc, name in read_checks(e)))


FILTERS: dict[str, Callable[[Identity, Any], tuple[Any, bool]]] = {
    "nodes": lambda i, v: enforce.filter_nodes(i, list(v)),
    "coordinates": lambda i, v: enforce.filter_nodes(i, list(v)),
    "members": lambda i, v: enforce.filter_members(i, list(v)),
    "service_names": enforce.filter_service_names,
    "service_instances": lambda i, v: enforce.filter_service_instances(i, list(v)),
    "node_services": _node_services,
    "health_entries": lambda i, v: enforce.filter_health_entries(i, list(v)),
    "checks": lambda i, v: enforce.filter_checks(i, list(v)),
    "agent_checks": _agent_map(_agent_check_allowed),
    "agent_services": _agent_map(lambda i, row: _can(i, "service", row.get("Service", ""))),
    "kv_entries": lambda i, v: enforce.filter_kv_entries(i, list(v)),
    "keys": lambda i, v: enforce.filter_keys(i, list(v)),
    "sessions": lambda i, v: enforce.filter_sessions(i, list(v)),
    "events": lambda i, v: enforce.filter_events(i, list(v)),
    "queries": _queries,
    "query_tokens": lambda i, v: (_redact_tokens(i, list(v)), False),
    "ui_services": _ui_services,
    "ui_nodes": _ui_nodes,
    "ui_node": _ui_one_node,
    "config_entries": _config_entries,
}


def identity_of(req: web.Request) -> Identity | None:
    """The identity the gate resolved for this request (None: ACLs off or no token needed)."""
    identity = req.get(IDENTITY_KEY)
    return identity if isinstance(identity, Identity) else None


def filter_reply(req: web.Request, kind: str, value: Any) -> Any:
    """`value` with the rows the request's token may not read removed (see the module doc)."""
    identity = identity_of(req)
    if identity is None or value is None:
        return value
    kept, dropped = FILTERS[kind](identity, value)
    if dropped:
        req[FILTERED_KEY] = True
    return kept


def filtered_headers(req: web.Request) -> dict[str, str]:
    """The header for a reply that lost rows (none for the anonymous token)."""
    identity = identity_of(req)
    if identity is None or not req.get(FILTERED_KEY):
        return {}
    return enforce.filtered_headers(identity, True)
