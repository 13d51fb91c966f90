"""Config entries: one row per (Kind, Name), written with Consul's set / check-and-set / delete.

A composed table (`store.config_entries`). Rows are Consul's config-entry JSON (`Kind`, `Name` and
the kind's own fields) plus `CreateIndex`/`ModifyIndex`; validating a kind's fields happens before
a command is written (the `/v1/config` endpoints, the intentions API), so the table only enforces
what needs replicated state: check-and-set against the stored ModifyIndex.

Check-and-set follows Consul (`ConfigEntry.Apply` with `cas`): `cas=0` writes only if the entry is
absent; `cas=N` only if its ModifyIndex is N. Delete with cas acts only when cas > 0 and matches.
A refused cas is not an error: it returns False and moves no index (nobody wakes).

Watch topics: `watch.table(CONFIG_ENTRIES)` (any write), `watch.config_kind(kind)` (a list of one
kind; also fired for every write of that kind) and `watch.config_entry(kind, name)` (one entry).
The index a read reports is the "config-entries" table index, as Consul's `configEntryIndex` does.
"""

from __future__ import annotations

from typing import Any

from pyconsul.state import watch
from pyconsul.state.txn import IndexTable, WriteTxn
from pyconsul.state.watch import WatchSet

Row = dict[str, Any]

CONFIG_ENTRIES = "config-entries"


class ConfigEntryTable:
    def __init__(self, txn: WriteTxn, indexes: IndexTable) -> None:
        self.txn = txn
        self.indexes = indexes
        self.clear()

    def clear(self) -> None:
        self.by_key: dict[tuple[str, str], Row] = {}

    # -- writes ----------------------------------------------------------------------------------
    def set(self, idx: int, entry: Row) -> bool:
        """Create or replace the entry named by its Kind and Name."""
        kind, name = str(entry["Kind"]), str(entry["Name"])
        old = self.by_key.get((kind, name))
        row = {k: v for k, v in entry.items() if k not in ("CreateIndex", "ModifyIndex")}
        row["CreateIndex"] = old["CreateIndex"] if old else idx
        row["ModifyIndex"] = idx
        self.by_key[(kind, name)] = row
        self._bump(idx, kind, name)
        return True

    def cas(self, idx: int, entry: Row, cas_index: int) -> bool:
        """Write only if the stored ModifyIndex equals `cas_index` (0: only if absent)."""
        old = self.by_key.get((str(entry["Kind"]), str(entry["Name"])))
        current = old["ModifyIndex"] if old else 0
        if current != cas_index:
            return False
        return self.set(idx, entry)

    def delete(self, idx: int, kind: str, name: str) -> bool:
        """Remove the entry; deleting an absent one is not an error (Consul answers the same)."""
        if self.by_key.pop((kind, name), None) is not None:
            self._bump(idx, kind, name)
        return True

    def delete_cas(self, idx: int, kind: str, name: str, cas_index: int) -> bool:
        old = self.by_key.get((kind, name))
        if old is None or cas_index <= 0 or old["ModifyIndex"] != cas_index:
            return False
        return self.delete(idx, kind, name)

    def _bump(self, idx: int, kind: str, name: str) -> None:
        self.txn.bump(idx, CONFIG_ENTRIES)
        self.txn.touch(watch.config_kind(kind), watch.config_entry(kind, name))

    # -- reads -----------------------------------------------------------------------------------
    def index(self) -> int:
        return self.indexes.get(CONFIG_ENTRIES)

    def get(self, ws: WatchSet | None, kind: str, name: str) -> tuple[int, Row | None]:
        if ws is not None:
            ws.add(watch.config_entry(kind, name))
        return self.index(), self.by_key.get((kind, name))

    def list(self, ws: WatchSet | None, kind: str | None = None) -> tuple[int, list[Row]]:
        """Entries of one kind (or all), ordered by Kind then Name."""
        if ws is not None:
            ws.add(watch.table(CONFIG_ENTRIES) if kind is None else watch.config_kind(kind))
        keys = sorted(k for k in self.by_key if kind is None or k[0] == kind)
        return self.index(), [self.by_key[k] for k in keys]

    # -- snapshot --------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {"config_entries": list(self.by_key.values())}

    def restore(self, snap: dict[str, Any]) -> None:
        self.clear()
        for row in snap.get("config_entries", []):
            self.by_key[(str(row["Kind"]), str(row["Name"]))] = row
