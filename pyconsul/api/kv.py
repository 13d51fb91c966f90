"""/v1/kv/*: get (raw, recurse, keys, separator), put (flags, cas, acquire, release), delete."""

from __future__ import annotations

from aiohttp import web

from pyconsul.api.acl_filter import filter_reply
from pyconsul.api.app import APIContext, Reply, dumps, json_reply
from pyconsul.api.errors import HTTPError
from pyconsul.api.params import QueryOptions, query_bool, query_int
from pyconsul.fsm import commands as c
from pyconsul.state.kv import MAX_VALUE_SIZE, kv_json


def _key(req: web.Request) -> str:
    return req.match_info.get("key", "")



def _cas_index(req: web.Request) -> int:
    """?cas= as Consul reads it, an unsigned 64-bit index; anything else is the client's error
    (a larger number would not even encode into the Raft command)."""
    cas = query_int(req, "cas", what="cas")
    if not 0 <= cas < 2**64:
        raise HTTPError(400, f"Invalid cas: {req.rel_url.query.get('cas')!r}")
    return cas

async def get(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    key = _key(req)
    store = ctx.store
    if query_bool(req, "keys") or "keys" in req.rel_url.query:
        sep = req.rel_url.query.get("separator", "")
        idx, keys = await ctx.blocking(q, lambda ws: store.kv.keys(ws, key, sep))
        keys = filter_reply(req, "keys", keys)
        if not keys and key:  # Consul: 404 (no body) for an empty prefix, [] for the root
            return Reply(b"", status=404, index=idx)
        return Reply(dumps(keys, q.pretty), index=idx)
    if "recurse" in req.rel_url.query:
        idx, rows = await ctx.blocking(q, lambda ws: store.kv.get_tree(ws, key))
        rows = filter_reply(req, "kv_entries", rows)
        if not rows:  # also when every key was filtered away (Consul: 404, not 403)
            return Reply(b"", status=404, index=idx)
        return Reply(dumps([kv_json(r) for r in rows], q.pretty), index=idx)
    if not key:
        raise HTTPError(400, "Missing key name")
    idx, row = await ctx.blocking(q, lambda ws: store.kv.get(ws, key))
    if row is None:
        return Reply(b"", status=404, index=idx)
    if "raw" in req.rel_url.query:
        return Reply(row["Value"] or b"", content_type="text/plain; charset=utf-8", index=idx)
    return Reply(dumps([kv_json(row)], q.pretty), index=idx)


async def put(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    key = _key(req)
    if not key:
        raise HTTPError(400, "Missing key name")
    if req.content_length is not None and req.content_length > MAX_VALUE_SIZE:
        raise HTTPError(413, f"Value exceeds {MAX_VALUE_SIZE} byte limit")
    body = await req.read()
    if len(body) > MAX_VALUE_SIZE:
        raise HTTPError(413, f"Value exceeds {MAX_VALUE_SIZE} byte limit")
    # Consul stores an empty body as no value at all: it reads back as "Value": null.
    value = body or None
    flags = query_int(req, "flags", what="flags")
    query = req.rel_url.query
    if flags < 0 or flags >= 2**64:
        raise HTTPError(400, "Invalid flags")
    if "acquire" in query and "release" in query:
        raise HTTPError(400, f"Conflicting flags: acquire={query['acquire']}&release={query['release']}")
    if "acquire" in query:
        session = query["acquire"]
        if ctx.store.kv.lock_delay_remaining(key) > 0:
            return json_reply(False)
        cmd = c.KVOp(verb="lock", key=key, value=value, flags=flags, session=session)
    elif "release" in query:
        cmd = c.KVOp(verb="unlock", key=key, value=value, flags=flags, session=query["release"])
    elif "cas" in query:
        cmd = c.KVOp(verb="cas", key=key, value=value, flags=flags, index=_cas_index(req))
    else:
        cmd = c.KVOp(verb="set", key=key, value=value, flags=flags)
    result = await ctx.write(cmd)
    return json_reply(bool(result))


async def delete(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    key = _key(req)
    query = req.rel_url.query
    if "recurse" in query:
        cmd = c.KVOp(verb="delete-tree", key=key)
    else:
        if not key:
            raise HTTPError(400, "Missing key name")
        if "cas" in query:
            cmd = c.KVOp(verb="delete-cas", key=key, index=_cas_index(req))
        else:
            cmd = c.KVOp(verb="delete", key=key)
    result = await ctx.write(cmd)
    return json_reply(bool(result))
