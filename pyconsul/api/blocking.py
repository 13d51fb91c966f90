"""The one blocking-query loop every endpoint uses.

`run(ws)` reads the store, records its watch topics in `ws` and returns (index, value). If the
caller's `?index` is behind, answer at once; otherwise sleep until a recorded topic fires or `wait`
(plus up to wait/16 jitter, as Consul) runs out, and run again.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any, TypeVar

from pyconsul.state.watch import WatchRegistry, WatchSet

T = TypeVar("T")

_JITTER = random.Random()


async def blocking_query(
    watches: WatchRegistry,
    run: Callable[[WatchSet | None], tuple[int, T]],
    min_index: int,
    wait: float,
    rng: random.Random = _JITTER,
    shortcut: Callable[[], tuple[int, Any] | None] | None = None,
) -> tuple[int, T]:
    """`shortcut`, when given, is tried after each wake-up before re-running the query: with many
    waiters on one answer, the first to run encodes it and the rest reuse that (fan-out)."""
    if min_index <= 0:
        idx, value = run(None)
        return max(idx, 1), value
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait + rng.random() * wait / 16
    while True:
        ws = WatchSet()
        idx, value = run(ws)
        idx = max(idx, 1)
        # A newer answer, or an index that went backwards (the store was reset): answer now.
        if idx != min_index:
            return idx, value
        remaining = deadline - loop.time()
        if remaining <= 0:
            return idx, value
        fut: asyncio.Future[Any] = loop.create_future()

        def wake(f: asyncio.Future[Any] = fut) -> None:
            if not f.done():
                f.set_result(None)

        unsubscribe = watches.subscribe(ws.topics, wake)
        try:
            await asyncio.wait_for(fut, remaining)
        except TimeoutError:
            idx, value = run(None)
            return max(idx, 1), value
        finally:
            unsubscribe()
        if shortcut is not None:
            hit = shortcut()
            if hit is not None and hit[0] != min_index:
                return hit
