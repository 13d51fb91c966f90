"""Consul's /v1/internal/ui/* reads: one blocking query per list view instead of one per row.

`services`: a health summary per service name (instances, nodes, check counts by status).
`nodes` / `node/:node`: each node with its services and checks (Consul's NodeDump shape).
They read the catalog through its public reads only, so they wake on the same topics as
catalog/services, catalog/nodes and health/state/any.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pyconsul.api.app import APIContext, Reply
from pyconsul.api.errors import HTTPError
from pyconsul.api.params import QueryOptions
from pyconsul.state.catalog import CatalogTable
from pyconsul.state.watch import WatchSet

Row = dict[str, Any]
_COUNTED = {"passing": "ChecksPassing", "warning": "ChecksWarning", "critical": "ChecksCritical"}


def _checks_by_node(checks: list[Row]) -> dict[str, list[Row]]:
    out: dict[str, list[Row]] = {}
    for c in checks:
        out.setdefault(c["Node"], []).append(c)
    return out


def service_summaries(catalog: CatalogTable, ws: WatchSet | None, datacenter: str) -> tuple[int, list[Row]]:
    """One row per service name; an instance's node checks count towards it, as in Consul."""
    n_idx, nodes = catalog.nodes(ws)
    s_idx, _ = catalog.services(ws)
    c_idx, checks = catalog.checks_in_state(ws, "any")
    by_node = _checks_by_node(checks)
    summaries: dict[str, Row] = {}
    for node in nodes:
        name = node["Node"]
        node_checks = by_node.get(name, [])
        for svc in catalog.node_services(None, name)[1]:
            s = summaries.get(svc["Service"])
            if s is None:
                s = summaries[svc["Service"]] = {
                    "Name": svc["Service"], "Datacenter": datacenter, "Tags": [], "Nodes": [],
                    "ExternalSources": [], "InstanceCount": 0,
                    "ChecksPassing": 0, "ChecksWarning": 0, "ChecksCritical": 0,
                    "GatewayConfig": {}, "TransparentProxy": False, "ConnectNative": False,
                    "ConnectedWithProxy": False, "ConnectedWithGateway": False,
                }
                if svc.get("Kind"):
                    s["Kind"] = svc["Kind"]
            s["InstanceCount"] += 1
            if name not in s["Nodes"]:
                s["Nodes"].append(name)
            for tag in svc.get("Tags") or []:
                if tag not in s["Tags"]:
                    s["Tags"].append(tag)
            source = (svc.get("Meta") or {}).get("external-source")
            if source and source not in s["ExternalSources"]:
                s["ExternalSources"].append(source)
            for c in node_checks:
                if c["ServiceID"] in ("", svc["ID"]) and c["Status"] in _COUNTED:
                    s[_COUNTED[c["Status"]]] += 1
    for s in summaries.values():
        s["ExternalSources"] = s["ExternalSources"] or None
    return max(n_idx, s_idx, c_idx, 1), [summaries[k] for k in sorted(summaries)]


def _dump(catalog: CatalogTable, node: Row, checks: list[Row]) -> Row:
    return {**node, "Services": catalog.node_services(None, node["Node"])[1], "Checks": checks}


def node_dumps(catalog: CatalogTable, ws: WatchSet | None) -> tuple[int, list[Row]]:
    n_idx, nodes = catalog.nodes(ws)
    s_idx, _ = catalog.services(ws)
    c_idx, checks = catalog.checks_in_state(ws, "any")
    by_node = _checks_by_node(checks)
    return max(n_idx, s_idx, c_idx, 1), [_dump(catalog, n, by_node.get(n["Node"], [])) for n in nodes]


def node_dump(catalog: CatalogTable, ws: WatchSet | None, name: str) -> tuple[int, Row | None]:
    n_idx, node = catalog.get_node(ws, name)
    s_idx, _ = catalog.node_services(ws, name)
    c_idx, checks = catalog.node_checks(ws, name)
    return max(n_idx, s_idx, c_idx, 1), (_dump(catalog, node, checks) if node is not None else None)


async def services(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    catalog, dc = ctx.store.catalog, ctx.agent.config.datacenter
    return await ctx.blocking_json(q, req, lambda ws: service_summaries(catalog, ws, dc), acl="ui_services")


async def nodes(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    catalog = ctx.store.catalog
    return await ctx.blocking_json(q, req, lambda ws: node_dumps(catalog, ws), acl="ui_nodes")


async def node(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    name, catalog = req.match_info["node"], ctx.store.catalog
    reply = await ctx.blocking_json(q, req, lambda ws: node_dump(catalog, ws, name), filterable=False, acl="ui_node")
    if reply.body == b"null":
        raise HTTPError(404, "")  # Consul answers an unknown node with an empty 404
    return reply
