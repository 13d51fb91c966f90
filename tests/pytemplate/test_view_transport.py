"""The view's requests, seen at the transport boundary (real agent behind it).

A stale answer older than max_stale can't be produced by a single dev agent, so that one fault is
injected by wrapping the real transport, as the project's rules allow.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from pytemplate.client import HttpConsulClient, Response
from pytemplate.dependencies import Dependency, KVGetQuery
from pytemplate.view import View, ViewOptions
from tests.pytemplate.helpers import kv_put
from tests.support.agents import AgentProcess
from tests.support.wait import async_wait_until


class Recording:
    """Passes requests to the real client, recording them; optionally ages the first answer."""

    def __init__(self, inner: HttpConsulClient, stale_first: float = 0.0) -> None:
        self.inner = inner
        self.stale_first = stale_first
        self.calls: list[dict[str, str]] = []

    async def get(self, path: str, params: Sequence[tuple[str, str]], timeout: float) -> Response:
        self.calls.append(dict(params))
        resp = await self.inner.get(path, params, timeout)
        if self.stale_first and len(self.calls) == 1:
            resp.last_contact = self.stale_first
        return resp

    async def node_name(self) -> str:
        return await self.inner.node_name()


async def _run_view(transport: Recording, dep: Dependency, options: ViewOptions,
                    want: int) -> tuple[list[Any], asyncio.Task[None]]:
    got: list[Any] = []
    view = View(dep, transport, lambda d, data: got.append(data), options=options)
    task = asyncio.create_task(view.run())
    await async_wait_until(lambda: len(got) >= want, 10, what=f"{want} deliveries", interval=0.01)
    return got, task


async def test_stale_answer_past_max_stale_is_asked_again_of_the_leader(shared_agent: AgentProcess) -> None:
    await asyncio.to_thread(kv_put, shared_agent, "stale/v", "1")
    client = HttpConsulClient(shared_agent.http_addr)
    transport = Recording(client, stale_first=5.0)
    got, task = await _run_view(transport, KVGetQuery.parse("stale/v"), ViewOptions(max_stale=2.0), 1)
    try:
        assert got == ["1"]
        first, second = transport.calls[0], transport.calls[1]
        assert "stale" in first and "index" not in first
        assert "stale" not in second  # the retry goes to the leader, consistently
    finally:
        task.cancel()
        await client.close()


async def test_blocking_queries_carry_index_and_wait_and_cost_one_request_per_change(
        shared_agent: AgentProcess) -> None:
    await asyncio.to_thread(kv_put, shared_agent, "block/v", "0")
    client = HttpConsulClient(shared_agent.http_addr)
    transport = Recording(client)
    options = ViewOptions(max_stale=0, block_wait=30.0)
    got, task = await _run_view(transport, KVGetQuery.parse("block/v"), options, 1)
    try:
        await asyncio.sleep(0.2)  # let the view park in its blocking query
        parked = len(transport.calls)
        for i in range(1, 6):
            await asyncio.to_thread(kv_put, shared_agent, "block/v", str(i))
            await async_wait_until(lambda i=i: len(got) >= i + 1, 10, what=f"delivery {i}", interval=0.01)
        assert got == ["0", "1", "2", "3", "4", "5"]
        later = transport.calls[parked:]
        assert all(c["wait"] == "30000ms" and int(c["index"]) > 0 for c in later)
        assert "stale" not in later[0]
        # One answered blocking query per change (plus the one parked again afterwards).
        assert len(transport.calls) - parked <= 5 + 1
    finally:
        task.cancel()
        await client.close()
