"""InstallSnapshot on the wire: split into SnapshotChunks, put back together on arrival.

A snapshot is the whole state machine, far larger than any other message, so it is never one
frame (as hashicorp/raft streams it and etcd sends it apart from the log): the sender splits it
into chunks of at most MAX_CHUNK_BYTES, sent in order on one connection; the receiver keeps one
assembly per connection and hands the core a plain InstallSnapshot once the last byte arrived.
A chunk that does not continue the assembly drops it (the leader retries the snapshot later).
"""

from __future__ import annotations

from collections.abc import Iterator

from pyconsul.raft.messages import InstallSnapshot, Snapshot, SnapshotChunk
from pyconsul.raft.wire import MAX_CHUNK_BYTES, DecodeError


def iter_snapshot_chunks(m: InstallSnapshot, chunk_bytes: int = MAX_CHUNK_BYTES) -> Iterator[SnapshotChunk]:
    """The chunks one at a time: a sender builds each as it goes out, never a second copy of the
    whole snapshot at once."""
    s = m.snapshot
    size = len(s.data)
    view = memoryview(s.data)
    for off in (range(0, size, chunk_bytes) if size else range(1)):
        yield SnapshotChunk(m.term, m.src, m.dst, s.index, s.term, s.voters, off, size,
                            bytes(view[off:off + chunk_bytes]))


def split_snapshot(m: InstallSnapshot, chunk_bytes: int = MAX_CHUNK_BYTES) -> list[SnapshotChunk]:
    return list(iter_snapshot_chunks(m, chunk_bytes))


class SnapshotAssembler:
    """Chunks from one connection in, whole InstallSnapshots out."""

    def __init__(self) -> None:
        self._head: SnapshotChunk | None = None  # the first chunk of the assembly under way
        self._buf = bytearray()

    def add(self, c: SnapshotChunk) -> InstallSnapshot | None:
        """The completed InstallSnapshot when `c` was its last chunk; DecodeError when `c` does
        not continue the assembly under way (which is then dropped)."""
        if c.offset == 0:
            self._head, self._buf = c, bytearray()
        else:
            h = self._head
            if h is None or (c.term, c.src, c.dst, c.index, c.snap_term, c.size) != (
                    h.term, h.src, h.dst, h.index, h.snap_term, h.size) or c.offset != len(self._buf):
                self._head, self._buf = None, bytearray()
                raise DecodeError(f"snapshot chunk at {c.offset} does not continue the snapshot being received")
        self._buf += c.data
        if len(self._buf) < c.size:
            return None
        h = self._head
        assert h is not None
        data = bytes(self._buf)
        self._head, self._buf = None, bytearray()
        return InstallSnapshot(h.term, h.src, h.dst, Snapshot(h.index, h.snap_term, h.voters, data))
