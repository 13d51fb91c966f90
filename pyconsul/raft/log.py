"""The in-memory Raft log the core reasons about: a base point, then the entries after it.

`base` is the (index, term, voters) just before `entries[0]`: `entries[i].index == base.index + 1 + i`.
`snapshot` is the latest state-machine image (at or after `base`; compaction may keep some
trailing entries before it so slightly lagging followers need no snapshot). Entries from
`unstable` on have not yet been handed to the driver for persisting; `applied` is how far committed entries have been handed out for
applying. The voter configuration in force is the last CONFIG entry in the log (committed or not,
as single-server changes require), else the snapshot's.
"""

from __future__ import annotations

from pyconsul.raft.messages import CONFIG, Entry, Snapshot, Voters, decode_voters


class LogError(Exception):
    """An invariant of the log would break (e.g. truncating a committed entry)."""


class RaftLog:
    def __init__(self, snapshot: Snapshot | None = None, entries: list[Entry] | None = None) -> None:
        self.snapshot = snapshot
        self.base = Snapshot(snapshot.index, snapshot.term, snapshot.voters) if snapshot else Snapshot(0, 0, {})
        self.entries: list[Entry] = []
        self.committed = self.base.index
        self.applied = self.base.index
        self.unstable = self.base.index + 1
        self.pending_snapshot: Snapshot | None = None
        # (index, voters) of every CONFIG entry still in `entries`, in order.
        self._configs: list[tuple[int, Voters]] = []
        for e in entries or []:
            if e.index <= self.base.index:
                continue
            if e.index != self.last_index + 1:
                raise LogError(f"log gap: entry {e.index} after {self.last_index}")
            self._push(e)
        self.unstable = self.last_index + 1  # what we were given is already persisted

    # ------------------------------------------------------------------ queries
    @property
    def first_index(self) -> int:
        return self.base.index + 1

    @property
    def last_index(self) -> int:
        return self.base.index + len(self.entries)

    @property
    def last_term(self) -> int:
        return self.entries[-1].term if self.entries else self.base.term

    def term(self, index: int) -> int | None:
        """Term of the entry at `index`; None when compacted away or past the end."""
        if index == self.base.index:
            return self.base.term
        off = index - self.base.index - 1
        if off < 0 or off >= len(self.entries):
            return None
        return self.entries[off].term

    def match_term(self, index: int, term: int) -> bool:
        return self.term(index) == term

    def entry(self, index: int) -> Entry:
        return self.entries[index - self.base.index - 1]

    def slice(self, lo: int, hi: int, max_bytes: int = 0) -> list[Entry] | None:
        """Entries [lo, hi); None if `lo` was compacted. At least one entry despite max_bytes."""
        if lo <= self.base.index:
            return None
        base = self.base.index + 1
        out = self.entries[lo - base : hi - base]
        if max_bytes and len(out) > 1:
            size = 0
            for i, e in enumerate(out):
                size += len(e.data) + 16
                if size > max_bytes and i > 0:
                    return out[:i]
        return out

    def is_up_to_date(self, last_index: int, last_term: int) -> bool:
        """Would a candidate with this log be at least as up to date as ours (§5.4.1)?"""
        return last_term > self.last_term or (last_term == self.last_term and last_index >= self.last_index)

    def find_conflict_by_term(self, index: int, term: int) -> int:
        """The largest index <= `index` whose term is <= `term` (or the snapshot index)."""
        index = min(index, self.last_index)
        while index > self.base.index:
            t = self.term(index)
            if t is not None and t <= term:
                break
            index -= 1
        return index

    def voters(self) -> Voters:
        return self._configs[-1][1] if self._configs else self.base.voters

    def voters_at(self, index: int) -> Voters:
        """The configuration in force at `index` (used when compacting up to it)."""
        for ci, v in reversed(self._configs):
            if ci <= index:
                return v
        return self.base.voters

    def last_config_index(self) -> int:
        return self._configs[-1][0] if self._configs else self.base.index

    # ------------------------------------------------------------------ changes
    def _push(self, e: Entry) -> None:
        self.entries.append(e)
        if e.kind == CONFIG:
            self._configs.append((e.index, decode_voters(e.data)))

    def append(self, entries: list[Entry]) -> None:
        """Append, first truncating any existing suffix from entries[0].index on."""
        if not entries:
            return
        first = entries[0].index
        # Invariant: the log stays one run of indexes with terms never going back. Decoding
        # already refuses forged runs; this keeps a bug from ever writing a gap to disk.
        prev_term = self.term(first - 1)
        for i, e in enumerate(entries):
            if e.index != first + i:
                raise LogError(f"log gap: entry {e.index} where {first + i} was due")
            if prev_term is not None and e.term < prev_term:
                raise LogError(f"entry {e.index} has term {e.term}, before {prev_term}")
            prev_term = e.term
        if first <= self.committed:
            raise LogError(f"would overwrite committed entry {first} (commit {self.committed})")
        if first > self.last_index + 1:
            raise LogError(f"log gap: entry {first} after {self.last_index}")
        if first <= self.last_index:
            del self.entries[first - self.base.index - 1 :]
            while self._configs and self._configs[-1][0] >= first:
                self._configs.pop()
        for e in entries:
            self._push(e)
        self.unstable = min(self.unstable, first)

    def find_conflict(self, entries: list[Entry]) -> int:
        """Index of the first entry that is new or differs in term from ours; 0 if none."""
        for e in entries:
            if not self.match_term(e.index, e.term):
                return e.index
        return 0

    def maybe_append(self, prev_index: int, prev_term: int, commit: int, entries: list[Entry]) -> int | None:
        """AppendEntries receiver rules; the last index now known to match, or None on mismatch."""
        if not self.match_term(prev_index, prev_term):
            return None
        last_new = prev_index + len(entries)
        ci = self.find_conflict(entries)
        if ci:
            self.append(entries[ci - prev_index - 1 :])
        self.commit_to(min(commit, last_new))
        return last_new

    def commit_to(self, index: int) -> None:
        if index > self.committed:
            if index > self.last_index:
                raise LogError(f"commit {index} beyond last index {self.last_index}")
            self.committed = index

    def restore(self, snapshot: Snapshot) -> None:
        """Replace the whole log by `snapshot` (a follower that fell behind the leader's log)."""
        self.snapshot = snapshot
        self.base = Snapshot(snapshot.index, snapshot.term, snapshot.voters)
        self.entries = []
        self._configs = []
        self.committed = snapshot.index
        self.applied = snapshot.index  # the driver installs the snapshot before later entries
        self.unstable = snapshot.index + 1
        self.pending_snapshot = snapshot

    def compact(self, snapshot: Snapshot, trailing: int = 0) -> None:
        """`snapshot` now covers the state up to its index; drop entries more than `trailing`
        before it."""
        if snapshot.index > self.applied:
            raise LogError(f"snapshot {snapshot.index} beyond applied {self.applied}")
        if self.snapshot is not None and snapshot.index <= self.snapshot.index:
            return
        self.snapshot = snapshot
        base_index = snapshot.index - trailing
        if base_index <= self.base.index:
            return
        base_term = self.term(base_index)
        assert base_term is not None
        base_voters = self.voters_at(base_index)
        del self.entries[: base_index - self.base.index]
        self._configs = [(i, v) for i, v in self._configs if i > base_index]
        self.base = Snapshot(base_index, base_term, base_voters)

    def take_unstable(self) -> list[Entry]:
        out = self.slice(self.unstable, self.last_index + 1) or []
        self.unstable = self.last_index + 1
        return out

    def take_committed(self, limit: int = 0) -> list[Entry]:
        hi = self.committed + 1
        if limit:
            hi = min(hi, self.applied + 1 + limit)
        out = self.slice(self.applied + 1, hi) or []
        self.applied = self.applied + len(out)
        return out
