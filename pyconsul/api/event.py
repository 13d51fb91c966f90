"""/v1/event/fire/:name and /v1/event/list."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from aiohttp import web

from pyconsul.api.app import APIContext, Reply, json_reply
from pyconsul.api.errors import HTTPError
from pyconsul.api.params import QueryOptions
from pyconsul.fsm import commands as c

MAX_PAYLOAD = 100 * 1024


def event_json(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["Payload"] = base64.b64encode(row["Payload"]).decode() if row["Payload"] else None
    return out


async def fire(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    name = req.match_info.get("name", "")
    if not name:
        raise HTTPError(400, "Missing name")
    payload = await req.read()
    if len(payload) > MAX_PAYLOAD:
        raise HTTPError(413, f"Payload exceeds {MAX_PAYLOAD} byte limit")
    query = req.rel_url.query
    event = {
        "ID": str(uuid.uuid4()),
        "Name": name,
        "Payload": payload or None,
        "NodeFilter": query.get("node", ""),
        "ServiceFilter": query.get("service", ""),
        "TagFilter": query.get("tag", ""),
    }
    if event["TagFilter"] and not event["ServiceFilter"]:
        raise HTTPError(400, "Cannot provide tag filter without service filter")
    row = await ctx.write(c.EventFire(event=event))
    return json_reply(event_json(row))


async def list_(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    name = req.rel_url.query.get("name", "")
    store = ctx.store
    return await ctx.blocking_json(
        q, req, lambda ws: store.events.list(ws, name), shape=lambda rows: [event_json(r) for r in rows],
        acl="events",
    )
