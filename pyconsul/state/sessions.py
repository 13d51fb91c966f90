"""Sessions: creation rules, invalidation (node gone, check critical), lock release or delete.

Watch topics: watch.sessions, watch.session(id), watch.node_sessions(node). A session reads the
catalog (its node and checks must exist and be healthy) and holds KV locks; the store wires this
table into the catalog (to end sessions whose health is lost) and the KV table (to check a lock's
session exists).
"""

from __future__ import annotations

from typing import Any

from pyconsul.state import watch
from pyconsul.state.catalog import CatalogTable
from pyconsul.state.errors import StateError
from pyconsul.state.kv import KVTable
from pyconsul.state.queries import QueryTable
from pyconsul.state.txn import IndexTable, WriteTxn
from pyconsul.state.watch import WatchSet

Row = dict[str, Any]

NS_PER_S = 1_000_000_000
SESSIONS = "sessions"


class SessionTable:
    def __init__(self, txn: WriteTxn, indexes: IndexTable, catalog: CatalogTable, kv: KVTable) -> None:
        self.txn = txn
        self.indexes = indexes
        self.catalog = catalog
        self.kv = kv
        self.queries: QueryTable | None = None  # wired by the store
        self.by_id: dict[str, Row] = {}

    def exists(self, session_id: str) -> bool:
        return session_id in self.by_id

    # ---------------------------------------------------------------- writes
    def create(self, idx: int, sess: Row) -> str:
        sid = sess["ID"]
        node = sess.get("Node", "")
        if sid in self.by_id:
            raise StateError(f"Session {sid!r} already exists")
        if node not in self.catalog.nodes_by_name:
            raise StateError(f"Missing node registration for {node!r}")
        node_checks = list(sess.get("NodeChecks") or [])
        service_checks = sess.get("ServiceChecks") or None
        all_checks = node_checks + [c.get("ID", "") for c in (service_checks or [])]
        checks = self.catalog.checks_by_node.get(node, {})
        for cid in all_checks:
            chk = checks.get(cid)
            if chk is None:
                raise StateError(f"Missing check '{cid}' registration")
            if chk["Status"] == "critical":
                raise StateError(f"Check '{cid}' is in critical state")
        row: Row = {
            "ID": sid,
            "Name": sess.get("Name", "") or "",
            "Node": node,
            "LockDelay": int(sess.get("LockDelay", 15 * NS_PER_S)),
            "Behavior": sess.get("Behavior") or "release",
            "TTL": sess.get("TTL", "") or "",
            "NodeChecks": node_checks,
            "ServiceChecks": service_checks,
            "CreateIndex": idx,
            "ModifyIndex": idx,
        }
        self.by_id[sid] = row
        self._touch(idx, sid, node)
        return sid

    def destroy(self, idx: int, sid: str) -> bool:
        sess = self.by_id.pop(sid, None)
        if sess is None:
            return False
        self.kv.release_locks(idx, sid, sess["Behavior"] == "delete", sess["LockDelay"] / NS_PER_S)
        if self.queries is not None:
            self.queries.delete_for_session(idx, sid)
        self._touch(idx, sid, sess["Node"])
        return True

    def _touch(self, idx: int, sid: str, node: str) -> None:
        self.txn.bump(idx, SESSIONS)
        self.txn.touch(watch.sessions(), watch.session(sid), watch.node_sessions(node))

    # SessionInvalidator: the catalog calls these when a session's health is lost.
    def invalidate_for_node(self, idx: int, node: str) -> None:
        for sid in [s for s, row in self.by_id.items() if row["Node"] == node]:
            self.destroy(idx, sid)

    def invalidate_for_check(self, idx: int, node: str, check_id: str) -> None:
        doomed = []
        for sid, row in self.by_id.items():
            if row["Node"] != node:
                continue
            ids = list(row["NodeChecks"]) + [c.get("ID", "") for c in (row["ServiceChecks"] or [])]
            if check_id in ids:
                doomed.append(sid)
        for sid in doomed:
            self.destroy(idx, sid)

    # ---------------------------------------------------------------- reads
    def get(self, ws: WatchSet | None, sid: str) -> tuple[int, Row | None]:
        if ws is not None:
            ws.add(watch.session(sid))
        return self.indexes.get(SESSIONS), self.by_id.get(sid)

    def list_all(self, ws: WatchSet | None) -> tuple[int, list[Row]]:
        if ws is not None:
            ws.add(watch.sessions())
        rows = sorted(self.by_id.values(), key=lambda r: r["CreateIndex"])
        return self.indexes.get(SESSIONS), rows

    def node_sessions(self, ws: WatchSet | None, node: str) -> tuple[int, list[Row]]:
        if ws is not None:
            ws.add(watch.node_sessions(node))
        rows = [r for r in self.by_id.values() if r["Node"] == node]
        rows.sort(key=lambda r: r["CreateIndex"])
        return self.indexes.get(SESSIONS), rows

    # ---------------------------------------------------------------- snapshot
    def snapshot(self) -> dict[str, Any]:
        return {"sessions": list(self.by_id.values())}

    def restore(self, snap: dict[str, Any]) -> None:
        self.by_id = {row["ID"]: row for row in snap["sessions"]}
