"""The Connect CA's replicated state: its configuration, its roots and the serial counter.

A composed table (`store.connect_ca`). The leader builds every certificate (pure code in
`pyconsul/connect/ca.py`) and writes only finished rows, so applying is deterministic:
- `initialize` stores the first configuration (with the cluster ID) and root; a second one is
  refused (two leaders racing at first leadership), returning False.
- `set_roots` replaces the configuration and the root list at once (rotation), only if the roots
  index is still `cas` — a rotation computed from stale roots is refused, returning False.
- `next_serial` hands out the provider counter (leaf and root serials), one per command.

Rows keep the signing key (`SigningKey`) next to the root; the API strips it.
Watch topics: `watch.table(CA_ROOTS)` (roots and configuration), `watch.table(CA_SERIAL)`.
"""

from __future__ import annotations

from typing import Any

from pyconsul.state import watch
from pyconsul.state.txn import IndexTable, WriteTxn
from pyconsul.state.watch import WatchSet

Row = dict[str, Any]

CA_ROOTS = "connect-ca-roots"
CA_SERIAL = "connect-ca-serial"


class ConnectCATable:
    def __init__(self, txn: WriteTxn, indexes: IndexTable) -> None:
        self.txn = txn
        self.indexes = indexes
        self.clear()

    def clear(self) -> None:
        self.config: Row | None = None
        self.roots: list[Row] = []
        self.serial = 0

    # -- writes ----------------------------------------------------------------------------------
    def initialize(self, idx: int, config: Row, roots: list[Row]) -> bool:
        if self.config is not None:
            return False
        self._store(idx, config, roots)
        return True

    def set_roots(self, idx: int, config: Row, roots: list[Row], cas: int) -> bool:
        if self.config is None or self.indexes.get(CA_ROOTS) != cas:
            return False
        self._store(idx, config, roots)
        return True

    def _store(self, idx: int, config: Row, roots: list[Row]) -> None:
        old_config = self.config or {}
        self.config = {**config, "CreateIndex": old_config.get("CreateIndex", idx), "ModifyIndex": idx}
        before = {r["ID"]: r for r in self.roots}
        rows = []
        for root in roots:
            old = before.get(root["ID"])
            unchanged = old is not None and all(old.get(k) == v for k, v in root.items()
                                                if k not in ("CreateIndex", "ModifyIndex"))
            row = dict(root)
            row["CreateIndex"] = old["CreateIndex"] if old else idx
            row["ModifyIndex"] = old["ModifyIndex"] if old and unchanged else idx
            rows.append(row)
        self.roots = rows
        self.txn.bump(idx, CA_ROOTS)

    def next_serial(self, idx: int) -> int:
        self.serial += 1
        self.txn.bump(idx, CA_SERIAL)
        return self.serial

    # -- reads -----------------------------------------------------------------------------------
    def index(self) -> int:
        return self.indexes.get(CA_ROOTS)

    def get_roots(self, ws: WatchSet | None) -> tuple[int, list[Row]]:
        if ws is not None:
            ws.add(watch.table(CA_ROOTS))
        return self.index(), self.roots

    def get_config(self, ws: WatchSet | None) -> tuple[int, Row | None]:
        if ws is not None:
            ws.add(watch.table(CA_ROOTS))
        return self.index(), self.config

    def active_root(self) -> Row | None:
        return next((r for r in self.roots if r.get("Active")), None)

    # -- snapshot --------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {"connect_ca": {"config": self.config, "roots": self.roots, "serial": self.serial}}

    def restore(self, snap: dict[str, Any]) -> None:
        saved = snap.get("connect_ca") or {}
        if not saved.get("roots") and self.roots:
            # A snapshot from before the CA made its first root keeps the CA there is: the
            # leaves and agent certificates it signed are out there, and dropping it would make
            # every server refuse them until they renew. Every server holds the same replicated
            # CA, so each restores to the same state.
            return
        self.clear()
        self.config = saved.get("config")
        self.roots = list(saved.get("roots") or [])
        self.serial = int(saved.get("serial", 0))
