"""The index table and the write transaction every table writes through.

Consul keeps one "index" table: table name → index of the last write that changed it. A read whose
answer has no row of its own reports it, so a blocking query can tell whether it may have changed.

One `WriteTxn` is shared by all the tables of a store. Applying a command goes through it:
`bump(index, *tables)` raises table indexes, `touch(*topics)` records what to wake, and then the
applier calls exactly one of `commit()` (wake the subscribers of every touched topic) or `abort()`
(undo the index bumps, wake nobody). A table that must undo part of a command (a /v1/txn that
fails halfway) takes a `savepoint()` and `rollback(savepoint)`s to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pyconsul.state import watch
from pyconsul.state.watch import Topic, WatchRegistry


class IndexTable:
    """Table name → the index of the last write that changed it (0: never written)."""

    __slots__ = ("_by_table",)

    def __init__(self) -> None:
        self._by_table: dict[str, int] = {}

    def get(self, table: str) -> int:
        return self._by_table.get(table, 0)

    def max(self, *tables: str) -> int:
        by_table = self._by_table
        return max((by_table.get(t, 0) for t in tables), default=0)

    def as_dict(self) -> dict[str, int]:
        return dict(self._by_table)

    def replace(self, indexes: Mapping[str, int]) -> None:
        """Take a snapshot's indexes (in place: every table holds this object)."""
        self._by_table = {str(k): int(v) for k, v in indexes.items()}

    def _set(self, table: str, index: int) -> None:
        self._by_table[table] = index

    def _forget(self, table: str) -> None:
        self._by_table.pop(table, None)


@dataclass(frozen=True)
class Savepoint:
    bumps: int
    topics: frozenset[Topic]


class WriteTxn:
    """What the command being applied has touched: index bumps (undoable) and topics to wake."""

    def __init__(self, indexes: IndexTable, watches: WatchRegistry) -> None:
        self.indexes = indexes
        self.watches = watches
        self._topics: set[Topic] = set()
        # (table, index before the bump; 0 = absent) in bump order, so abort can undo them.
        self._undo: list[tuple[str, int]] = []

    def bump(self, index: int, *tables: str) -> None:
        """Raise each table's index to `index` (never lower it) and wake its table topic."""
        by_table = self.indexes._by_table  # every write passes here: no method calls per table
        topics = self._topics
        for t in tables:
            old = by_table.get(t, 0)
            if old < index:
                self._undo.append((t, old))
                by_table[t] = index
            topics.add(watch.table(t))

    def touch(self, *topics: Topic) -> None:
        self._topics.update(topics)

    def touch_all(self, topics: Iterable[Topic]) -> None:
        self._topics.update(topics)

    @property
    def topics(self) -> frozenset[Topic]:
        """The topics this transaction will wake on commit (for tests and diagnostics)."""
        return frozenset(self._topics)

    def savepoint(self) -> Savepoint:
        return Savepoint(len(self._undo), frozenset(self._topics))

    def rollback(self, point: Savepoint) -> None:
        """Undo the index bumps and forget the topics recorded since `point`."""
        undo = self._undo
        while len(undo) > point.bumps:
            table, old = undo.pop()
            if old:
                self.indexes._set(table, old)
            else:
                self.indexes._forget(table)
        self._topics = set(point.topics)

    def abort(self) -> None:
        """The command was refused: undo its index bumps; nobody is woken."""
        self.rollback(Savepoint(0, frozenset()))

    def commit(self) -> int:
        """The command is applied: wake every subscriber of a touched topic; returns how many."""
        self._undo.clear()
        topics, self._topics = self._topics, set()
        return self.watches.fire(topics)

    def discard(self) -> None:
        """Forget everything pending without undoing (the tables were just replaced wholesale)."""
        self._undo.clear()
        self._topics.clear()
