"""performance.leave_drain_time: a server that leaves gracefully dwells until the requests held
on it are answered (up to the drain time), and not at all when none is held."""

from __future__ import annotations

import asyncio
import time

from pyconsul.fsm import commands as c
from tests.raft.test_consensus import Server, leader_of, servers  # noqa: F401  (fixture)
from tests.support.wait import async_wait_until


def _addr(s: Server) -> str:
    return f"{s.cfg.bind_addr}:{s.cfg.ports.server}"


async def _isolated_follower(servers: list[Server]) -> Server:  # noqa: F811
    """A follower cut off from the others until it names no leader: its requests are held."""
    await async_wait_until(lambda: leader_of(servers) is not None, 10.0, what="leader")
    follower = next(s for s in servers if not s.cons.leader_status().is_leader)
    for other in servers:
        if other is not follower:
            follower.faults.blocked.add(_addr(other))
            other.faults.blocked.add(_addr(follower))
    await async_wait_until(lambda: not follower.cons.leader_status().known_leader, 10.0,
                           what="the cut-off follower forgetting the leader")
    return follower


def _heal(servers: list[Server]) -> None:  # noqa: F811
    for s in servers:
        s.faults.blocked.clear()


async def test_drain_waits_for_a_held_write_and_returns_once_it_is_answered(servers: list[Server]) -> None:  # noqa: F811
    await async_wait_until(lambda: leader_of(servers) is not None, 10.0, what="leader")
    start = time.monotonic()
    await servers[0].cons.drain(5.0)
    assert time.monotonic() - start < 0.1  # nothing held: no dwelling

    follower = await _isolated_follower(servers)
    write = asyncio.ensure_future(follower.cons.apply(c.KVOp(verb="set", key="held", value=b"1")))
    await async_wait_until(lambda: follower.cons._held == 1, 5.0, what="the write held")  # type: ignore[attr-defined]
    drain = asyncio.ensure_future(follower.cons.drain(5.0))
    await asyncio.sleep(0.3)  # the drain must still be dwelling while the write is held
    assert not drain.done()
    _heal(servers)
    assert await asyncio.wait_for(write, 5.0) is True
    answered = time.monotonic()
    await asyncio.wait_for(drain, 5.0)
    assert time.monotonic() - answered < 0.2


async def test_drain_gives_up_after_the_drain_time(servers: list[Server]) -> None:  # noqa: F811
    follower = await _isolated_follower(servers)
    write = asyncio.ensure_future(follower.cons.apply(c.KVOp(verb="set", key="held", value=b"1")))
    await async_wait_until(lambda: follower.cons._held == 1, 5.0, what="the write held")  # type: ignore[attr-defined]
    start = time.monotonic()
    await follower.cons.drain(0.5)
    took = time.monotonic() - start
    assert 0.4 < took < 1.5, took
    _heal(servers)
    await asyncio.gather(write, return_exceptions=True)
