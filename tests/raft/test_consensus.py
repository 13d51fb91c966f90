"""RaftConsensus with the real state machine and store: three servers on 127.0.0.1/.2/.3 that
find each other through start_join, bootstrap with bootstrap_expect=3, and serve the
Consensus protocol the API uses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from pyconsul.config.runtime import RuntimeConfig
from pyconsul.consensus.errors import NoLeader
from pyconsul.consensus.raft import RaftConsensus
from pyconsul.fsm import commands as c
from pyconsul.fsm.machine import StateMachine
from pyconsul.raft.tcp_transport import TCPTransport
from pyconsul.state.store import StateStore
from tests.raft.faults import FaultyTransport
from tests.support.ports import free_port
from tests.support.wait import async_wait_until

HOSTS = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]


class Server:
    def __init__(self, cfg: RuntimeConfig) -> None:
        self.cfg = cfg
        self.store = StateStore()
        self.faults = FaultyTransport(TCPTransport(cfg.bind_addr, cfg.ports.server, f"{cfg.bind_addr}:{cfg.ports.server}"))
        self.cons = RaftConsensus(cfg, StateMachine(self.store), transport=self.faults, hold_timeout=2.0)

    def value(self, key: str) -> bytes | None:
        _, row = self.store.kv.get(None, key)
        return None if row is None else row["Value"]


def make_configs(tmp_path: Path, raft_multiplier: int = 1) -> list[RuntimeConfig]:
    ports = [free_port() for _ in HOSTS]
    cfgs = []
    for i, host in enumerate(HOSTS):
        cfgs.append(RuntimeConfig(
            node_name=f"srv{i}", data_dir=str(tmp_path / f"srv{i}"), server=True, bootstrap_expect=3,
            bind_addr=host, raft_multiplier=raft_multiplier,
            # A chain of joins is enough: join replies spread what each server knows.
            start_join=[f"{HOSTS[i - 1]}:{ports[i - 1]}"] if i else [],
        ))
        cfgs[-1].ports = replace(cfgs[-1].ports, server=ports[i])
    return cfgs


@pytest.fixture
async def servers(tmp_path: Path) -> AsyncIterator[list[Server]]:
    srvs = [Server(cfg) for cfg in make_configs(tmp_path)]
    for s in srvs:
        await s.cons.start()
    yield srvs
    for s in srvs:
        await s.cons.stop()


def leader_of(srvs: list[Server]) -> Server | None:
    ls = [s for s in srvs if s.cons.leader_status().is_leader]
    return ls[0] if len(ls) == 1 else None


async def test_bootstrap_expect_forms_one_cluster_and_replicates(servers: list[Server]) -> None:
    await async_wait_until(lambda: leader_of(servers) is not None and all(s.cons.leader_status().known_leader for s in servers), 10.0, what="a leader known to all")
    leader = leader_of(servers)
    assert leader is not None
    addrs = sorted(f"{s.cfg.bind_addr}:{s.cfg.ports.server}" for s in servers)
    await async_wait_until(lambda: all(s.cons.peers() == addrs for s in servers), 10.0, what="configuration everywhere")
    for s in servers:
        assert s.cons.leader_status().leader_addr == f"{leader.cfg.bind_addr}:{leader.cfg.ports.server}"
    follower = next(s for s in servers if s is not leader)
    assert await follower.cons.apply(c.KVOp(verb="set", key="k", value=b"v1")) is True
    # cas result comes back from the follower's own apply of the leader's entry
    _, row = follower.store.kv.get(None, "k")
    assert row is not None
    assert await follower.cons.apply(c.KVOp(verb="cas", key="k", value=b"v2", index=row["ModifyIndex"])) is True
    assert await leader.cons.apply(c.KVOp(verb="cas", key="k", value=b"v3", index=row["ModifyIndex"])) is False
    await follower.cons.barrier(consistent=True)
    assert follower.value("k") == b"v2"
    await async_wait_until(lambda: all(s.value("k") == b"v2" for s in servers), 10.0, what="replicated")
    # Names travel with the join exchange, which reaches every server within a discovery round.
    await async_wait_until(lambda: sorted(x["Node"] for x in follower.cons.configuration()) == ["srv0", "srv1", "srv2"], 10.0, what="server names")
    conf = follower.cons.configuration()
    assert [x["Leader"] for x in conf].count(True) == 1
    st = leader.cons.stats()
    assert st["state"] == "Leader" and st["num_peers"] == "2"


async def test_minority_refuses_and_majority_goes_on(servers: list[Server]) -> None:
    await async_wait_until(lambda: leader_of(servers) is not None, 10.0, what="leader")
    leader = leader_of(servers)
    assert leader is not None
    lone = next(s for s in servers if s is not leader)
    majority = [s for s in servers if s is not lone]
    lone_addr = f"{lone.cfg.bind_addr}:{lone.cfg.ports.server}"
    for s in majority:
        s.faults.blocked.add(lone_addr)
        lone.faults.blocked.add(f"{s.cfg.bind_addr}:{s.cfg.ports.server}")
    await leader.cons.apply(c.KVOp(verb="set", key="m", value=b"1"))
    with pytest.raises(NoLeader):
        await lone.cons.apply(c.KVOp(verb="set", key="lost", value=b"1"))
    with pytest.raises(NoLeader):
        await lone.cons.barrier(consistent=True)
    await async_wait_until(lambda: not lone.cons.leader_status().known_leader, 10.0, what="lone server forgets the leader")
    for s in servers:
        s.faults.blocked.clear()
    await async_wait_until(lambda: lone.value("m") == b"1", 10.0, what="healed")
    assert lone.value("lost") is None


async def test_remove_peer_and_restart(servers: list[Server], tmp_path: Path) -> None:
    await async_wait_until(lambda: leader_of(servers) is not None, 10.0, what="leader")
    leader = leader_of(servers)
    assert leader is not None
    victim = next(s for s in servers if s is not leader)
    with pytest.raises(ValueError):
        await leader.cons.remove_peer(address="127.0.0.9:1")
    await victim.cons.stop()
    victim_addr = f"{victim.cfg.bind_addr}:{victim.cfg.ports.server}"
    await leader.cons.remove_peer(address=victim_addr)
    assert victim_addr not in leader.cons.peers()
    assert await leader.cons.apply(c.KVOp(verb="set", key="two", value=b"ok")) is True


async def test_snapshot_restore_replaces_state_on_every_server(servers: list[Server]) -> None:
    await async_wait_until(lambda: leader_of(servers) is not None, 10.0, what="leader")
    leader = leader_of(servers)
    assert leader is not None
    await leader.cons.apply(c.KVOp(verb="set", key="keep", value=b"old"))
    image = leader.cons.machine.snapshot()  # type: ignore[attr-defined]
    await leader.cons.apply(c.KVOp(verb="set", key="keep", value=b"new"))
    await leader.cons.apply(c.KVOp(verb="set", key="extra", value=b"x"))
    follower = next(s for s in servers if s is not leader)
    await async_wait_until(lambda: follower.value("keep") == b"new", 10.0, what="the follower caught up")
    # Raft takes a restore only from the leader (the API relays a follower's request to it).
    with pytest.raises(NoLeader):
        await follower.cons.restore_snapshot(image)
    assert follower.value("keep") == b"new"
    await leader.cons.restore_snapshot(image)
    await async_wait_until(lambda: all(s.value("keep") == b"old" and s.value("extra") is None for s in servers), 10.0, what="restored everywhere")
    with pytest.raises(ValueError):
        await leader.cons.restore_snapshot(b"not a snapshot")
    # The cluster still takes writes afterwards.
    assert await leader.cons.apply(c.KVOp(verb="set", key="after", value=b"1")) is True


async def test_single_bootstrap_server_leads_at_once_and_after_restart(tmp_path: Path) -> None:
    cfg = RuntimeConfig(node_name="solo", data_dir=str(tmp_path / "solo"), server=True, bootstrap=True,
                        bind_addr="127.0.0.1")
    cfg.ports = replace(cfg.ports, server=free_port())
    for round_ in range(2):
        store = StateStore()
        cons = RaftConsensus(cfg, StateMachine(store), own_listener=True)
        await cons.start()
        try:
            assert cons.leader_status().is_leader
            assert cons.peers() == [f"127.0.0.1:{cfg.ports.server}"]
            if round_ == 0:
                assert await cons.apply(c.KVOp(verb="set", key="durable", value=b"yes")) is True
            else:
                await cons.barrier(consistent=True)
                _, row = store.kv.get(None, "durable")
                assert row is not None and row["Value"] == b"yes"
        finally:
            await cons.stop()


async def test_dead_server_is_cleaned_up_and_readded_when_back(servers: list[Server]) -> None:
    await async_wait_until(lambda: leader_of(servers) is not None, 10.0, what="leader")
    leader = leader_of(servers)
    assert leader is not None
    victim = next(s for s in servers if s is not leader)
    await async_wait_until(lambda: len(leader.cons.peers()) == 3, 10.0, what="three voters")
    await victim.cons.stop()
    victim_addr = f"{victim.cfg.bind_addr}:{victim.cfg.ports.server}"
    leader.cons.note_server_failed(victim.cons.id)  # what the gossip layer reports
    await async_wait_until(lambda: victim_addr not in leader.cons.peers(), 10.0, what="dead server removed")
    # Two of two must now agree; the cluster still writes.
    assert await leader.cons.apply(c.KVOp(verb="set", key="k2", value=b"v")) is True
    # It comes back (same data dir): it announces itself and the leader adds it again.
    back = Server(victim.cfg)
    servers[servers.index(victim)] = back
    await back.cons.start()
    # Its join call alone does not make it a voter again; gossip seeing it alive does.
    leader.cons.note_server(back.cons.id, back.cfg.node_name, victim_addr)
    await async_wait_until(lambda: victim_addr in leader.cons.peers(), 15, what="server re-added")
    await async_wait_until(lambda: back.value("k2") == b"v", 10.0, what="caught up")


async def test_bootstrap_expect_one_leads_without_peers(tmp_path: Path) -> None:
    cfg = RuntimeConfig(node_name="one", data_dir=str(tmp_path / "one"), server=True, bootstrap_expect=1,
                        bind_addr="127.0.0.1")
    cfg.ports = replace(cfg.ports, server=free_port())
    store = StateStore()
    cons = RaftConsensus(cfg, StateMachine(store), own_listener=True)
    await cons.start()
    try:
        await async_wait_until(lambda: cons.leader_status().is_leader, 5, what="sole server leading")
        assert await cons.apply(c.KVOp(verb="set", key="a", value=b"1")) is True
        await cons.barrier(consistent=False)  # the leader's lease answers at once
        assert cons.stats()["num_peers"] == "0"
    finally:
        await cons.stop()


async def test_graceful_leave_removes_server_for_good(servers: list[Server]) -> None:
    await async_wait_until(lambda: leader_of(servers) is not None, 10.0, what="leader")
    await async_wait_until(lambda: all(len(s.cons.peers()) == 3 for s in servers), 10.0, what="three voters")
    leader = leader_of(servers)
    assert leader is not None
    leaving = next(s for s in servers if s is not leader)
    await leaving.cons.leave()
    await leaving.cons.stop()
    gone = f"{leaving.cfg.bind_addr}:{leaving.cfg.ports.server}"
    await async_wait_until(lambda: gone not in leader.cons.peers(), 10.0, what="left server removed")
    await asyncio.sleep(2.5)  # several reconcile rounds: it must not be added back
    assert gone not in leader.cons.peers()
    # The leader itself can leave too: the other server takes over alone... with a quorum of 1.
    assert await leader.cons.apply(c.KVOp(verb="set", key="x", value=b"1")) is True


async def test_leader_leaving_hands_over_leadership(servers: list[Server]) -> None:
    await async_wait_until(lambda: leader_of(servers) is not None, 10.0, what="leader")
    await async_wait_until(lambda: all(len(s.cons.peers()) == 3 for s in servers), 10.0, what="three voters")
    leader = leader_of(servers)
    assert leader is not None
    await leader.cons.apply(c.KVOp(verb="set", key="before", value=b"1"))
    await leader.cons.leave()
    rest = [s for s in servers if s is not leader]
    new = leader_of(rest)
    assert new is not None, "leadership should have been handed over before leaving"
    gone = f"{leader.cfg.bind_addr}:{leader.cfg.ports.server}"
    await async_wait_until(lambda: gone not in new.cons.peers(), 10.0, what="old leader out of the voters")
    await leader.cons.stop()
    assert await rest[0].cons.apply(c.KVOp(verb="set", key="after", value=b"2")) is True
    await async_wait_until(lambda: all(s.value("after") == b"2" for s in rest), 10.0, what="replicated")
