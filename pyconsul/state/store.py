"""StateStore: tables, indexes, watches, snapshot and restore.

Rules a caller must keep:
- Writes happen only inside `StateMachine.apply` (one command at a time, with the log index of that
  command); every write bumps the index of each table it changed and records the watch topics it
  touched; `finish()` then wakes the subscribers of those topics.
- Reads take an optional WatchSet and return `(index, value)`. The index is what Consul sends as
  `X-Consul-Index`: the highest index among the rows that make up the answer (or of the table, when
  there is no row), so a blocking query can tell whether the answer may have changed.
- Rows are dicts in Consul's JSON shapes; readers must not mutate them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pyconsul.clock import SYSTEM_CLOCK, Clock
from pyconsul.state.catalog import CatalogTables
from pyconsul.state.events import EventTables
from pyconsul.state.kv import KVTables
from pyconsul.state.sessions import SessionTables
from pyconsul.state.watch import Topic, WatchRegistry, WatchSet

SNAPSHOT_VERSION = 1


class StateStore(CatalogTables, KVTables, SessionTables, EventTables):
    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self.clock = clock
        self.indexes: dict[str, int] = {}
        self.watches = WatchRegistry()
        self._pending: set[Topic] = set()
        self.last_index = 0
        CatalogTables.__init__(self)
        KVTables.__init__(self)
        SessionTables.__init__(self)
        EventTables.__init__(self)

    # -- indexes and watches -------------------------------------------------------------------
    def max_index(self, *tables: str) -> int:
        idx = self.indexes
        return max((idx.get(t, 0) for t in tables), default=0)

    def _bump(self, index: int, *tables: str) -> None:
        for t in tables:
            if self.indexes.get(t, 0) < index:
                self.indexes[t] = index
            self._pending.add(("table", t))

    def _touch(self, *topics: Topic) -> None:
        self._pending.update(topics)

    def _touch_many(self, topics: Iterable[Topic]) -> None:
        self._pending.update(topics)

    def finish(self, index: int) -> int:
        """End of one applied command: remember its index and wake affected waiters."""
        if index > self.last_index:
            self.last_index = index
        pending, self._pending = self._pending, set()
        return self.watches.fire(pending)

    @staticmethod
    def watch_table(ws: WatchSet | None, *tables: str) -> None:
        if ws is not None:
            for t in tables:
                ws.add(("table", t))

    # -- snapshot / restore --------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {
            "version": SNAPSHOT_VERSION,
            "last_index": self.last_index,
            "indexes": dict(self.indexes),
            **self._catalog_snapshot(),
            **self._kv_snapshot(),
            **self._session_snapshot(),
            **self._event_snapshot(),
        }

    def restore(self, snap: dict[str, Any]) -> None:
        """Replace every table with the snapshot's and wake every waiter."""
        if snap.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"unsupported snapshot version {snap.get('version')!r}")
        self.indexes = dict(snap["indexes"])
        self.last_index = int(snap["last_index"])
        CatalogTables.__init__(self)
        KVTables.__init__(self)
        SessionTables.__init__(self)
        EventTables.__init__(self)
        self._catalog_restore(snap)
        self._kv_restore(snap)
        self._session_restore(snap)
        self._event_restore(snap)
        self._pending.clear()
        self.watches.fire_all()
