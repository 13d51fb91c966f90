"""FileSnapshotStore: state-machine snapshots as crc-framed files, newest `retain` kept.

`snapshots/<index 20 digits>-<term>.snap` holds one frame of msgpack `[index, term, voters,
data]`, written to a temp file, fsync'd and renamed. `latest()` skips (and reports) a damaged
file in favour of an older intact one.
"""

from __future__ import annotations

import logging
from pathlib import Path

import msgpack

from pyconsul.raft.files import atomic_write, frame, read_frames
from pyconsul.raft.messages import Snapshot

log = logging.getLogger("pyconsul.raft.snapshot")


class FileSnapshotStore:
    def __init__(self, directory: str | Path, retain: int = 2) -> None:
        self.dir = Path(directory)
        self.retain = retain

    def _files(self) -> list[Path]:
        if not self.dir.exists():
            return []
        return sorted(p for p in self.dir.iterdir() if p.suffix == ".snap")

    def latest(self) -> Snapshot | None:
        for path in reversed(self._files()):
            blob = path.read_bytes()
            frames, valid = read_frames(blob)
            if len(frames) == 1 and valid == len(blob):
                try:
                    index, term, voters, data = msgpack.unpackb(frames[0][1], raw=False)
                    return Snapshot(int(index), int(term), {str(k): str(v) for k, v in voters.items()}, bytes(data))
                except Exception:
                    pass
            log.error("skipping damaged snapshot", extra={"path": str(path)})
        return None

    def save(self, snapshot: Snapshot) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        body = msgpack.packb([snapshot.index, snapshot.term, snapshot.voters, snapshot.data], use_bin_type=True)
        atomic_write(self.dir / f"{snapshot.index:020d}-{snapshot.term}.snap", frame(body))
        for old in self._files()[: -self.retain]:
            old.unlink()
