"""The mesh view of the catalog: /v1/health/connect/:service and /v1/catalog/connect/:service.

Both list the Connect-capable endpoints of a service — its proxies (Kind `connect-proxy` with
`Proxy.DestinationServiceName` = the service) and its Connect-native instances — with the same
query parameters and shapes as /v1/health/service and /v1/catalog/service. This is what a
proxy dialling an upstream follows with blocking queries.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pyconsul.api.app import APIContext, Reply
from pyconsul.api.catalog import service_node
from pyconsul.api.central_config import merged
from pyconsul.api.health import healthy
from pyconsul.api.near import near_shape
from pyconsul.api.params import QueryOptions, node_meta_filters, query_bool
from pyconsul.api.peering import for_peer
from pyconsul.state.watch import WatchSet

Row = dict[str, Any]


def _meta_ok(node: Row, want: dict[str, str]) -> bool:
    meta = node.get("Meta") or {}
    return all(meta.get(k) == v for k, v in want.items())


async def health_connect(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    name = req.match_info["service"]
    tags = req.rel_url.query.getall("tag", []) or None
    passing = query_bool(req, "passing")
    meta = node_meta_filters(req)
    catalog = ctx.store.catalog

    def run(ws: WatchSet | None) -> tuple[int, list[Row]]:
        idx, rows = catalog.check_connect_service_nodes(ws, name, tags)
        if passing:
            rows = [r for r in rows if healthy(r)]
        if meta:
            rows = [r for r in rows if _meta_ok(r["Node"], meta)]
        return idx, rows

    near = near_shape(ctx, req)
    if q.peer:
        return await ctx.blocking_json(q, req, for_peer(q, run), shape=near)
    if query_bool(req, "merge-central-config"):
        return await ctx.blocking_json(q, req, merged(ctx.store, run, "Service"), shape=near)
    return await ctx.blocking_json(q, req, run, shape=near, peek=lambda: catalog.connect_index(name))


async def catalog_connect(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    name = req.match_info["service"]
    tags = req.rel_url.query.getall("tag", [])
    meta = node_meta_filters(req)
    catalog = ctx.store.catalog

    def run(ws: WatchSet | None) -> tuple[int, list[Row]]:
        idx, entries = catalog.check_connect_service_nodes(ws, name, tags or None)
        return idx, [service_node(e["Node"], e["Service"]) for e in entries if not meta or _meta_ok(e["Node"], meta)]

    near = near_shape(ctx, req)
    if q.peer:
        return await ctx.blocking_json(q, req, for_peer(q, run), shape=near)
    return await ctx.blocking_json(q, req, run, shape=near, peek=lambda: catalog.connect_index(name))
