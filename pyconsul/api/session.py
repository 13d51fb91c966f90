"""/v1/session/*: create, destroy, renew, info, node, list."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from pyconsul.api.acl_names import require_name
from pyconsul.api.app import APIContext, Reply, json_reply, read_json
from pyconsul.api.errors import HTTPError
from pyconsul.api.params import QueryOptions
from pyconsul.durations import format_duration, parse_duration
from pyconsul.fsm import commands as c
from pyconsul.state.sessions import NS_PER_S

MIN_TTL, MAX_TTL = 10.0, 86400.0


def _canon(body: dict[str, Any]) -> dict[str, Any]:
    return {str(k).replace("_", "").lower(): v for k, v in body.items()}


def _duration(value: Any, what: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) / NS_PER_S  # Go encodes time.Duration as nanoseconds
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise HTTPError(400, f"Request decode failed: {exc}") from None
    raise HTTPError(400, f"Request decode failed: invalid {what}")


def _typecheck_session(b: dict[str, Any]) -> None:
    """Go would refuse these with a decode error; so do we (never a 500)."""
    def bad(field: str, want: str, got: Any) -> HTTPError:
        kind = type(got).__name__.replace("NoneType", "null").replace("dict", "object").replace("list", "array")
        return HTTPError(400, f"Request decode failed: json: cannot unmarshal {kind} into Go struct field "
                              f"SessionRequest.{field} of type {want}")

    for field, name in (("name", "Name"), ("node", "Node"), ("behavior", "Behavior")):
        v = b.get(field)
        if v is not None and not isinstance(v, str):
            raise bad(name, "string", v)
    for field, name in (("checks", "Checks"), ("nodechecks", "NodeChecks")):
        v = b.get(field)
        if v is not None and not (isinstance(v, list) and all(isinstance(x, str) for x in v)):
            raise bad(name, "[]types.CheckID", v)
    sc = b.get("servicechecks")
    if sc is not None and not (isinstance(sc, list) and all(isinstance(x, dict) and isinstance(x.get("ID", ""), str) for x in sc)):
        raise bad("ServiceChecks", "[]structs.ServiceCheck", sc)
    ttl = b.get("ttl")
    if ttl is not None and not isinstance(ttl, str):
        raise bad("TTL", "string", ttl)


async def create(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    body = await read_json(req, required=False)
    if body is None:
        body = {}
    if not isinstance(body, dict):
        kind = "array" if isinstance(body, list) else type(body).__name__
        raise HTTPError(400, f"Request decode failed: json: cannot unmarshal {kind} into Go value of type structs.SessionRequest")
    b = _canon(body)
    _typecheck_session(b)
    agent = ctx.agent
    behavior = b.get("behavior") or "release"
    if behavior not in ("release", "delete"):
        raise HTTPError(400, f"Invalid Behavior setting '{behavior}'")
    ttl_text = ""
    if b.get("ttl"):
        ttl = _duration(b["ttl"], "TTL")
        if ttl != 0 and not (MIN_TTL <= ttl <= MAX_TTL):
            raise HTTPError(
                400, f"Invalid Session TTL '{format_duration(ttl)}', must be between [10s=24h0m0s]"
            )
        ttl_text = b["ttl"] if ttl else ""  # Consul keeps the TTL as the client wrote it
    lock_delay = 15.0 if "lockdelay" not in b else _duration(b["lockdelay"], "LockDelay")
    if lock_delay > 60:
        lock_delay = 60.0
    elif lock_delay < 0:  # no delay; a huge negative would not fit the int64 Raft field
        lock_delay = 0.0
    node_checks = b.get("nodechecks")
    if node_checks is None:
        node_checks = b.get("checks")
    if node_checks is None:
        node_checks = ["serfHealth"]
    service_checks = b.get("servicechecks")
    sess = {
        "ID": str(uuid.uuid4()),
        "Name": b.get("name") or "",
        "Node": b.get("node") or agent.node_name,
        "NodeChecks": list(node_checks),
        "ServiceChecks": service_checks,
        "LockDelay": int(lock_delay * NS_PER_S),
        "Behavior": behavior,
        "TTL": ttl_text,
    }
    require_name(req, "session", "write", sess["Node"])
    sid = await ctx.write(c.SessionCreate(session=sess))
    agent.session_timers.reset(sid, ttl_text)
    return json_reply({"ID": sid})


async def destroy(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    sid = req.match_info["id"]
    _vet_session(ctx, req, sid)
    await ctx.write(c.SessionDestroy(session_id=sid))
    ctx.agent.session_timers.clear(sid)
    return json_reply(True)


def _vet_session(ctx: APIContext, req: web.Request, sid: str) -> None:
    """session:write on the node of the session being changed (a missing one needs nothing)."""
    _, row = ctx.store.sessions.get(None, sid)
    if row is not None:
        require_name(req, "session", "write", row["Node"])


async def renew(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    sid = req.match_info["id"]
    await ctx.read_barrier(q)
    idx, row = ctx.store.sessions.get(None, sid)
    if row is None:
        raise HTTPError(404, f"Session id '{sid}' not found")
    require_name(req, "session", "write", row["Node"])
    ctx.agent.session_timers.reset(sid, row["TTL"])
    return Reply(json_reply([row]).body, index=idx)


async def info(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    sid = req.match_info["id"]
    store = ctx.store

    def run(ws: Any) -> tuple[int, list[Any]]:
        idx, row = store.sessions.get(ws, sid)
        return idx, [row] if row else []

    return await ctx.blocking_json(q, req, run, acl="sessions")


async def node(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    name = req.match_info["node"]
    store = ctx.store
    return await ctx.blocking_json(q, req, lambda ws: store.sessions.node_sessions(ws, name), acl="sessions")


async def list_(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    store = ctx.store
    return await ctx.blocking_json(q, req, lambda ws: store.sessions.list_all(ws), acl="sessions")
