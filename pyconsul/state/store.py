"""StateStore: the tables, their shared index table and write transaction, snapshot and restore.

The store is composed of one object per table: `store.catalog` (nodes, services, checks),
`store.kv` (keys, tombstones, locks), `store.sessions`, `store.events`, `store.autopilot`, `store.queries`
(prepared queries), `store.coordinates`, `store.acl` (tokens, policies, roles) `store.config_entries` and `store.connect_ca`.
They share one `IndexTable` (`store.indexes`), one `WriteTxn` (`store.txn`) and the `WatchRegistry`
(`store.watches`) blocking queries wait on.

Rules a caller must keep:
- Writes happen only inside `StateMachine.apply` (one command at a time, with the log index of that
  command); every write bumps the index of each table it changed and records the watch topics it
  touched in `store.txn`. The applier then either aborts (`store.txn.abort()`: the command was
  refused) or not, and always ends the command with `store.commit(index)`, which wakes the
  subscribers of the touched topics.
- Reads take an optional WatchSet and return `(index, value)`. The index is what Consul sends as
  `X-Consul-Index`: the highest index among the rows that make up the answer (or of the table, when
  there is no row), so a blocking query can tell whether the answer may have changed.
- Rows are dicts in Consul's JSON shapes; readers must not mutate them.
- Table objects live as long as the store (restore refills them in place), so a reader may keep
  a reference to one (DNS keeps `store.catalog`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pyconsul.clock import SYSTEM_CLOCK, Clock
from pyconsul.state.acl import ACLTable
from pyconsul.state.agent_ca import AgentCATable
from pyconsul.state.autopilot import AutopilotTable
from pyconsul.state.catalog import CatalogTable
from pyconsul.state.config_entries import ConfigEntryTable
from pyconsul.state.connect_ca import ConnectCATable
from pyconsul.state.coordinates import CoordinateTable
from pyconsul.state.events import EventTable
from pyconsul.state.kv import KVTable
from pyconsul.state.queries import QueryTable
from pyconsul.state.sessions import SessionTable
from pyconsul.state.txn import IndexTable, WriteTxn
from pyconsul.state.watch import WatchRegistry

SNAPSHOT_VERSION = 1


class StateStore:
    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self.clock = clock
        self.watches = WatchRegistry()
        self.indexes = IndexTable()
        self.txn = WriteTxn(self.indexes, self.watches)
        self.last_index = 0
        self.catalog = CatalogTable(self.txn, self.indexes)
        self.kv = KVTable(self.txn, self.indexes, clock)
        self.sessions = SessionTable(self.txn, self.indexes, self.catalog, self.kv)
        self.events = EventTable(self.txn, self.indexes)
        self.autopilot = AutopilotTable(self.txn, self.indexes)
        self.queries = QueryTable(self.txn, self.indexes)
        self.coordinates = CoordinateTable(self.txn, self.indexes, self.catalog)
        self.acl = ACLTable(self.txn, self.indexes)
        self.agent_ca = AgentCATable(self.txn, self.indexes)  # auto_encrypt's built-in CA
        self.config_entries = ConfigEntryTable(self.txn, self.indexes)
        self.connect_ca = ConnectCATable(self.txn, self.indexes)
        # Sessions read the catalog and the KV table; both answer back to it (the catalog ends
        # sessions whose node or check fails, a KV lock needs a live session). Wired here so no
        # table module imports the session table.
        self.catalog.sessions = self.sessions
        self.kv.sessions = self.sessions
        self.sessions.queries = self.queries  # a prepared query tied to a session ends with it

    def max_index(self, *tables: str) -> int:
        return self.indexes.max(*tables)

    def commit(self, index: int) -> int:
        """End of one applied command: remember its index and wake affected waiters."""
        if index > self.last_index:
            self.last_index = index
        return self.txn.commit()

    # -- snapshot / restore --------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {
            "version": SNAPSHOT_VERSION,
            "last_index": self.last_index,
            "indexes": self.indexes.as_dict(),
            **self.catalog.snapshot(),
            **self.kv.snapshot(),
            **self.sessions.snapshot(),
            **self.events.snapshot(),
            **self.autopilot.snapshot(),
            **self.queries.snapshot(),
            **self.coordinates.snapshot(),
            **self.acl.snapshot(),
            **self.agent_ca.snapshot(),
            **self.config_entries.snapshot(),
            **self.connect_ca.snapshot(),
        }

    def capture(self, every: int = 0) -> Iterator[None | dict[str, Any]]:
        """snapshot() as of now, with the large tables (catalog, KV) as functions that build their
        part when called (off the event loop). Yields None every `every` rows copied (0: never),
        then the capture: a caller that applies nothing until it ends can run other work in
        between (reads, Raft), so a large catalog's capture holds up nobody but the writes."""
        catalog = kv = None
        for step in self.catalog.capture(every):
            if step is None:
                yield None
            catalog = step
        for step in self.kv.capture(every):
            if step is None:
                yield None
            kv = step
        assert catalog is not None and kv is not None
        yield {
            "version": SNAPSHOT_VERSION,
            "last_index": self.last_index,
            "indexes": self.indexes.as_dict(),
            **catalog,
            **kv,
            **self.sessions.snapshot(),
            **self.events.snapshot(),
            **self.autopilot.snapshot(),
            **self.queries.snapshot(),
            **self.coordinates.snapshot(),
            **self.acl.snapshot(),
            **self.agent_ca.snapshot(),
            **self.config_entries.snapshot(),
            **self.connect_ca.snapshot(),
        }

    def restore(self, snap: dict[str, Any]) -> None:
        """Replace every table with the snapshot's and wake every waiter."""
        if snap.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"unsupported snapshot version {snap.get('version')!r}")
        self.indexes.replace(snap["indexes"])
        self.last_index = int(snap["last_index"])
        self.catalog.restore(snap)
        self.kv.restore(snap)
        self.sessions.restore(snap)
        self.events.restore(snap)
        self.autopilot.restore(snap)
        self.queries.restore(snap)
        self.coordinates.restore(snap)
        self.acl.restore(snap)
        self.agent_ca.restore(snap)
        self.config_entries.restore(snap)
        self.connect_ca.restore(snap)
        self.txn.discard()
        self.watches.fire_all()
