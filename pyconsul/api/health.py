"""/v1/health/*: node, checks/:service, service/:service, state/:state."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pyconsul.api.app import APIContext, Reply
from pyconsul.api.central_config import merged
from pyconsul.api.errors import HTTPError
from pyconsul.api.near import near_shape
from pyconsul.api.params import QueryOptions, node_meta_filters, query_bool
from pyconsul.api.peering import for_peer
from pyconsul.state.catalog import CHECK_STATES
from pyconsul.state.watch import WatchSet
from pyconsul.telemetry.http import ReadCounters

Row = dict[str, Any]


async def node(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    name = req.match_info["node"]
    store = ctx.store
    return await ctx.blocking_json(q, req, for_peer(q, lambda ws: store.catalog.node_checks(ws, name)), acl="checks")


async def service_checks(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    name = req.match_info["service"]
    store = ctx.store
    return await ctx.blocking_json(q, req, for_peer(q, lambda ws: store.catalog.service_checks(ws, name)),
                                   shape=near_shape(ctx, req), acl="checks")


def healthy(entry: Row) -> bool:
    return all(c["Status"] == "passing" for c in entry["Checks"])


async def service(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    name = req.match_info["service"]
    tags = req.rel_url.query.getall("tag", []) or None
    passing = query_bool(req, "passing")
    meta = node_meta_filters(req)
    store = ctx.store

    def run(ws: WatchSet | None) -> tuple[int, list[Row]]:
        idx, rows = store.catalog.check_service_nodes(ws, name, tags)
        if passing:
            rows = [r for r in rows if healthy(r)]
        if meta:
            rows = [r for r in rows if all((r["Node"]["Meta"] or {}).get(k) == v for k, v in meta.items())]
        return idx, rows

    near = near_shape(ctx, req)
    counts = ReadCounters("health", name, tags)
    if q.peer:
        return await ctx.blocking_json(q, req, for_peer(q, run), shape=near, counts=counts, acl="health_entries")
    if query_bool(req, "merge-central-config"):
        return await ctx.blocking_json(q, req, merged(store, run, "Service"), shape=near, counts=counts, acl="health_entries")
    return await ctx.blocking_json(q, req, run, shape=near, peek=lambda: store.catalog.service_index(name),
                                   counts=counts, acl="health_entries")


async def state(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    st = req.match_info["state"]
    if st != "any" and st not in CHECK_STATES:
        raise HTTPError(400, f"Invalid state: {st}")
    store = ctx.store
    return await ctx.blocking_json(q, req, for_peer(q, lambda ws: store.catalog.checks_in_state(ws, st)),
                                   shape=near_shape(ctx, req), acl="checks")
