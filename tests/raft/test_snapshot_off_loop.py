"""A Raft snapshot is serialised off the event loop: while a large state machine's image is
being encoded, writes commit and apply and reads are answered; the snapshot lands afterwards."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgpack

from pyconsul.raft.core import Role
from pyconsul.raft.node import RaftNode
from pyconsul.raft.segment_log import SegmentLogStore
from pyconsul.raft.snapshot import FileSnapshotStore
from pyconsul.raft.stable import FileStableStore
from pyconsul.raft.tcp_transport import TCPTransport
from tests.support.wait import async_wait_until


class SlowImageKV:
    """A key-value machine whose snapshot encoding waits until the test lets it finish, as a
    large catalog's takes seconds. The encoder may run in another process (a forked child), so
    it signals through files: `encoding` appears when it starts, it ends once `release` exists."""

    def __init__(self, signals: Path) -> None:
        self.data: dict[str, int] = {}
        signals.mkdir(exist_ok=True)
        self.encoding = signals / "encoding"
        self.release = signals / "release"

    def apply(self, index: int, data: bytes) -> Any:
        k, v = msgpack.unpackb(data)
        self.data[k] = v
        return index

    def capture_steps(self, every: int) -> Iterator[None | Callable[[], bytes]]:
        image: dict[str, int] = {}
        for i, (k, v) in enumerate(list(self.data.items()), 1):
            image[k] = v
            if i % 5 == 0:
                yield None  # the driver lets the loop run here, applying nothing

        def serialise() -> bytes:
            self.encoding.touch()
            deadline = time.monotonic() + 30
            while not self.release.exists():  # a different process maybe: no shared event
                assert time.monotonic() < deadline
                time.sleep(0.01)
            return msgpack.packb(image)
        yield serialise

    def snapshot(self) -> bytes:
        *_, serialise = self.capture_steps(0)
        assert serialise is not None
        return serialise()

    def restore(self, data: bytes) -> None:
        self.data = msgpack.unpackb(data)


async def test_writes_and_reads_go_on_while_a_snapshot_is_encoded(tmp_path: Path) -> None:
    kv = SlowImageKV(tmp_path / "signals")
    node = RaftNode(
        "n0", TCPTransport("127.0.0.1", 0), kv,
        SegmentLogStore(tmp_path / "log", segment_bytes=4096), FileStableStore(tmp_path),
        FileSnapshotStore(tmp_path / "snaps"), tick_interval=0.02, election_tick=10,
        snapshot_threshold=20, trailing_entries=5, rng=random.Random(0),
    )
    await node.start()
    try:
        assert node.bootstrap({"n0": node.transport.address})
        await async_wait_until(lambda: node.role is Role.LEADER, 10.0, what="single server leads")
        for i in range(25):  # past the threshold: the snapshot starts and blocks in its thread
            await node.propose(msgpack.packb([f"k{i}", i]))
        await async_wait_until(kv.encoding.exists, 10.0, what="the snapshot's encoding started")
        # The image is still being encoded: writes commit and apply, reads are answered.
        for i in range(25, 60):
            assert await asyncio.wait_for(node.propose(msgpack.packb([f"k{i}", i])), 5) > 0
        await asyncio.wait_for(node.read_barrier(lease=False), 5)
        assert kv.data["k59"] == 59
        assert not list((tmp_path / "snaps").glob("*.snap"))  # nothing saved yet
        kv.release.touch()
        await async_wait_until(lambda: bool(list((tmp_path / "snaps").glob("*.snap"))), 10.0,
                               what="snapshot saved once encoded")
        assert node.snapshot_index >= 20
    finally:
        kv.release.touch()
        await node.stop()
    # Restart from the snapshot plus the log after it: every write is there.
    kv2 = SlowImageKV(tmp_path / "signals")
    again = RaftNode(
        "n0", TCPTransport("127.0.0.1", 0), kv2,
        SegmentLogStore(tmp_path / "log", segment_bytes=4096), FileStableStore(tmp_path),
        FileSnapshotStore(tmp_path / "snaps"), tick_interval=0.02, election_tick=10,
        snapshot_threshold=1000, trailing_entries=5, rng=random.Random(0),
    )
    await again.start()
    try:
        await async_wait_until(lambda: kv2.data.get("k59") == 59, 10.0, what="restart replays to the last write")
        assert len(kv2.data) == 60
    finally:
        await again.stop()
