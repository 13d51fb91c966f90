"""`/debug/pprof/*`: profiles of the running agent (see `pyconsul.profiling` for the formats).

As in Consul, these are served when `enable_debug` is set, or when ACLs are on (then the route's
`operator:read` decides); otherwise they do not exist (404), so a profile is never open to anyone
by default. A CPU profile samples from a worker thread: the agent keeps serving meanwhile.
"""

from __future__ import annotations

import asyncio
import threading

from aiohttp import web

from pyconsul import profiling
from pyconsul.api.app import APIContext, Reply
from pyconsul.api.errors import HTTPError
from pyconsul.api.params import QueryOptions

TEXT = "text/plain; charset=utf-8"


def _served(ctx: APIContext) -> None:
    cfg = ctx.agent.config
    if not (cfg.enable_debug or cfg.acl.enabled):
        raise HTTPError(404, "404 page not found")


async def profile(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    _served(ctx)
    raw = req.rel_url.query.get("seconds", "30")
    try:
        seconds = float(raw)
    except ValueError:
        raise HTTPError(400, f"Invalid seconds: {raw!r}") from None
    if not 0 < seconds <= profiling.MAX_SECONDS:
        raise HTTPError(400, f"seconds must be in (0, {profiling.MAX_SECONDS:g}]")
    loop_thread = threading.get_ident()  # handlers run on the event loop's thread
    stacks, taken = await asyncio.to_thread(profiling.cpu_profile, loop_thread, seconds)
    return Reply(profiling.folded_text(stacks).encode(), content_type=TEXT,
                 headers={"X-Pyconsul-Profile-Samples": str(taken)})


async def goroutine(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    _served(ctx)
    return Reply(profiling.task_dump(asyncio.get_running_loop()).encode(), content_type=TEXT)


async def heap(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    _served(ctx)
    return Reply((await asyncio.to_thread(profiling.heap_summary)).encode(), content_type=TEXT)
