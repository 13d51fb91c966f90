"""RaftNode + TCPTransport: three in-process servers on real sockets and real files."""

from __future__ import annotations

import asyncio
import errno
import random
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

import msgpack
import pytest

from pyconsul.consensus.errors import NoLeader
from pyconsul.raft.core import Role
from pyconsul.raft.node import RaftNode
from pyconsul.raft.segment_log import SegmentLogStore
from pyconsul.raft.snapshot import FileSnapshotStore
from pyconsul.raft.stable import FileStableStore
from pyconsul.raft.tcp_transport import TCPTransport
from tests.raft.faults import FaultyTransport
from tests.support.ports import free_port
from tests.support.wait import async_wait_until


class KV:
    """A tiny deterministic state machine: set a key, return the index it was applied at."""

    def __init__(self) -> None:
        self.data: dict[str, int] = {}

    def apply(self, index: int, data: bytes) -> Any:
        k, v = msgpack.unpackb(data)
        self.data[k] = v
        return index

    def snapshot(self) -> bytes:
        return msgpack.packb(self.data)

    def restore(self, data: bytes) -> None:
        self.data = msgpack.unpackb(data)


class Server:
    def __init__(self, root: Path, name: str, port: int = 0, snapshot_threshold: int = 100) -> None:
        self.root = root
        self.name = name
        # A leased port, below the ephemeral range: a restart binds it again, and a port 0 pick
        # could by then be some outgoing connection's source port.
        self.port = port or free_port()
        self.snapshot_threshold = snapshot_threshold
        self.node: RaftNode | None = None
        self.kv = KV()
        self.faults: FaultyTransport | None = None

    async def start(self) -> RaftNode:
        d = self.root / self.name
        self.kv = KV()
        self.faults = FaultyTransport(TCPTransport("127.0.0.1", self.port))
        node = RaftNode(
            self.name, self.faults, self.kv,
            SegmentLogStore(d / "log", segment_bytes=4096), FileStableStore(d), FileSnapshotStore(d / "snaps"),
            tick_interval=0.02, election_tick=10, snapshot_threshold=self.snapshot_threshold,
            trailing_entries=10, rng=random.Random(self.name),
        )
        # In-process restarts reuse the port while the last transport's sockets may still be
        # going (a real restart is a new process); retry the bind for a moment.
        deadline = asyncio.get_running_loop().time() + 5.0
        while True:
            try:
                await node.start()
                break
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE or asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.05)
        self.port = int(node.transport.address.rsplit(":", 1)[1])
        self.node = node
        return node

    async def stop(self) -> None:
        if self.node is not None:
            await self.node.stop()
            self.node = None


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[list[Server]]:
    servers = [Server(tmp_path, f"n{i}") for i in range(3)]
    for s in servers:
        await s.start()
    voters = {s.name: s.node.transport.address for s in servers}  # type: ignore[union-attr]
    for s in servers:
        assert s.node is not None and s.node.bootstrap(voters)
    yield servers
    for s in servers:
        await s.stop()


def leaders(servers: list[Server]) -> list[Server]:
    return [s for s in servers if s.node is not None and s.node.role is Role.LEADER]


async def one_leader(servers: list[Server], timeout: float = 10.0) -> Server:
    await async_wait_until(lambda: len(leaders(servers)) == 1, timeout, what="one leader")
    return leaders(servers)[0]


def put(k: str, v: int) -> bytes:
    return msgpack.packb([k, v])


async def test_writes_replicate_through_leader_and_followers(cluster: list[Server]) -> None:
    leader = await one_leader(cluster)
    follower = next(s for s in cluster if s is not leader)
    await async_wait_until(lambda: bool(follower.node and follower.node.leader_addr), 10.0, what="follower knows leader")
    assert follower.node is not None and leader.node is not None
    jobs: list[Awaitable[Any]] = [leader.node.propose(put(f"k{i}", i)) for i in range(150)]
    jobs += [follower.node.propose(put(f"f{i}", i)) for i in range(50)]
    indexes = await asyncio.gather(*jobs)
    assert len(set(indexes)) == 200  # every write got its own log index, returned as the result
    await async_wait_until(lambda: all(len(s.kv.data) == 200 for s in cluster), 10.0, what="all applied")
    assert cluster[0].kv.data == cluster[1].kv.data == cluster[2].kv.data
    # A consistent read on a follower sees every acknowledged write.
    await follower.node.read_barrier(lease=False)
    assert follower.kv.data["k149"] == 149


async def test_leader_loss_elects_new_leader_and_restart_catches_up(cluster: list[Server]) -> None:
    leader = await one_leader(cluster)
    assert leader.node is not None
    for i in range(120):  # past the snapshot threshold: restart goes through a snapshot
        await leader.node.propose(put(f"a{i}", i))
    await leader.stop()
    rest = [s for s in cluster if s is not leader]
    new = await one_leader(rest)
    assert new.node is not None
    await new.node.propose(put("after", 1))
    await leader.start()  # same data dir and port
    await async_wait_until(lambda: leader.kv.data.get("after") == 1, 10.0, what="restarted server caught up")
    assert leader.kv.data == new.kv.data
    assert any((leader.root / leader.name / "snaps").glob("*.snap"))


async def test_partitioned_leader_refuses_and_majority_continues(cluster: list[Server]) -> None:
    leader = await one_leader(cluster)
    others = [s for s in cluster if s is not leader]
    addr = {s.name: s.node.transport.address for s in cluster}  # type: ignore[union-attr]
    for s in others:
        assert s.faults is not None and leader.faults is not None
        s.faults.blocked.add(addr[leader.name])
        leader.faults.blocked.add(addr[s.name])
    new = await one_leader(others)
    assert new.node is not None and leader.node is not None
    await new.node.propose(put("majority", 1))
    await async_wait_until(lambda: leader.node is not None and leader.node.role is not Role.LEADER, 10.0, what="old leader steps down")
    with pytest.raises(NoLeader):
        await leader.node.propose(put("minority", 1), timeout=1)
    with pytest.raises(NoLeader):
        await leader.node.read_barrier(lease=False, timeout=1)
    for s in cluster:
        assert s.faults is not None
        s.faults.blocked.clear()
    await async_wait_until(lambda: leader.kv.data.get("majority") == 1, 10.0, what="healed minority caught up")
    assert "minority" not in new.kv.data


async def test_whole_cluster_restart_keeps_every_acknowledged_write(cluster: list[Server]) -> None:
    leader = await one_leader(cluster)
    assert leader.node is not None
    acked = await asyncio.gather(*[leader.node.propose(put(f"w{i}", i)) for i in range(300)])
    assert len(acked) == 300
    for s in cluster:
        await s.stop()
    for s in cluster:  # same data dirs and ports; nothing bootstraps again
        await s.start()
    new = await one_leader(cluster)
    assert new.node is not None
    await new.node.read_barrier(lease=False)
    assert len(new.kv.data) == 300 and new.kv.data["w299"] == 299
