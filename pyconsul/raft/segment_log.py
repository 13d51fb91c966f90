"""SegmentLogStore: the Raft log as a directory of append-only segment files.

Each segment `<first index, 20 digits>.seg` holds framed records (`>II` length + crc32, then
msgpack `[index, term, kind, data]`). Appends are one write + one fdatasync, however many entries
(group commit). A new segment starts once the current one passes `segment_bytes`; compaction
deletes whole segments the snapshot covers. On open a torn or corrupt tail of the *last* segment
(a crash mid-write: never acknowledged) is cut off; damage anywhere else is real corruption and
raises StorageError rather than silently dropping acknowledged entries.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import msgpack

from pyconsul.raft.files import (
    HEADER,
    frame,
    fsync_dir,
    private_dir,
    private_file,
    read_frames,
    valid_frame_after,
)
from pyconsul.raft.messages import Entry
from pyconsul.raft.storage import RECOVER_FLAG, StorageError

log = logging.getLogger("pyconsul.raft.log")

_RECORD_START = 0x94  # every record is a msgpack array of four


class _Segment:
    __slots__ = ("first", "path", "ends")

    def __init__(self, first: int, path: Path) -> None:
        self.first = first
        self.path = path
        self.ends: list[int] = []  # byte offset just past each record, in index order

    @property
    def last(self) -> int:
        return self.first + len(self.ends) - 1

    @property
    def size(self) -> int:
        return self.ends[-1] if self.ends else 0


def _encode(e: Entry) -> bytes:
    return frame(msgpack.packb([e.index, e.term, e.kind, e.data], use_bin_type=True))


class SegmentLogStore:
    def __init__(self, directory: str | Path, segment_bytes: int = 16 << 20, recover: bool = False) -> None:
        """`recover`: the operator's -raft-recover-truncate: cut the log at real corruption
        (keeping a copy of what was cut) instead of refusing to start."""
        self.dir = Path(directory)
        self.recover = recover
        self.segment_bytes = segment_bytes
        self.segments: list[_Segment] = []
        self._fd: int | None = None  # open for appending to segments[-1]

    # ------------------------------------------------------------------ open
    def load(self) -> list[Entry]:
        private_dir(self.dir)
        names = sorted(p for p in self.dir.iterdir() if p.suffix == ".seg")
        entries: list[Entry] = []
        for n, path in enumerate(names):
            try:
                first = int(path.stem)
            except ValueError:
                raise StorageError(f"unexpected file in raft log dir: {path}") from None
            private_file(path)
            seg = _Segment(first, path)
            blob = path.read_bytes()
            frames, valid = read_frames(blob)
            is_last = n == len(names) - 1
            problem, at, torn_possible = "", valid, True
            for end, body in frames:
                start = end - len(body) - HEADER.size
                try:
                    index, term, kind, data = msgpack.unpackb(body, raw=False)
                    e = Entry(int(index), int(term), int(kind), bytes(data))
                except Exception as exc:
                    problem = f"undecodable record at byte {start}: {exc}"
                else:
                    expect = first + len(seg.ends)
                    if e.index != expect or (entries and entries[-1].index + 1 != e.index):
                        problem = f"raft log gap at byte {start}: found {e.index}, expected {expect}"
                if problem:
                    # An intact record that does not fit was written that way: never a torn write.
                    at, torn_possible = start, False
                    break
                seg.ends.append(end)
                entries.append(e)
            else:
                if valid != len(blob):
                    problem = f"bad record at byte {valid}"
            if problem:
                self._damaged(path, blob, at, problem, is_last and torn_possible, names[n + 1 :])
                self.segments.append(seg)
                break
            if seg.ends or is_last:
                self.segments.append(seg)
            else:
                path.unlink()  # an empty non-final segment (crash right after creating it)
        if self.segments:
            self._fd = os.open(self.segments[-1].path, os.O_WRONLY | os.O_APPEND)
        return entries

    def _damaged(self, path: Path, blob: bytes, at: int, problem: str, may_be_torn: bool, later: list[Path]) -> None:
        """Damage at byte `at` of `path`. A torn tail (the end of the last segment, with no
        intact record after it: the final write, which was never acknowledged) is cut. Anything
        else may hold acknowledged entries: refuse, unless the operator asked to recover."""
        torn = may_be_torn and valid_frame_after(blob, at, _RECORD_START) == -1
        if torn:
            log.warning("raft log: cut a torn tail", extra={"segment": str(path), "bytes": len(blob) - at})
        elif not self.recover:
            raise StorageError(
                f"raft log segment {path} is corrupt ({problem}); entries after it would be lost. "
                f"Restore the data dir from a backup, or start with -{RECOVER_FLAG} to cut the log there"
            )
        else:
            copy = path.with_name(path.name + ".dropped")
            copy.write_bytes(blob[at:])
            dropped = [str(p) for p in later]
            for p in later:
                p.rename(p.with_name(p.name + ".dropped"))
            log.error("raft log: recovery cut the log", extra={
                "segment": str(path), "at_byte": at, "problem": problem, "bytes_dropped": len(blob) - at,
                "copy": str(copy), "later_segments_dropped": dropped})
        with open(path, "r+b") as f:
            f.truncate(at)
            os.fsync(f.fileno())
        fsync_dir(self.dir)

    # ------------------------------------------------------------------ writes
    def append(self, entries: list[Entry]) -> None:
        if not entries:
            return
        first = entries[0].index
        if self.segments and first <= self.segments[-1].last:
            self._truncate_from(first)
        elif self.segments and self.segments[-1].ends and first != self.segments[-1].last + 1:
            # A gap: the log was restored from a snapshot past our end. Start afresh.
            self._drop_all()
        if not self.segments or self.segments[-1].size >= self.segment_bytes:
            self._new_segment(first)
        seg = self.segments[-1]
        if not seg.ends:
            seg.first = first
            new_path = self.dir / f"{first:020d}.seg"
            if seg.path != new_path:
                os.rename(seg.path, new_path)
                seg.path = new_path
                fsync_dir(self.dir)
        chunks = []
        pos = seg.size
        for e in entries:
            rec = _encode(e)
            chunks.append(rec)
            pos += len(rec)
            seg.ends.append(pos)
        blob = b"".join(chunks)
        if self._fd is None:  # an earlier append failed after closing it
            self._fd = os.open(seg.path, os.O_WRONLY | os.O_APPEND)
        view = memoryview(blob)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        os.fdatasync(self._fd)

    def _new_segment(self, first: int) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None  # never left naming a closed descriptor if open fails
            os.close(fd)
        path = self.dir / f"{first:020d}.seg"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o600)
        self.segments.append(_Segment(first, path))
        fsync_dir(self.dir)

    def _truncate_from(self, index: int) -> None:
        removed = False
        while self.segments and self.segments[-1].first > index:
            self.segments[-1].path.unlink(missing_ok=True)  # then forget it: a retry sees the truth
            self.segments.pop()
            removed = True
        if removed:
            if self._fd is not None:
                fd, self._fd = self._fd, None
                os.close(fd)
            fsync_dir(self.dir)
        if not self.segments:
            return
        seg = self.segments[-1]
        keep = index - seg.first
        size = seg.ends[keep - 1] if keep > 0 else 0
        if self._fd is None:
            self._fd = os.open(seg.path, os.O_WRONLY | os.O_APPEND)
        os.ftruncate(self._fd, size)
        os.fsync(self._fd)
        del seg.ends[keep:]  # only once the file matches: a failed call can simply be repeated

    def reset(self) -> None:
        """Drop the whole log (a snapshot from the leader replaced it)."""
        self._drop_all()

    def _drop_all(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)
        while self.segments:
            self.segments[-1].path.unlink(missing_ok=True)
            self.segments.pop()
        fsync_dir(self.dir)

    def compact(self, upto: int) -> None:
        """Delete segments wholly at or below `upto` (never the one being appended to)."""
        removed = False
        while len(self.segments) > 1 and self.segments[0].last <= upto:
            self.segments[0].path.unlink(missing_ok=True)
            self.segments.pop(0)
            removed = True
        if len(self.segments) == 1 and self.segments[0].ends and self.segments[0].last <= upto:
            # Everything is covered: start the next append in a fresh segment.
            self._drop_all()
            removed = False
        if removed:
            fsync_dir(self.dir)

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)
