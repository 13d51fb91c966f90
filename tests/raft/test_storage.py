"""The on-disk Raft stores: segment log, stable state, snapshots — real files in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyconsul.raft.messages import CONFIG, Entry, Snapshot
from pyconsul.raft.segment_log import SegmentLogStore
from pyconsul.raft.snapshot import FileSnapshotStore
from pyconsul.raft.stable import FileStableStore
from pyconsul.raft.storage import MemoryLogStore, StorageError


def ents(lo: int, hi: int, term: int = 1, size: int = 10) -> list[Entry]:
    return [Entry(i, term, 0, b"%d-" % i + b"x" * size) for i in range(lo, hi + 1)]


def reopen(d: Path, seg: int = 1 << 20) -> tuple[SegmentLogStore, list[Entry]]:
    s = SegmentLogStore(d, segment_bytes=seg)
    return s, s.load()


def test_log_survives_reopen_and_overwrites_a_suffix(tmp_path: Path) -> None:
    s, got = reopen(tmp_path)
    assert got == []
    s.append(ents(1, 10))
    s.append(ents(6, 8, term=2))  # a new leader overwrote 6..10
    s.close()
    s, got = reopen(tmp_path)
    assert got == ents(1, 5) + ents(6, 8, term=2)
    s.append(ents(9, 9, term=2))
    s.close()
    assert reopen(tmp_path)[1][-1] == Entry(9, 2, 0, b"9-" + b"x" * 10)


def test_segments_rotate_truncate_across_files_and_compact(tmp_path: Path) -> None:
    s, _ = reopen(tmp_path, seg=200)
    s.append(ents(1, 40))
    for i in range(41, 60):
        s.append(ents(i, i))
    files = sorted(tmp_path.glob("*.seg"))
    assert len(files) > 3
    s.append(ents(20, 22, term=3))  # truncates into an early segment, deletes the later ones
    s.close()
    s, got = reopen(tmp_path, seg=200)
    assert [e.index for e in got] == list(range(1, 23))
    assert got[-1].term == 3
    for i in range(23, 50):
        s.append(ents(i, i, term=3))
    before = len(list(tmp_path.glob("*.seg")))
    s.compact(30)
    after = sorted(tmp_path.glob("*.seg"))
    assert len(after) < before
    s.close()
    s, got = reopen(tmp_path, seg=200)
    assert got[0].index <= 31 and got[-1].index == 49
    assert [e.index for e in got] == list(range(got[0].index, 50))


def test_torn_tail_is_cut_and_appends_continue(tmp_path: Path) -> None:
    s, _ = reopen(tmp_path)
    s.append(ents(1, 5))
    s.close()
    seg = next(tmp_path.glob("*.seg"))
    whole = seg.read_bytes()
    seg.write_bytes(whole + whole[:17])  # a crash halfway through writing a record
    s, got = reopen(tmp_path)
    assert got == ents(1, 5)
    assert seg.stat().st_size == len(whole)
    s.append(ents(6, 7))
    s.close()
    assert reopen(tmp_path)[1] == ents(1, 7)


def test_corruption_before_the_tail_is_an_error(tmp_path: Path) -> None:
    s, _ = reopen(tmp_path, seg=100)
    for i in range(1, 20):
        s.append(ents(i, i))
    s.close()
    first = sorted(tmp_path.glob("*.seg"))[0]
    blob = bytearray(first.read_bytes())
    blob[12] ^= 0xFF
    first.write_bytes(bytes(blob))
    with pytest.raises(StorageError):
        reopen(tmp_path, seg=100)


def test_reset_drops_everything(tmp_path: Path) -> None:
    s, _ = reopen(tmp_path)
    s.append(ents(1, 5))
    s.reset()
    s.append(ents(100, 101, term=4))
    s.close()
    assert [e.index for e in reopen(tmp_path)[1]] == [100, 101]


def test_stable_store_round_trip_and_corruption(tmp_path: Path) -> None:
    st_ = FileStableStore(tmp_path)
    assert st_.load() == (0, "", "")
    st_.save(3, "s2", "me")
    st_.save(4, "", "me")
    assert FileStableStore(tmp_path).load() == (4, "", "me")
    (tmp_path / "raft-state.tmp").write_bytes(b"half-written")  # a crash before rename: ignored
    assert FileStableStore(tmp_path).load() == (4, "", "me")
    (tmp_path / "raft-state").write_bytes(b"garbage")
    with pytest.raises(StorageError):
        FileStableStore(tmp_path).load()


def test_snapshot_store_keeps_newest_and_refuses_a_damaged_one(tmp_path: Path) -> None:
    ss = FileSnapshotStore(tmp_path / "snaps", retain=2)
    assert ss.latest() is None
    for i in (10, 20, 30):
        ss.save(Snapshot(i, 2, {"a": "1.2.3.4:8300"}, b"state%d" % i))
    files = sorted((tmp_path / "snaps").glob("*.snap"))
    assert len(files) == 2
    assert ss.latest() == Snapshot(30, 2, {"a": "1.2.3.4:8300"}, b"state30")
    files[-1].write_bytes(files[-1].read_bytes()[:-3])
    # Falling back to 20 would roll the state back past a compacted log.
    with pytest.raises(StorageError, match=files[-1].name):
        ss.latest()
    recovering = FileSnapshotStore(tmp_path / "snaps", retain=2, recover=True)
    assert recovering.latest() == Snapshot(20, 2, {"a": "1.2.3.4:8300"}, b"state20")
    assert (tmp_path / "snaps" / (files[-1].name + ".damaged")).exists()


op = st.one_of(
    st.tuples(st.just("append"), st.integers(0, 6), st.integers(1, 8)),
    st.tuples(st.just("compact"), st.integers(0, 10)),
    st.tuples(st.just("reopen")),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(op, max_size=30))
def test_segment_log_matches_a_simple_model(tmp_path_factory: pytest.TempPathFactory, ops: list) -> None:
    d = tmp_path_factory.mktemp("seglog")
    real, _ = reopen(d, seg=150)
    model = MemoryLogStore()
    term = 1
    compacted = 0
    for o in ops:
        if o[0] == "append":
            last = model.entries[-1].index if model.entries else compacted
            first = max(last - o[1], compacted) + 1
            term += 1
            batch = [Entry(i, term, CONFIG if i % 5 == 0 else 0, b"d%d" % i) for i in range(first, first + o[2])]
            real.append(batch)
            model.append(batch)
        elif o[0] == "compact":
            if model.entries:
                upto = model.entries[0].index + o[1]
                upto = min(upto, model.entries[-1].index - 1)
                real.compact(upto)
                compacted = max(compacted, upto)
        else:
            real.close()
            real, got = reopen(d, seg=150)
            # Compaction may keep extra old entries; never lose or alter newer ones.
            assert [e for e in got if e.index > compacted] == [e for e in model.entries if e.index > compacted]
    real.close()
