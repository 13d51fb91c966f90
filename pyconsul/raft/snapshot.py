"""FileSnapshotStore: state-machine snapshots as crc-framed files, newest `retain` kept.

`snapshots/<index 20 digits>-<term>.snap` holds one frame of msgpack `[index, term, voters,
data]`, written to a temp file, fsync'd and renamed. A damaged newest snapshot is never passed
over silently for an older one (the log it continued has been compacted, so falling back would
roll the state back): `latest()` raises StorageError naming it, unless the operator asked to
recover, which sets the file aside as `.damaged` and says so.
"""

from __future__ import annotations

import logging
from pathlib import Path

import msgpack

from pyconsul.raft.files import atomic_write, frame, private_dir, private_file, read_frames
from pyconsul.raft.messages import Snapshot
from pyconsul.raft.storage import RECOVER_FLAG, StorageError

log = logging.getLogger("pyconsul.raft.snapshot")


def _read(path: Path) -> Snapshot:
    blob = path.read_bytes()
    frames, valid = read_frames(blob)
    if len(frames) != 1 or valid != len(blob):
        raise ValueError(f"bad frame (valid to byte {valid} of {len(blob)})")
    index, term, voters, data = msgpack.unpackb(frames[0][1], raw=False)
    if type(index) is not int or type(term) is not int or not isinstance(voters, dict) or type(data) is not bytes:
        raise ValueError("fields of the wrong type")
    return Snapshot(index, term, {str(k): str(v) for k, v in voters.items()}, data)


class FileSnapshotStore:
    def __init__(self, directory: str | Path, retain: int = 2, recover: bool = False) -> None:
        self.dir = Path(directory)
        self.retain = retain
        self.recover = recover

    def _files(self) -> list[Path]:
        if not self.dir.exists():
            return []
        return sorted(p for p in self.dir.iterdir() if p.suffix == ".snap")

    def latest(self) -> Snapshot | None:
        if self.dir.exists():
            private_dir(self.dir)
        for path in reversed(self._files()):
            private_file(path)
            try:
                return _read(path)
            except Exception as exc:
                if not self.recover:
                    raise StorageError(
                        f"raft snapshot {path} is damaged ({exc}); an older one would roll the state back. "
                        f"Restore the data dir from a backup, or start with -{RECOVER_FLAG} to set it aside"
                    ) from None
                aside = path.with_name(path.name + ".damaged")
                path.rename(aside)
                log.error("raft snapshot: recovery set a damaged snapshot aside",
                          extra={"path": str(aside), "error": str(exc)})
        return None

    def save(self, snapshot: Snapshot) -> None:
        private_dir(self.dir)
        body = msgpack.packb([snapshot.index, snapshot.term, snapshot.voters, snapshot.data], use_bin_type=True)
        atomic_write(self.dir / f"{snapshot.index:020d}-{snapshot.term}.snap", frame(body))
        for old in self._files()[: -self.retain]:
            old.unlink()
