"""/v1/query*: prepared queries — create, list, read, update, delete, execute, explain.

Definitions go through Raft (PreparedQuerySet / PreparedQueryDelete); execute and explain read the
store and run the pure core in `pyconsul/query/`. A missing query is 404 `Query not found`.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from aiohttp import web

from pyconsul.api.app import APIContext, Reply, json_reply, read_json
from pyconsul.api.errors import HTTPError
from pyconsul.api.near import distance_from
from pyconsul.api.params import QueryOptions, query_int
from pyconsul.fsm import commands as c
from pyconsul.query import execute as qexec
from pyconsul.query.definition import DefinitionError, parse_definition
from pyconsul.query.template import TemplateError, render
from pyconsul.state.watch import WatchSet

Row = dict[str, Any]

_rng = random.Random()


def not_found() -> HTTPError:
    return HTTPError(404, "Query not found")


async def _definition(ctx: APIContext, req: web.Request, qid: str) -> Row:
    try:
        row = parse_definition(await read_json(req), qid)
    except DefinitionError as exc:
        raise HTTPError(400, str(exc)) from None
    if row["Session"] and not ctx.store.sessions.exists(row["Session"]):
        raise HTTPError(400, f'invalid session "{row["Session"]}"')
    return row


async def create(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    row = await _definition(ctx, req, str(uuid.uuid4()))
    qid = await ctx.write(c.PreparedQuerySet(query=row, create=True))
    return json_reply({"ID": qid})


async def list_(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    store = ctx.store
    return await ctx.blocking_json(q, req, lambda ws: store.queries.list(ws))


async def get(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    qid = req.match_info["id"]
    store = ctx.store

    def run(ws: WatchSet | None) -> tuple[int, list[Row] | None]:
        idx, row = store.queries.get(ws, qid)
        return idx, [row] if row is not None else None

    reply = await ctx.blocking_json(q, req, run)
    if reply.body == b"null":
        raise not_found()
    return reply


async def update(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    row = await _definition(ctx, req, req.match_info["id"])
    await ctx.write(c.PreparedQuerySet(query=row, create=False))
    return Reply(b"")


async def delete(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    await ctx.write(c.PreparedQueryDelete(query_id=req.match_info["id"]))
    return Reply(b"")


def _resolved(ctx: APIContext, id_or_name: str) -> Row:
    query = ctx.store.queries.resolve(id_or_name)
    if query is None:
        raise not_found()
    try:
        return render(query, id_or_name)
    except TemplateError as exc:
        raise HTTPError(400, str(exc)) from None


def execute_query(ctx: APIContext, query: Row, near: str = "", req: web.Request | None = None,
                  limit: int = 0) -> Row:
    """Run a rendered query against the local catalog (also what DNS answers from)."""
    svc = query["Service"]
    _, entries = ctx.store.catalog.check_service_nodes(None, svc["Service"])
    dist = distance_from(ctx, req, near) if near and req is not None else None
    if dist is None and svc.get("Near") and req is not None:
        dist = distance_from(ctx, req, svc["Near"])
    return qexec.run(query, entries, ctx.agent.config.datacenter, _rng, dist, limit)


async def execute(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    limit = query_int(req, "limit", what="limit")
    await ctx.read_barrier(q)
    query = _resolved(ctx, req.match_info["id"])
    result = execute_query(ctx, query, req.rel_url.query.get("near", ""), req, limit)
    idx = max(ctx.store.max_index("prepared-queries", "nodes", "services", "checks"), 1)
    return Reply(json_reply(result, q=q).body, index=idx)


async def explain(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    await ctx.read_barrier(q)
    query = _resolved(ctx, req.match_info["id"])
    idx = max(ctx.store.queries.index(), 1)
    return Reply(json_reply({"Query": query}, q=q).body, index=idx)
