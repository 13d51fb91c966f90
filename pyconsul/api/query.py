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

from pyconsul.acl import enforce
from pyconsul.acl.resolver import ACLNotFound
from pyconsul.api.acl_filter import REDACTED_TOKEN, identity_of, query_readable, redact_query
from pyconsul.api.acl_names import require_name
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


# ACLs as Consul applies them to prepared queries: a named query (or a template, by its name
# prefix) needs query:write on the name to be created, changed or deleted, and query:read to be
# read or explained; an unnamed query needs nothing to write or to read by ID, and is listed or
# explained only for acl:write. Execute needs no query right: its results are filtered by the
# query's own Token when it has one, else by the caller's.
PERMISSION_DENIED = "Permission denied"


def _require_write(req: web.Request, row: Row | None) -> None:
    if row is not None and row.get("Name"):
        require_name(req, "query", "write", row["Name"])


def _require_read(req: web.Request, row: Row, unnamed_needs_acl_write: bool) -> None:
    identity = identity_of(req)
    if identity is None or (not row.get("Name") and not unnamed_needs_acl_write):
        return
    if not query_readable(identity, row):
        raise HTTPError(403, PERMISSION_DENIED)


async def _definition(ctx: APIContext, req: web.Request, qid: str) -> Row:
    try:
        row = parse_definition(await read_json(req), qid)
    except DefinitionError as exc:
        raise HTTPError(400, str(exc)) from None
    if row.get("Token") == REDACTED_TOKEN:
        raise HTTPError(400, f"Invalid prepared query: Bad Token '{REDACTED_TOKEN}', it looks like a query definition "
                             "with a redacted token was submitted")
    if row["Session"] and not ctx.store.sessions.exists(row["Session"]):
        raise HTTPError(400, f'invalid session "{row["Session"]}"')
    return row


async def create(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    row = await _definition(ctx, req, str(uuid.uuid4()))
    _require_write(req, row)
    qid = await ctx.write(c.PreparedQuerySet(query=row, create=True))
    return json_reply({"ID": qid})


async def list_(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    store = ctx.store
    return await ctx.blocking_json(q, req, lambda ws: store.queries.list(ws), acl="queries")


async def get(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    qid = req.match_info["id"]
    store = ctx.store
    _, stored = store.queries.get(None, qid)
    if stored is not None:
        _require_read(req, stored, unnamed_needs_acl_write=False)

    def run(ws: WatchSet | None) -> tuple[int, list[Row] | None]:
        idx, row = store.queries.get(ws, qid)
        return idx, [row] if row is not None else None

    reply = await ctx.blocking_json(q, req, run, acl="query_tokens")
    if reply.body == b"null":
        raise not_found()
    return reply


async def update(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    row = await _definition(ctx, req, req.match_info["id"])
    _require_write(req, row)
    _require_write(req, ctx.store.queries.get(None, row["ID"])[1])
    await ctx.write(c.PreparedQuerySet(query=row, create=False))
    return Reply(b"")


async def delete(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    _require_write(req, ctx.store.queries.get(None, req.match_info["id"])[1])
    await ctx.write(c.PreparedQueryDelete(query_id=req.match_info["id"]))
    return Reply(b"")


def runner(ctx: APIContext) -> QueryRunner:
    store = ctx.store
    return QueryRunner(store.queries, store.catalog, store.coordinates, ctx.agent.node_name,
                       ctx.agent.config.datacenter)


async def _filter_results(ctx: APIContext, req: web.Request, result: Row) -> Row:
    """The executed nodes the query's Token (or, without one, the caller's) may read."""
    if ctx.acl is None:
        return result
    stored = ctx.store.queries.resolve(req.match_info["id"])
    token = (stored or {}).get("Token") or ""
    if token:
        await ctx.acl.prefetch(token)  # a client agent asks the servers first
        try:
            identity = ctx.acl.resolver.resolve(token)
        except ACLNotFound:
            raise HTTPError(403, "ACL not found") from None
    else:
        identity = identity_of(req)
        if identity is None:
            return result
    nodes, _ = enforce.filter_health_entries(identity, list(result.get("Nodes") or []))
    return {**result, "Nodes": nodes}


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
    result = await _filter_results(ctx, req, result)
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
    _require_read(req, query, unnamed_needs_acl_write=True)
    idx = max(ctx.store.queries.index(), 1)
    return Reply(json_reply({"Query": redact_query(req, query)}, q=q).body, index=idx)
