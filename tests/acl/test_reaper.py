"""The leader's token reaper: expired tokens leave the table through one replicated delete."""

from __future__ import annotations

import asyncio
from typing import Any

from pyconsul.acl.objects import rfc3339, token_row
from pyconsul.acl.reaper import TokenReaper, reap_command
from pyconsul.clock import FakeClock
from pyconsul.consensus.local import LocalConsensus
from pyconsul.fsm import commands as c
from pyconsul.fsm.machine import StateMachine
from pyconsul.state.store import StateStore


def _setup() -> tuple[FakeClock, StateStore, LocalConsensus]:
    clock = FakeClock(start=1_700_000_000.0)
    store = StateStore(clock)
    consensus = LocalConsensus(StateMachine(store), "127.0.0.1:0")
    return clock, store, consensus


def _token(accessor: str, expires: float | None, now: float) -> dict[str, Any]:
    return token_row(accessor, accessor + "-secret", expiration_time=rfc3339(expires) if expires else "",
                     create_time=now)


def test_only_expired_tokens_are_reaped_in_one_command() -> None:
    async def scenario() -> None:
        clock, store, consensus = _setup()
        now = clock.time()
        for accessor, expires in (("a-short", now + 2), ("b-long", now + 120), ("c-never", None)):
            await consensus.apply(c.ACLTokenSet(token=_token(accessor, expires, now)))
        assert reap_command(store.acl, clock) is None
        clock.advance(5)
        assert reap_command(store.acl, clock) == c.ACLTokenDelete(accessor_ids=["a-short"])
        reaper = TokenReaper(store.acl, clock, lambda: True, consensus.apply, asyncio.sleep)
        assert await reaper.reap_once() == 1
        assert store.acl.token_by_accessor(None, "a-short")[1] is None
        assert store.acl.token_by_accessor(None, "b-long")[1] is not None
        clock.advance(200)
        assert await reaper.reap_once() == 1
        assert [t["AccessorID"] for t in store.acl.list_tokens(None)[1]] == ["c-never"]

    asyncio.run(scenario())


def test_a_follower_does_not_reap() -> None:
    async def scenario() -> None:
        clock, store, consensus = _setup()
        await consensus.apply(c.ACLTokenSet(token=_token("gone", clock.time() + 1, clock.time())))
        clock.advance(10)
        leader = False
        reaper = TokenReaper(store.acl, clock, lambda: leader, consensus.apply, asyncio.sleep)
        assert await reaper.reap_once() == 0
        assert store.acl.token_by_accessor(None, "gone")[1] is not None
        leader = True
        assert await reaper.reap_once() == 1

    asyncio.run(scenario())


def test_the_loop_reaps_a_short_ttl_token_within_a_deadline() -> None:
    async def scenario() -> None:
        clock, store, consensus = _setup()
        await consensus.apply(c.ACLTokenSet(token=_token("brief", clock.time() + 0.5, clock.time())))
        ticks = 0

        async def tick(_interval: float) -> None:
            nonlocal ticks
            ticks += 1
            clock.advance(0.2)  # each pass of the loop moves the injected clock on
            await asyncio.sleep(0)

        task = asyncio.ensure_future(TokenReaper(store.acl, clock, lambda: True, consensus.apply, tick).run())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while store.acl.token_by_accessor(None, "brief")[1] is not None:
            assert loop.time() < deadline, "the token was not reaped"
            await asyncio.sleep(0.01)
        task.cancel()
        assert ticks >= 3  # not before the token expired: 0.5 s of clock

    asyncio.run(scenario())
