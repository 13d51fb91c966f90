"""FileStableStore: current term, vote and this server's Raft ID, replaced atomically.

The file is one crc-framed msgpack map, written to a temp file, fsync'd and renamed over the old
one (then the directory fsync'd), so a crash leaves the old or the new state, never a mix.
"""

from __future__ import annotations

from pathlib import Path

import msgpack

from pyconsul.raft.files import atomic_write, frame, read_frames
from pyconsul.raft.storage import StorageError


class FileStableStore:
    def __init__(self, directory: str | Path) -> None:
        self.dir = Path(directory)
        self.path = self.dir / "raft-state"

    def load(self) -> tuple[int, str, str]:
        self.dir.mkdir(parents=True, exist_ok=True)
        try:
            blob = self.path.read_bytes()
        except FileNotFoundError:
            return 0, "", ""
        frames, valid = read_frames(blob)
        if len(frames) != 1 or valid != len(blob):
            raise StorageError(f"corrupt raft state file {self.path}")
        try:
            st = msgpack.unpackb(frames[0][1], raw=False)
            return int(st["term"]), str(st["vote"]), str(st.get("id", ""))
        except Exception as exc:
            raise StorageError(f"unreadable raft state file {self.path}: {exc}") from None

    def save(self, term: int, vote: str, server_id: str) -> None:
        body = msgpack.packb({"term": term, "vote": vote, "id": server_id}, use_bin_type=True)
        atomic_write(self.path, frame(body))
