"""FileStableStore: current term, vote and this server's Raft ID, replaced atomically.

The file is one crc-framed msgpack map, written to a temp file, fsync'd and renamed over the old
one (then the directory fsync'd), so a crash leaves the old or the new state, never a mix.
"""

from __future__ import annotations

from pathlib import Path

import msgpack

from pyconsul.raft.files import atomic_write, frame, private_dir, private_file, read_frames
from pyconsul.raft.storage import StorageError


class FileStableStore:
    def __init__(self, directory: str | Path) -> None:
        self.dir = Path(directory)
        self.path = self.dir / "raft-state"

    def load(self) -> tuple[int, str, str]:
        private_dir(self.dir)
        try:
            blob = self.path.read_bytes()
        except FileNotFoundError:
            return 0, "", ""
        private_file(self.path)
        frames, valid = read_frames(blob)
        if len(frames) != 1 or valid != len(blob):
            raise StorageError(f"corrupt raft state file {self.path}")
        try:
            st = msgpack.unpackb(frames[0][1], raw=False)
            term, vote, server_id = st["term"], st["vote"], st.get("id", "")
        except Exception as exc:
            raise StorageError(f"unreadable raft state file {self.path}: {exc}") from None
        if type(term) is not int or not 0 <= term < 1 << 64 or type(vote) is not str or type(server_id) is not str:
            raise StorageError(f"raft state file {self.path} holds a bad term, vote or ID")
        return term, vote, server_id

    def save(self, term: int, vote: str, server_id: str) -> None:
        private_dir(self.dir)
        body = msgpack.packb({"term": term, "vote": vote, "id": server_id}, use_bin_type=True)
        atomic_write(self.path, frame(body))
