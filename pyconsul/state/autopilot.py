"""The autopilot configuration: one replicated row, written with check-and-set like Consul's.

A composed table (`store.autopilot`): `set` bumps the "autopilot" index through the store's
write transaction when it applies; readers take `indexes.get(AUTOPILOT)` and may watch
`watch.table(AUTOPILOT)`.
"""

from __future__ import annotations

from typing import Any

from pyconsul.state.txn import IndexTable, WriteTxn

Row = dict[str, Any]

# Consul's defaults (agent/config/default.go), as the API shows them before anyone writes.
DEFAULT_CONFIG: Row = {
    "CleanupDeadServers": True,
    "LastContactThreshold": "200ms",
    "MaxTrailingLogs": 250,
    "MinQuorum": 0,
    "ServerStabilizationTime": "10s",
    "RedundancyZoneTag": "",
    "DisableUpgradeMigration": False,
    "UpgradeVersionTag": "",
}


AUTOPILOT = "autopilot"


class AutopilotTable:
    def __init__(self, txn: WriteTxn, indexes: IndexTable) -> None:
        self.txn = txn
        self.indexes = indexes
        self.clear()

    def clear(self) -> None:
        self.config: Row | None = None
        self.create_index = 0
        self.modify_index = 0

    def get(self) -> Row:
        row = dict(self.config if self.config is not None else DEFAULT_CONFIG)
        row["CreateIndex"] = self.create_index
        row["ModifyIndex"] = self.modify_index
        return row

    def set(self, idx: int, config: Row, cas: int | None) -> bool:
        """Store `config` (only its known keys); with `cas`, only if ModifyIndex equals it."""
        if cas is not None and cas != self.modify_index:
            return False
        self.config = {k: config.get(k, v) for k, v in DEFAULT_CONFIG.items()}
        if not self.create_index:
            self.create_index = idx
        self.modify_index = idx
        self.txn.bump(idx, AUTOPILOT)
        return True

    def snapshot(self) -> dict[str, Any]:
        return {"autopilot": {"config": self.config, "create": self.create_index, "modify": self.modify_index}}

    def restore(self, snap: dict[str, Any]) -> None:
        self.clear()
        saved = snap.get("autopilot") or {}
        self.config = saved.get("config")
        self.create_index = int(saved.get("create", 0))
        self.modify_index = int(saved.get("modify", 0))
