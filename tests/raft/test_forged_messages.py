"""Forged Raft messages against a real node on a real socket: dropped, never fatal, never
persisted in a form that breaks the next start. Plus a fuzz of the one decoder."""

from __future__ import annotations

import asyncio
import random
import struct
from collections.abc import AsyncIterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyconsul.raft.core import Role
from pyconsul.raft.messages import (
    AppendEntries,
    Entry,
    Heartbeat,
    Message,
    Snapshot,
    decode_message,
    encode_message,
    to_wire,
)
from pyconsul.raft.node import RaftNode
from pyconsul.raft.segment_log import SegmentLogStore
from pyconsul.raft.snapshot import FileSnapshotStore
from pyconsul.raft.stable import FileStableStore
from pyconsul.raft.tcp_transport import MAGIC, TCPTransport, split_addr
from pyconsul.raft.wire import MAX_TERM_OR_INDEX, DecodeError
from tests.raft.test_node_tcp import KV, put
from tests.support.wait import async_wait_until as until


class OneServer:
    """A single-voter Raft server on real files and a real TCP listener."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = 0
        self.node: RaftNode | None = None

    async def start(self) -> RaftNode:
        t = TCPTransport("127.0.0.1", self.port)
        node = RaftNode("n0", t, KV(), SegmentLogStore(self.root / "log"), FileStableStore(self.root),
                        FileSnapshotStore(self.root / "snaps"), tick_interval=0.02, rng=random.Random(0))
        await node.start()
        self.port = int(t.address.rsplit(":", 1)[1])
        node.bootstrap({"n0": t.address})
        node.campaign_now()
        self.node = node
        await until(lambda: node.role is Role.LEADER, 10, "leader")
        return node

    async def stop(self) -> None:
        if self.node is not None:
            await self.node.stop()
            self.node = None

    async def send_raw(self, wires: list[Any]) -> None:
        """One raw frame of raft messages, as a forger would write it."""
        assert self.node is not None
        host, port = split_addr(self.node.transport.address)
        r, w = await asyncio.open_connection(host, port)
        body = msgpack.packb([0, "evil", "127.0.0.1:1", wires], use_bin_type=True)
        w.write(MAGIC + struct.pack(">I", len(body)) + body)
        await w.drain()
        await asyncio.sleep(0.2)  # give the node a chance to (mis)handle it before we look
        w.close()


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[OneServer]:
    s = OneServer(tmp_path)
    await s.start()
    yield s
    await s.stop()


async def assert_still_works(s: OneServer, key: str) -> None:
    assert s.node is not None
    await until(lambda: s.node is not None and s.node.role is Role.LEADER, 10, "leader again")
    assert isinstance(await s.node.propose(put(key, 1), timeout=5), int)
    assert all(not t.done() for t in s.node._tasks), "a raft task ended"


async def test_huge_term_is_dropped_and_raft_keeps_going(server: OneServer) -> None:
    node = server.node
    assert node is not None
    term = node.core.term  # type: ignore[union-attr]
    # 1e30 was coerced with int() to 10**30, which the stable store then failed to write.
    await server.send_raw([[3, 1e30, "evil", "n0", 0, b""], [3, "99", "evil", "n0", 0, b""]])
    assert node.core.term == term  # type: ignore[union-attr]
    await assert_still_works(server, "a")


async def test_term_near_two_to_the_64_never_reaches_disk_and_restart_campaigns(server: OneServer) -> None:
    await server.send_raw([[3, 2**64 - 1, "evil", "n0", 0, b""], [3, 2**63, "evil", "n0", 0, b""]])
    term, _, _ = FileStableStore(server.root).load()
    assert term < MAX_TERM_OR_INDEX
    await server.stop()
    await server.start()  # campaigns at term + 1: must fit and persist
    await assert_still_works(server, "b")


async def test_entries_with_a_gap_are_dropped_and_the_log_reopens(server: OneServer) -> None:
    node = server.node
    assert node is not None and node.core is not None
    term = node.core.term + 1
    last = node.core.log.last_index
    forged = AppendEntries(term, "evil", "n0", last, node.core.log.last_term,
                           [Entry(last + 1, term, 0, put("x", 1)), Entry(last + 8, term, 0, put("y", 2))], 0)
    await server.send_raw([to_wire(forged)])
    assert node.core.log.last_index == last
    await server.stop()
    await server.start()  # was: StorageError "raft log gap"
    await assert_still_works(server, "c")


def _valid_messages() -> st.SearchStrategy[Message]:
    u = st.integers(0, MAX_TERM_OR_INDEX - 1)
    sid = st.text(max_size=8)
    return st.one_of(
        st.builds(Heartbeat, u, sid, sid, u, st.binary(max_size=16)),
        st.builds(lambda t, p, pt, n: AppendEntries(t + pt, "a", "b", p, pt,
                                                    [Entry(p + 1 + i, t + pt, 0, b"d") for i in range(n)], 0),
                  st.integers(0, 1000), st.integers(0, 1000), st.integers(0, 1000), st.integers(0, 5)),
    )


json_like = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64) + 1, 2**64 - 1) | st.floats() | st.text(max_size=8)
    | st.binary(max_size=8),
    lambda kids: st.lists(kids, max_size=6) | st.dictionaries(st.text(max_size=4), kids, max_size=3),
    max_leaves=30,
)


def _check_fields(m: Message) -> None:
    for f in fields(m):
        v = getattr(m, f.name)
        if type(v) is int:
            assert 0 <= v < MAX_TERM_OR_INDEX, (f.name, v)
    if isinstance(m, AppendEntries):
        assert [e.index for e in m.entries] == list(range(m.prev_index + 1, m.prev_index + 1 + len(m.entries)))
        for e in m.entries:
            assert 0 <= e.term <= m.term and type(e.data) is bytes


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tag=st.integers(0, 12), head=st.lists(json_like, min_size=3, max_size=3),
       rest=st.lists(json_like, max_size=7))
def test_decoder_accepts_only_well_formed_messages(tag: int, head: list[Any], rest: list[Any]) -> None:
    try:
        data = msgpack.packb([tag, *head, *rest], use_bin_type=True)
    except (OverflowError, ValueError):
        return
    try:
        m = decode_message(data)
    except DecodeError:
        return
    _check_fields(m)


@settings(max_examples=300, deadline=None)
@given(m=_valid_messages(), flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=4))
def test_decoder_round_trips_and_survives_mutation(m: Message, flips: list[tuple[int, int]]) -> None:
    data = encode_message(m)
    assert decode_message(data) == m
    b = bytearray(data)
    for pos, val in flips:
        b[pos % len(b)] = val
    try:
        got = decode_message(bytes(b))
    except DecodeError:
        return
    _check_fields(got)


def test_snapshot_voters_and_sizes_are_checked() -> None:
    snap = [7, 5, "a", "b", [3, 2, {"x": 1}, b""]]  # a voter address that is not a string
    with pytest.raises(DecodeError):
        decode_message(msgpack.packb(snap))
    ok = Snapshot(3, 2, {"x": "1.2.3.4:8300"}, b"img")
    assert decode_message(msgpack.packb([7, 5, "a", "b", [3, 2, ok.voters, b"img"]])).snapshot == ok  # type: ignore[attr-defined]


def test_log_append_keeps_one_contiguous_run() -> None:
    from pyconsul.raft.log import LogError, RaftLog

    log = RaftLog(entries=[Entry(1, 1)])
    with pytest.raises(LogError, match="gap"):
        log.append([Entry(2, 1), Entry(9, 1)])
    with pytest.raises(LogError, match="term"):
        log.append([Entry(2, 2), Entry(3, 1)])
    assert log.last_index == 1
    log.append([Entry(2, 1), Entry(3, 2)])
    assert log.last_index == 3
