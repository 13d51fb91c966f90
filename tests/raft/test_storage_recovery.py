"""Startup never rolls back or deletes the Raft log on its own: only a torn tail is cut; other
damage refuses to start, naming the file, unless -raft-recover-truncate says otherwise."""

from __future__ import annotations

import logging
import random
import stat
from pathlib import Path

import pytest

from pyconsul.raft.messages import Entry, Snapshot
from pyconsul.raft.node import RaftNode
from pyconsul.raft.segment_log import SegmentLogStore
from pyconsul.raft.snapshot import FileSnapshotStore
from pyconsul.raft.stable import FileStableStore
from pyconsul.raft.storage import MemoryStableStore, StorageError
from pyconsul.raft.tcp_transport import TCPTransport
from tests.raft.test_node_tcp import KV


def ents(lo: int, hi: int, term: int = 1) -> list[Entry]:
    return [Entry(i, term, 0, b"%d-" % i + b"x" * 20) for i in range(lo, hi + 1)]


def write_log(d: Path, batches: list[list[Entry]], seg: int = 1 << 20) -> Path:
    s = SegmentLogStore(d, segment_bytes=seg)
    s.load()
    for b in batches:
        s.append(b)
    s.close()
    return sorted(d.glob("*.seg"))[-1]


def load(d: Path, recover: bool = False, seg: int = 1 << 20) -> list[Entry]:
    s = SegmentLogStore(d, segment_bytes=seg, recover=recover)
    try:
        return s.load()
    finally:
        s.close()


@pytest.mark.parametrize("tail", [b"\x00" * 300, b"\x00\x00\x00\x40\x12\x34", b"\xff" * 3])
def test_a_torn_final_write_is_cut(tmp_path: Path, tail: bytes) -> None:
    seg = write_log(tmp_path, [ents(i, i) for i in range(1, 11)])
    size = seg.stat().st_size
    seg.write_bytes(seg.read_bytes() + tail)  # crash during the next append: zeros, a bare header…
    assert load(tmp_path) == ents(1, 10)
    assert seg.stat().st_size == size


def test_a_torn_multi_record_batch_is_cut_whole(tmp_path: Path) -> None:
    seg = write_log(tmp_path, [ents(1, 5)])
    good = seg.read_bytes()
    s = SegmentLogStore(tmp_path)
    s.load()
    s.append(ents(6, 8))
    s.close()
    blob = bytearray(seg.read_bytes())
    blob[len(good) + 10] ^= 0xFF  # the first record of the final batch did not make it intact
    seg.write_bytes(bytes(blob[: len(good) + 40]))  # …and the rest of that write was lost too
    assert load(tmp_path) == ents(1, 5)


def test_corruption_before_intact_records_refuses_and_names_the_file(tmp_path: Path) -> None:
    seg = write_log(tmp_path, [ents(i, i) for i in range(1, 21)])
    blob = bytearray(seg.read_bytes())
    blob[len(blob) // 2] ^= 0xFF  # bit rot in an acknowledged entry of the last segment
    seg.write_bytes(bytes(blob))
    with pytest.raises(StorageError, match=f"{seg.name}.*raft-recover-truncate"):
        load(tmp_path)
    assert seg.read_bytes() == bytes(blob)  # refused without touching it


def test_a_record_that_does_not_follow_refuses_even_at_the_end(tmp_path: Path) -> None:
    seg = write_log(tmp_path, [ents(1, 2)])
    from pyconsul.raft.segment_log import _encode

    seg.write_bytes(seg.read_bytes() + _encode(Entry(9, 1)))  # the issue's [1, 2, 9]
    with pytest.raises(StorageError, match="gap"):
        load(tmp_path)


def test_recovery_flag_cuts_at_the_damage_and_says_what_it_dropped(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_log(tmp_path, [ents(i, i) for i in range(1, 60)], seg=400)
    segs = sorted(tmp_path.glob("*.seg"))
    assert len(segs) > 3
    victim = segs[1]
    blob = bytearray(victim.read_bytes())
    blob[40] ^= 0xFF
    victim.write_bytes(bytes(blob))
    with pytest.raises(StorageError, match=victim.name):
        load(tmp_path, seg=400)
    with caplog.at_level(logging.ERROR, logger="pyconsul.raft.log"):
        got = load(tmp_path, recover=True, seg=400)
    first_bad = int(victim.stem)
    assert [e.index for e in got][-1] < first_bad + 2
    assert got == ents(1, got[-1].index)
    rec = next(r for r in caplog.records if "recovery cut the log" in r.getMessage())
    assert rec.segment == str(victim) and rec.bytes_dropped > 0  # type: ignore[attr-defined]
    assert len(rec.later_segments_dropped) == len(segs) - 2  # type: ignore[attr-defined]
    assert (tmp_path / (victim.name + ".dropped")).exists()
    assert load(tmp_path, seg=400) == got  # and the next plain start is clean


def _node(root: Path, recover: bool = False) -> RaftNode:
    return RaftNode("n0", TCPTransport("127.0.0.1", 0), KV(), SegmentLogStore(root / "log"), MemoryStableStore(),
                    FileSnapshotStore(root / "snaps", recover=recover), rng=random.Random(0), recover=recover)


def test_a_log_that_does_not_continue_the_snapshot_refuses_not_resets(tmp_path: Path) -> None:
    # The newest snapshot (40) was damaged and set aside; 20 is intact, the log starts at 31.
    FileSnapshotStore(tmp_path / "snaps").save(Snapshot(20, 1, {"n0": "127.0.0.1:1"}, b"\x80"))
    log = SegmentLogStore(tmp_path / "log")
    log.load()
    log.append(ents(31, 50))
    log.close()
    with pytest.raises(StorageError, match="entries 21..30 are missing"):
        _node(tmp_path).load()
    assert len(load(tmp_path / "log")) == 20  # nothing was deleted
    node = _node(tmp_path, recover=True)
    node.load()
    assert node.core is not None and node.core.log.last_index == 20
    node.log_store.close()


def test_raft_files_are_private(tmp_path: Path) -> None:
    root = tmp_path / "data" / "raft"
    root.mkdir(parents=True)
    root.chmod(0o755)
    FileStableStore(root).save(3, "", "me")
    FileSnapshotStore(root / "snapshots").save(Snapshot(1, 1, {}, b"s"))
    write_log(root / "log", [ents(1, 3)])
    assert FileStableStore(root).load() == (3, "", "me")
    for p in [root, root / "log", root / "snapshots"]:
        assert stat.S_IMODE(p.stat().st_mode) == 0o700, p
    for p in [root / "raft-state", *root.glob("log/*.seg"), *root.glob("snapshots/*.snap")]:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p


def test_files_an_older_version_left_open_are_tightened(tmp_path: Path) -> None:
    root = tmp_path / "raft"
    write_log(root / "log", [ents(1, 3)])
    seg = next((root / "log").glob("*.seg"))
    (root / "log").chmod(0o755)
    seg.chmod(0o644)
    load(root / "log")
    assert stat.S_IMODE((root / "log").stat().st_mode) == 0o700
    assert stat.S_IMODE(seg.stat().st_mode) == 0o600
