"""LocalConsensus: group commit, snapshots compacting the WAL, torn-tail recovery."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pyconsul.fsm import commands as c
from pyconsul.fsm.machine import StateMachine
from pyconsul.local_log import LocalConsensus
from pyconsul.state.store import StateStore


def _new(path: Path, threshold: int = 10_000) -> tuple[LocalConsensus, StateStore]:
    store = StateStore()
    return LocalConsensus(StateMachine(store), str(path), snapshot_threshold=threshold), store


async def test_concurrent_writes_share_fsyncs_and_replay(tmp_path: Path) -> None:
    log, store = _new(tmp_path)
    await log.start()
    results = await asyncio.gather(*(log.apply(c.KVOp(verb="set", key=f"k{i}", value=b"v")) for i in range(200)))
    assert all(r is True for r in results)
    await log.stop()
    log2, store2 = _new(tmp_path)
    await log2.start()
    assert len(store2.kv) == 200 and log2.last_index == 200
    await log2.stop()


async def test_snapshot_compacts_wal_and_restores(tmp_path: Path) -> None:
    log, store = _new(tmp_path, threshold=50)
    await log.start()
    for i in range(120):
        await log.apply(c.KVOp(verb="set", key=f"k{i % 30}", value=str(i).encode()))
    await log.stop()
    assert log.snapshot_index >= 100
    wal = tmp_path / "local-log" / "wal.log"
    assert wal.stat().st_size < 30 * 100  # only the entries after the last snapshot remain
    log2, store2 = _new(tmp_path)
    await log2.start()
    assert store2.snapshot() == store.snapshot()
    await log2.stop()


async def test_torn_tail_is_cut_and_log_continues(tmp_path: Path) -> None:
    log, store = _new(tmp_path)
    await log.start()
    for i in range(5):
        await log.apply(c.KVOp(verb="set", key=f"k{i}", value=b"v"))
    await log.stop()
    wal = tmp_path / "local-log" / "wal.log"
    with open(wal, "ab") as f:
        f.write(b"\x00\x00\x01\x00garbage")  # a crash in the middle of a record
    log2, store2 = _new(tmp_path)
    await log2.start()
    assert len(store2.kv) == 5
    await log2.apply(c.KVOp(verb="set", key="after", value=b"v"))
    await log2.stop()
    log3, store3 = _new(tmp_path)
    await log3.start()
    assert "after" in store3.kv and len(store3.kv) == 6
    await log3.stop()
