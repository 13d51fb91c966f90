"""/v1/query*: prepared queries — create, list, read, update, delete, execute, explain.

Definitions go through Raft (PreparedQuerySet / PreparedQueryDelete); execute and explain read the
store and run the pure core in `pyconsul/query/`; with no node here, execute fails over to the
query's other datacenters (query/remote.py). A missing query is 404 `Query not found`.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from aiohttp import web

from pyconsul.api.app import APIContext, Reply, json_reply, read_json
from pyconsul.api.errors import HTTPError
from pyconsul.api.near import source_node
from pyconsul.api.params import QueryOptions, query_int
from pyconsul.api.translate_wan import translate
from pyconsul.fsm import commands as c
from pyconsul.query.definition import DefinitionError, parse_definition
from pyconsul.query.remote import execute_with_failover, health_over
from pyconsul.query.runner import QueryRunner
from pyconsul.query.template import TemplateError
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
    return await ctx.blocking_json(q, req, lambda ws: store.queries.list(ws), acl="queries")


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


def runner(ctx: APIContext) -> QueryRunner:
    store = ctx.store
    return QueryRunner(store.queries, store.catalog, store.coordinates, ctx.agent.node_name,
                       ctx.agent.config.datacenter)


async def execute(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    limit = query_int(req, "limit", what="limit")
    await ctx.read_barrier(q)
    near = req.rel_url.query.get("near", "")
    agent = ctx.agent
    try:
        result = await execute_with_failover(runner(ctx), req.match_info["id"], _rng, agent.datacenters(),
                                             health_over(agent.forward_to_dc, q.token),
                                             source_node(ctx, req, near) if near else "", limit)
    except TemplateError as exc:
        raise HTTPError(400, str(exc)) from None
    if result is None:
        raise not_found()
    if agent.config.translate_wan_addrs:  # a failover answer: the other datacenter's WAN addresses
        result = translate(req.path, result, agent.config.datacenter, result.get("Datacenter", ""))
    idx = max(ctx.store.max_index("prepared-queries", "nodes", "services", "checks"), 1)
    return Reply(json_reply(result, q=q).body, index=idx)


async def explain(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    await ctx.read_barrier(q)
    try:
        query = runner(ctx).rendered(req.match_info["id"])
    except TemplateError as exc:
        raise HTTPError(400, str(exc)) from None
    if query is None:
        raise not_found()
    idx = max(ctx.store.queries.index(), 1)
    return Reply(json_reply({"Query": query}, q=q).body, index=idx)
