"""/v1/catalog/*: register, deregister and the catalog reads."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from aiohttp import web

from pyconsul.api.acl_names import node_changes, require_check_write, require_name
from pyconsul.api.app import APIContext, Reply, apply_filter, json_reply, read_json
from pyconsul.api.central_config import merged
from pyconsul.api.errors import HTTPError
from pyconsul.api.near import near_shape
from pyconsul.api.params import QueryOptions, node_meta_filters, query_bool
from pyconsul.api.peering import for_peer
from pyconsul.api.validate import (
    DEREGISTER_KEYS,
    REGISTER_KEYS,
    canon_keys,
    check_from_request,
    service_from_request,
)
from pyconsul.fsm import commands as c
from pyconsul.state.watch import WatchSet
from pyconsul.telemetry.http import ReadCounters

Row = dict[str, Any]


def _meta_ok(node: Row, want: dict[str, str]) -> bool:
    meta = node.get("Meta") or {}
    return all(meta.get(k) == v for k, v in want.items())


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return {list: "array", dict: "object"}.get(type(value), "string")


def _string_field(body: Row, field: str, struct: str) -> str:
    """A string field of the body ("" when absent); another JSON type is Go's decode error."""
    value = body.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise HTTPError(400, f"Request decode failed: json: cannot unmarshal {_json_kind(value)} into Go struct "
                             f"field {struct}.{field} of type string")
    return value


def _body_dc(ctx: APIContext, body: Row, struct: str) -> None:
    """A request body's Datacenter routes the write as ?dc= does (Consul takes it when set)."""
    dc = _string_field(body, "Datacenter", struct)
    if dc and dc != ctx.agent.config.datacenter:
        raise HTTPError(500, "No path to datacenter")


async def register(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    body = await read_json(req)
    if not isinstance(body, dict):
        raise HTTPError(400, "Request decode failed: expected a JSON object")
    body = canon_keys(body, REGISTER_KEYS)
    node = body.get("Node")
    if not isinstance(node, str) or not node:
        raise HTTPError(400, "Must provide node")
    address = body.get("Address")
    if not body.get("SkipNodeUpdate") and (not isinstance(address, str) or not address):
        raise HTTPError(400, "Must provide address if SkipNodeUpdate is not set")
    node_id = body.get("ID") or ""
    if node_id:
        try:
            node_id = str(uuid.UUID(str(node_id)))
        except ValueError:
            raise HTTPError(400, f"Bad node ID: {node_id!r} is not a valid UUID") from None
    for field in ("TaggedAddresses", "NodeMeta"):
        val = body.get(field)
        if val is not None and not (isinstance(val, dict) and all(isinstance(v, str) for v in val.values())):
            raise HTTPError(400, f"Request decode failed: json: cannot unmarshal into Go struct field "
                                 f"RegisterRequest.{field} of type map[string]string")
    _body_dc(ctx, body, "RegisterRequest")
    node_row = {
        "ID": node_id,
        "Node": node,
        "Address": address or "",
        "Datacenter": body.get("Datacenter") or ctx.agent.config.datacenter,
        "TaggedAddresses": body.get("TaggedAddresses") or {},
        "Meta": body.get("NodeMeta") or {},
    }
    service = None
    if body.get("Service") is not None:
        service = service_from_request(body["Service"])
        if not service["Service"]:
            raise HTTPError(400, "Must provide service name with ID" if service.get("ID") else "Must provide service name")
    checks = []
    raw_checks = list(body.get("Checks") or [])
    if body.get("Check"):
        raw_checks.insert(0, body["Check"])
    for raw in raw_checks:
        chk = check_from_request(raw)
        if chk.get("Node") and chk["Node"] != node:
            raise HTTPError(400, "Check node must match the registration node")
        checks.append(chk)
    _vet_register(ctx, req, node_row, service, checks, bool(body.get("SkipNodeUpdate")))
    await ctx.write(c.Register(node=node_row, service=service, checks=checks,
                               skip_node_update=bool(body.get("SkipNodeUpdate"))))
    return json_reply(True)


async def deregister(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    body = await read_json(req)
    if not isinstance(body, dict):
        raise HTTPError(400, "Request decode failed: expected a JSON object")
    body = canon_keys(body, DEREGISTER_KEYS)
    _body_dc(ctx, body, "DeregisterRequest")
    node = body.get("Node")
    if not isinstance(node, str) or not node:
        raise HTTPError(400, "Must provide node")
    service_id = _string_field(body, "ServiceID", "DeregisterRequest")
    check_id = _string_field(body, "CheckID", "DeregisterRequest")
    _vet_deregister(ctx, req, node, service_id, check_id)
    await ctx.write(c.Deregister(node=node, service_id=service_id, check_id=check_id))
    return json_reply(True)


def _vet_register(ctx: APIContext, req: web.Request, node_row: Row, service: Row | None, checks: list[Row],
                  skip_node_update: bool) -> None:
    """The names a registration writes: node:write when it writes the node, service:write on the
    service, and each check's service (or node)."""
    catalog = ctx.store.catalog
    name = node_row["Node"]
    existing = catalog.nodes_by_name.get(name)
    if node_changes(existing, node_row) and not (skip_node_update and existing is not None):
        require_name(req, "node", "write", name)
    if service is not None:
        require_name(req, "service", "write", service["Service"])
    known = catalog.services_by_node.get(name, {})
    for chk in checks:
        sid = chk.get("ServiceID") or ""
        svc = service if service is not None and sid == service.get("ID") else known.get(sid)
        require_check_write(req, chk, (svc or {}).get("Service", ""), name)


def _vet_deregister(ctx: APIContext, req: web.Request, node: str, service_id: str, check_id: str) -> None:
    """A service's deregistration needs service:write on it, a check's its service's (or the
    node's), the node's node:write; something already gone needs nothing."""
    catalog = ctx.store.catalog
    if service_id:
        svc = catalog.services_by_node.get(node, {}).get(service_id)
        if svc is not None:
            require_name(req, "service", "write", svc["Service"])
    elif check_id:
        chk = catalog.checks_by_node.get(node, {}).get(check_id)
        if chk is not None:
            require_check_write(req, chk, chk.get("ServiceName", ""), node)
    else:
        require_name(req, "node", "write", node)


async def datacenters(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    return json_reply(ctx.agent.datacenters())


async def nodes(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    meta = node_meta_filters(req)
    store = ctx.store

    def run(ws: WatchSet | None) -> tuple[int, list[Row]]:
        idx, rows = store.catalog.nodes(ws)
        if meta:
            rows = [r for r in rows if _meta_ok(r, meta)]
        return idx, rows

    return await ctx.blocking_json(q, req, for_peer(q, run), shape=near_shape(ctx, req), acl="nodes")


async def services(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    meta = node_meta_filters(req)
    store = ctx.store

    def run(ws: WatchSet | None) -> tuple[int, Any]:
        if not meta and not q.filter:
            return store.catalog.services(ws)
        # With node-meta or a filter, only instances on matching nodes count.
        idx, all_services = store.catalog.services(ws)
        out: dict[str, list[str]] = {}
        for name in all_services:
            for node, svc in store.catalog.service_instances_rows(name):
                if meta and not _meta_ok(node, meta):
                    continue
                if q.filter:
                    from pyconsul.api.app import apply_filter

                    if not apply_filter(q.filter, [service_node(node, svc)], "/v1/catalog/service"):
                        continue
                tags = out.setdefault(name, [])
                tags.extend(t for t in svc["Tags"] if t not in tags)
        return idx, out

    return await ctx.blocking_json(q, req, for_peer(q, run), filterable=False, acl="service_names")


def service_node(node: Row, svc: Row) -> Row:
    """Consul's ServiceNode JSON (catalog/service/:name element)."""
    return {
        "ID": node["ID"],
        "Node": node["Node"],
        "Address": node["Address"],
        "Datacenter": node["Datacenter"],
        "TaggedAddresses": node["TaggedAddresses"] or None,
        "NodeMeta": node["Meta"] or None,
        "ServiceKind": svc.get("Kind", ""),
        "ServiceID": svc["ID"],
        "ServiceName": svc["Service"],
        "ServiceTags": svc["Tags"],
        "ServiceAddress": svc["Address"],
        "ServiceTaggedAddresses": svc.get("TaggedAddresses"),
        "ServiceWeights": svc["Weights"],
        "ServiceMeta": svc["Meta"],
        "ServicePort": svc["Port"],
        "ServiceSocketPath": svc.get("SocketPath", ""),
        "ServiceEnableTagOverride": svc["EnableTagOverride"],
        "ServiceProxy": svc["Proxy"],
        "ServiceConnect": svc["Connect"],
        **({"ServiceLocality": svc["Locality"]} if svc.get("Locality") else {}),
        "CreateIndex": svc["CreateIndex"],
        "ModifyIndex": svc["ModifyIndex"],
    }


async def service(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    name = req.match_info["service"]
    tags = req.rel_url.query.getall("tag", [])
    meta = node_meta_filters(req)
    store = ctx.store

    def run(ws: WatchSet | None) -> tuple[int, list[Row]]:
        if ws is not None:
            ws.add(("svc", name))
        out = []
        for node, svc in store.catalog.service_instances_rows(name):
            if tags and not all(t in svc["Tags"] for t in tags):
                continue
            if meta and not _meta_ok(node, meta):
                continue
            out.append(service_node(node, svc))
        return store.catalog.service_index(name), out

    near = near_shape(ctx, req)
    counts = ReadCounters("catalog", name, tags)
    if q.peer:
        return await ctx.blocking_json(q, req, for_peer(q, run), shape=near, counts=counts, acl="service_instances")
    if query_bool(req, "merge-central-config"):
        return await ctx.blocking_json(q, req, merged(store, run, ""), shape=near, counts=counts, acl="service_instances")
    return await ctx.blocking_json(q, req, run, shape=near, peek=lambda: store.catalog.service_index(name),
                                   counts=counts, acl="service_instances")


async def _node_reply(
    ctx: APIContext, req: web.Request, q: QueryOptions, services_shape: Callable[[list[Row]], Any]
) -> Reply:
    name = req.match_info["node"]
    store = ctx.store

    def run(ws: WatchSet | None) -> tuple[int, Any]:
        _, row = store.catalog.get_node(ws, name)
        idx, svcs = store.catalog.node_services(ws, name)
        if row is None:
            return idx, None
        return idx, {"Node": row, "Services": services_shape(svcs)}

    def only_matching(value: Any) -> Any:
        # Consul filters the node's services (NodeService selectors), never the node itself.
        if value is None or not q.filter:
            return value
        return {**value, "Services": apply_filter(q.filter, value["Services"], req.path)}

    if q.filter:
        apply_filter(q.filter, [], req.path)  # a bad expression is a 400 even for a missing node
    return await ctx.blocking_json(q, req, for_peer(q, run, lambda _: None), shape=only_matching,
                                   filterable=False, acl="node_services")


async def node(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    """catalog/node/:node — services keyed by ID."""
    return await _node_reply(ctx, req, q, lambda svcs: {s["ID"]: s for s in svcs})


async def node_services(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    """catalog/node-services/:node — services as a list."""
    return await _node_reply(ctx, req, q, lambda svcs: svcs)
