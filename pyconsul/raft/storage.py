"""The narrow storage interfaces the Raft driver depends on (hashicorp/raft's split).

Every mutating call returns only once the data is durable (fsync'd): Raft's promises to other
servers (a vote, an acknowledged entry) rest on it. In-memory versions for `-dev` and tests
are here too; the on-disk ones live in segment_log.py, stable.py and snapshot.py.
"""

from __future__ import annotations

from typing import Protocol

from pyconsul.raft.messages import Entry, Snapshot

# The `agent` flag that lets a start cut damaged Raft state instead of refusing to start.
RECOVER_FLAG = "raft-recover-truncate"


class StorageError(Exception):
    """Stored Raft state is unreadable in a way that is not a torn tail (real corruption)."""


class LogStore(Protocol):
    def load(self) -> list[Entry]:
        """Every stored entry, consecutive by index (a torn tail has been cut off)."""

    def append(self, entries: list[Entry]) -> None:
        """Store `entries`, first dropping any stored entries from entries[0].index on."""

    def compact(self, upto: int) -> None:
        """Entries up to `upto` are covered by a snapshot and may be deleted."""

    def reset(self) -> None:
        """Drop every entry (a snapshot received from the leader replaces the whole log)."""

    def close(self) -> None: ...


class StableStore(Protocol):
    def load(self) -> tuple[int, str, str]:
        """(current term, voted for, server ID); (0, "", "") when new."""

    def save(self, term: int, vote: str, server_id: str) -> None: ...


class SnapshotStore(Protocol):
    def latest(self) -> Snapshot | None: ...

    def save(self, snapshot: Snapshot) -> None: ...


class MemoryLogStore:
    def __init__(self) -> None:
        self.entries: list[Entry] = []

    def load(self) -> list[Entry]:
        return list(self.entries)

    def append(self, entries: list[Entry]) -> None:
        if entries:
            first = entries[0].index
            self.entries = [e for e in self.entries if e.index < first] + list(entries)

    def compact(self, upto: int) -> None:
        self.entries = [e for e in self.entries if e.index > upto]

    def reset(self) -> None:
        self.entries = []

    def close(self) -> None:
        pass


class MemoryStableStore:
    def __init__(self) -> None:
        self.state: tuple[int, str, str] = (0, "", "")

    def load(self) -> tuple[int, str, str]:
        return self.state

    def save(self, term: int, vote: str, server_id: str) -> None:
        self.state = (term, vote, server_id)


class MemorySnapshotStore:
    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None

    def latest(self) -> Snapshot | None:
        return self.snapshot

    def save(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
