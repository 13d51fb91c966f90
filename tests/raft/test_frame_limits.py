"""Frame and msgpack limits on the Raft and gossip TCP ports, and snapshots sent as chunks."""

from __future__ import annotations

import asyncio
import struct
import time
import tracemalloc
from pathlib import Path

import msgpack
import pytest

from pyconsul.gossip.messages import DecodeError as GossipDecodeError
from pyconsul.gossip.messages import decode_packet
from pyconsul.gossip.transport import GossipTransport
from pyconsul.raft.messages import AppendEntries, InstallSnapshot, Snapshot, from_wire
from pyconsul.raft.snapshot_chunks import SnapshotAssembler, split_snapshot
from pyconsul.raft.tcp_transport import MAGIC, _raft_frames, split_addr
from pyconsul.raft.wire import MAX_CHUNK_BYTES, MAX_FRAME_BYTES, DecodeError, unpack_peer
from tests.raft.test_node_tcp import Server, one_leader, put
from tests.raft.test_tcp_transport import Recorder, start
from tests.support.wait import async_wait_until as until


async def closed_within(host: str, port: int, data: bytes, seconds: float) -> float:
    """Send `data` and return how long the server took to close on us."""
    r, w = await asyncio.open_connection(host, port)
    t0 = time.monotonic()
    w.write(data)
    await w.drain()
    try:
        assert await asyncio.wait_for(r.read(), seconds) == b""
    finally:
        w.close()
    return time.monotonic() - t0


async def test_raft_port_refuses_an_oversized_length_prefix_before_reading_the_body() -> None:
    rec = Recorder()
    t = await start(rec, "s")
    try:
        host, port = split_addr(t.address)
        # 100 MiB: under the old 512 MiB cap the server sat waiting for the body.
        for n in (100 << 20, MAX_FRAME_BYTES + 1):
            await closed_within(host, port, MAGIC + struct.pack(">I", n) + b"\x00" * 16, 5)
        other = await start(Recorder(), "o")
        try:
            assert await other.call(t.address, "echo", "fine") == "fine"
        finally:
            await other.stop()
    finally:
        await t.stop()


async def test_gossip_tcp_refuses_an_oversized_length_prefix_at_once() -> None:
    g = GossipTransport("127.0.0.1", 0, lambda a, b: None, lambda a, b: b"", stream_timeout=10.0)
    await g.start()
    try:
        # 12 MiB was under the old 16 MiB cap: the exchange waited the whole stream timeout.
        took = await closed_within("127.0.0.1", g.port, struct.pack(">I", 12 << 20) + b"x" * 64, 5)
        assert took < 5
    finally:
        await g.close()


def test_a_megabyte_of_empty_maps_is_refused_and_nested_shapes_stay_small() -> None:
    bomb = b"\xdd" + struct.pack(">I", 1 << 20) + b"\x80" * (1 << 20)
    with pytest.raises(DecodeError):
        unpack_peer(bomb)
    with pytest.raises(GossipDecodeError):
        decode_packet(bomb)
    # The same megabyte split into arrays each under the length cap: maps are counted.
    nested = b"\xdc\x00\x40" + (b"\xdc\x40\x00" + b"\x80" * 0x4000) * 0x40
    with pytest.raises(DecodeError):
        unpack_peer(nested)
    # Empty and one-element arrays: whatever is accepted costs a small multiple of its size.
    for filler in (b"\x90", b"\x91\x90", b"\x91\x00"):
        n = (1 << 20) // len(filler) // 64
        doc = b"\xdc\x00\x40" + (b"\xdd" + struct.pack(">I", n) + filler * n) * 0x40
        tracemalloc.start()
        try:
            unpack_peer(doc)
        except DecodeError:
            pass
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < 40 * len(doc), (filler, peak, len(doc))


def test_snapshot_chunks_reassemble_and_a_stray_chunk_drops_the_assembly() -> None:
    data = bytes(range(256)) * ((3 * MAX_CHUNK_BYTES) // 256 + 7)
    m = InstallSnapshot(4, "a", "b", Snapshot(90, 3, {"a": "1.2.3.4:8300"}, data))
    chunks = split_snapshot(m)
    assert len(chunks) == 4 and all(len(c.data) <= MAX_CHUNK_BYTES for c in chunks)
    asm = SnapshotAssembler()
    assert [asm.add(c) for c in chunks[:-1]] == [None, None, None]
    assert asm.add(chunks[-1]) == m
    asm.add(chunks[0])
    with pytest.raises(DecodeError):
        asm.add(chunks[2])  # chunk 1 went missing
    with pytest.raises(DecodeError):
        asm.add(chunks[3])  # and the assembly is gone
    empty = InstallSnapshot(4, "a", "b", Snapshot(1, 1, {}, b""))
    assert SnapshotAssembler().add(split_snapshot(empty)[0]) == empty


async def test_a_large_snapshot_installs_on_a_follower(tmp_path: Path) -> None:
    servers = [Server(tmp_path, f"n{i}", snapshot_threshold=20) for i in range(3)]
    for s in servers:
        await s.start()
    voters = {s.name: s.node.transport.address for s in servers}  # type: ignore[union-attr]
    for s in servers:
        assert s.node is not None and s.node.bootstrap(voters)
    try:
        leader = await one_leader(servers)
        lagging = next(s for s in servers if s is not leader)
        await lagging.stop()
        assert leader.node is not None
        value = b"v" * 300_000
        for i in range(40):  # ~12 MiB of state: three batch frames' worth, a dozen chunks
            await leader.node.propose(put(f"big{i}", value))  # type: ignore[arg-type]
        await until(lambda: leader.node is not None and leader.node.snapshot_index >= 20, what="leader snapshot")
        await lagging.start()
        await until(lambda: len(lagging.kv.data) == 40, timeout=30, what="follower installed the snapshot")
        assert lagging.kv.data == leader.kv.data
        assert any((lagging.root / lagging.name / "snaps").glob("*.snap"))
    finally:
        for s in servers:
            await s.stop()


async def test_a_malformed_message_is_dropped_alone_and_the_connection_carries_on() -> None:
    rec = Recorder()
    t = await start(rec, "s")
    try:
        host, port = split_addr(t.address)
        r, w = await asyncio.open_connection(host, port)
        good = [3, 1, "x", "s", 0, b"ok"]
        w.write(MAGIC)
        for wires in ([[3, 1, "x", "s", 0, b"c" * 2048], good], [[3, 1.5, "x", "s", 0, b""]], [good]):
            body = msgpack.packb([0, "x", "1.2.3.4:1", wires], use_bin_type=True)
            w.write(struct.pack(">I", len(body)) + body)
        await w.drain()
        await until(lambda: len(rec.got) == 2, what="both good heartbeats")
        assert [len(msgs) for _, _, msgs in rec.got] == [1, 1]  # the bad ones were dropped alone
        w.close()
    finally:
        await t.stop()


def test_a_snapshot_goes_out_one_chunk_frame_at_a_time_in_order_with_other_messages() -> None:
    data = bytes(range(256)) * ((5 * MAX_CHUNK_BYTES) // 256 + 3)
    snap = InstallSnapshot(4, "a", "b", Snapshot(90, 3, {"a": "1.2.3.4:8300"}, data))
    before = AppendEntries(4, "a", "b", 80, 3, [], 80)
    after = AppendEntries(4, "a", "b", 90, 3, [], 90)
    frames = _raft_frames(b"", [before, snap, after])
    first = next(frames)  # built on demand: the sender takes a frame, writes it, drains, takes the next
    rest = list(frames)
    sizes = [len(f) for f in [first, *rest]]
    assert len(sizes) == 1 + 6 + 1 and max(sizes) <= MAX_CHUNK_BYTES + (64 << 10) <= MAX_FRAME_BYTES
    # Reassembled from the frames' chunks in order, between the messages around it.
    got = [from_wire(w) for f in [first, *rest] for w in msgpack.unpackb(f[4:], raw=False)]
    assert got[0] == before and got[-1] == after
    asm = SnapshotAssembler()
    done = [asm.add(c) for c in got[1:-1]]
    assert done[:-1] == [None] * 5 and done[-1] == snap
