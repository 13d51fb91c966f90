"""Raft membership changes only by the leader's own reconcile of gossip members: raw Raft calls
and frames sent to a real three-server cluster's server port, as anyone who can reach it could
send them, change no voter, address or state."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from pyconsul.consensus.errors import NoLeader
from pyconsul.fsm import commands as c
from pyconsul.raft.messages import RESTORE
from pyconsul.raft.tcp_transport import CALL, MAGIC, RAFT, REPLY, _frame, _read_frame
from tests.raft.test_consensus import Server, leader_of, servers  # noqa: F401  (fixture)
from tests.support.wait import async_wait_until


def addr_of(s: Server) -> str:
    return f"{s.cfg.bind_addr}:{s.cfg.ports.server}"


async def raw_call(target: Server, method: str, body: Any) -> tuple[bool, Any]:
    """One Raft call on a fresh connection, as a forger would make it: (ok, reply value)."""
    r, w = await asyncio.open_connection(target.cfg.bind_addr, target.cfg.ports.server)
    try:
        w.write(MAGIC + _frame([CALL, 7, method, body]))
        await w.drain()
        reply = await asyncio.wait_for(_read_frame(r), 10)
        assert reply[0] == REPLY and reply[1] == 7
        return bool(reply[2]), reply[3]
    finally:
        w.close()


async def raw_frame_then_call(target: Server, frame: list[Any]) -> None:
    """Send a Raft frame, then a call on the same connection: its reply means the frame (read
    first, in order) has been handled."""
    r, w = await asyncio.open_connection(target.cfg.bind_addr, target.cfg.ports.server)
    try:
        w.write(MAGIC + _frame(frame) + _frame([CALL, 8, "raft.leaving", {}]))
        await w.drain()
        reply = await asyncio.wait_for(_read_frame(r), 10)
        assert reply[0] == REPLY and reply[1] == 8
    finally:
        w.close()


async def settled(servers: list[Server]) -> tuple[Server, list[Server]]:  # noqa: F811
    await async_wait_until(lambda: leader_of(servers) is not None, 10.0, what="leader")
    await async_wait_until(lambda: all(len(s.cons.peers()) == 3 for s in servers), 10.0, what="three voters")
    leader = leader_of(servers)
    assert leader is not None
    return leader, [s for s in servers if s is not leader]


async def reconcile(leader: Server, rounds: int = 3) -> None:
    """What the leader's reconcile loop does each second, run now: it is where a change would be made."""
    for _ in range(rounds):
        await leader.cons.discovery._reconcile_once()  # type: ignore[attr-defined]


async def test_a_made_up_server_cannot_join(servers: list[Server]) -> None:  # noqa: F811
    leader, followers = await settled(servers)
    before = leader.cons.node.voters()  # type: ignore[attr-defined]
    for target in (leader, followers[0]):
        ok, _ = await raw_call(target, "raft.join",
                               {"id": "made-up", "name": "evil", "addr": "127.0.0.9:8300", "has_state": True})
        assert ok  # join calls still answer (servers find each other through them)
    await reconcile(leader)
    assert leader.cons.node.voters() == before  # type: ignore[attr-defined]


async def test_a_voter_is_not_evicted_by_a_new_id_at_its_address(servers: list[Server]) -> None:  # noqa: F811
    leader, followers = await settled(servers)
    victim = followers[0]
    await raw_call(leader, "raft.join", {"id": "impostor", "name": victim.cfg.node_name, "addr": addr_of(victim)})
    await reconcile(leader)
    voters = leader.cons.node.voters()  # type: ignore[attr-defined]
    assert voters.get(victim.cons.id) == addr_of(victim) and "impostor" not in voters


async def test_raft_remove_of_another_server_is_refused(servers: list[Server]) -> None:  # noqa: F811
    leader, followers = await settled(servers)
    victim = followers[0]
    # Even with the victim's real boot ID, which any join call's reply tells.
    ok, info = await raw_call(victim, "raft.join", {"id": "asker", "addr": "127.0.0.9:1"})
    assert ok and info["id"] == victim.cons.id
    for body in ({"id": victim.cons.id}, {"id": victim.cons.id, "boot": info["boot"]}):
        ok, why = await raw_call(leader, "raft.remove", body)
        assert not ok, why
    assert victim.cons.id in leader.cons.node.voters()  # type: ignore[attr-defined]
    assert await leader.cons.apply(c.KVOp(verb="set", key="still", value=b"3")) is True


async def test_a_forged_source_address_does_not_move_a_voter(servers: list[Server]) -> None:  # noqa: F811
    leader, followers = await settled(servers)
    victim = followers[0]
    # A stale heartbeat "from" the victim, claiming it now lives at a black hole.
    heartbeat = [3, 0, victim.cons.id, leader.cons.id, 0, b""]
    await raw_frame_then_call(leader, [RAFT, victim.cons.id, "127.0.0.9:1", [heartbeat]])
    node = leader.cons.node  # type: ignore[attr-defined]
    assert node.addrs.get(victim.cons.id, addr_of(victim)) == addr_of(victim)
    assert node.addr_of(victim.cons.id) == addr_of(victim)
    # Entries still reach the victim at its real address.
    assert await leader.cons.apply(c.KVOp(verb="set", key="reach", value=b"1")) is True
    await async_wait_until(lambda: victim.value("reach") == b"1", 10.0, what="replicated to the victim")


async def test_restore_is_not_accepted_from_a_peer(servers: list[Server]) -> None:  # noqa: F811
    leader, followers = await settled(servers)
    await leader.cons.apply(c.KVOp(verb="set", key="mine", value=b"1"))
    image = followers[0].cons.machine.snapshot()  # type: ignore[attr-defined]
    await leader.cons.apply(c.KVOp(verb="set", key="mine", value=b"2"))
    ok, why = await raw_call(leader, "raft.propose", [image, time.time() + 10, RESTORE])
    assert not ok and "cannot propose" in why
    assert leader.value("mine") == b"2"
    with pytest.raises(NoLeader):
        await followers[0].cons.restore_snapshot(image)  # a follower does not forward one either
    await async_wait_until(lambda: all(s.value("mine") == b"2" for s in servers), 10.0, what="unchanged")


async def test_a_leaving_server_still_removes_itself(servers: list[Server]) -> None:  # noqa: F811
    leader, followers = await settled(servers)
    leaving = followers[0]
    await leaving.cons.leave()
    assert leaving.cons.id not in leader.cons.node.voters()  # type: ignore[attr-defined]
    await leaving.cons.stop()
