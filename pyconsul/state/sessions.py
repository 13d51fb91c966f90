"""Sessions: creation rules, invalidation (node gone, check critical), lock release or delete.

Watch topics: ("sessions",), ("session", id), ("node-sessions", node).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyconsul.state.errors import StateError
from pyconsul.state.watch import WatchSet

if TYPE_CHECKING:
    from pyconsul.state.store import StateStore

Row = dict[str, Any]

NS_PER_S = 1_000_000_000


class SessionTables:
    def __init__(self) -> None:
        self.sessions_by_id: dict[str, Row] = {}
        self.session_locks: dict[str, set[str]] = {}

    def session_create(self: StateStore, idx: int, sess: Row) -> str:
        sid = sess["ID"]
        node = sess.get("Node", "")
        if sid in self.sessions_by_id:
            raise StateError(f"Session {sid!r} already exists")
        if node not in self.nodes_by_name:
            raise StateError(f"Missing node registration for {node!r}")
        node_checks = list(sess.get("NodeChecks") or [])
        service_checks = sess.get("ServiceChecks") or None
        all_checks = node_checks + [c.get("ID", "") for c in (service_checks or [])]
        checks = self.checks_by_node.get(node, {})
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
        self.sessions_by_id[sid] = row
        self._bump(idx, "sessions")
        self._touch(("sessions",), ("session", sid), ("node-sessions", node))
        return sid

    def session_destroy(self: StateStore, idx: int, sid: str) -> bool:
        sess = self.sessions_by_id.pop(sid, None)
        if sess is None:
            return False
        keys = sorted(self.session_locks.pop(sid, set()))
        delay = sess["LockDelay"] / NS_PER_S
        until = self.clock.monotonic() + delay
        for key in keys:
            row = self.kv.get(key)
            if row is None or row.get("Session") != sid:
                continue
            if sess["Behavior"] == "delete":
                self._delete(idx, key)
            else:
                new = {k: v for k, v in row.items() if k != "Session"}
                self._put(idx, new)
            if delay > 0:
                self.lock_delays[key] = until
        self._bump(idx, "sessions")
        self._touch(("sessions",), ("session", sid), ("node-sessions", sess["Node"]))
        return True

    def _invalidate_sessions_for_node(self: StateStore, idx: int, node: str) -> None:
        for sid in [s for s, row in self.sessions_by_id.items() if row["Node"] == node]:
            self.session_destroy(idx, sid)

    def _invalidate_sessions_for_check(self: StateStore, idx: int, node: str, check_id: str) -> None:
        doomed = []
        for sid, row in self.sessions_by_id.items():
            if row["Node"] != node:
                continue
            ids = list(row["NodeChecks"]) + [c.get("ID", "") for c in (row["ServiceChecks"] or [])]
            if check_id in ids:
                doomed.append(sid)
        for sid in doomed:
            self.session_destroy(idx, sid)

    def lock_delay_remaining(self: StateStore, key: str) -> float:
        until = self.lock_delays.get(key)
        if until is None:
            return 0.0
        left = until - self.clock.monotonic()
        if left <= 0:
            del self.lock_delays[key]
            return 0.0
        return left

    # ---------------------------------------------------------------- reads
    def session_get(self: StateStore, ws: WatchSet | None, sid: str) -> tuple[int, Row | None]:
        if ws is not None:
            ws.add(("session", sid))
        return self.max_index("sessions"), self.sessions_by_id.get(sid)

    def session_list(self: StateStore, ws: WatchSet | None) -> tuple[int, list[Row]]:
        if ws is not None:
            ws.add(("sessions",))
        rows = sorted(self.sessions_by_id.values(), key=lambda r: r["CreateIndex"])
        return self.max_index("sessions"), rows

    def node_sessions(self: StateStore, ws: WatchSet | None, node: str) -> tuple[int, list[Row]]:
        if ws is not None:
            ws.add(("node-sessions", node))
        rows = [r for r in self.sessions_by_id.values() if r["Node"] == node]
        rows.sort(key=lambda r: r["CreateIndex"])
        return self.max_index("sessions"), rows

    # ---------------------------------------------------------------- snapshot
    def _session_snapshot(self) -> dict[str, Any]:
        return {"sessions": list(self.sessions_by_id.values())}

    def _session_restore(self, snap: dict[str, Any]) -> None:
        for row in snap["sessions"]:
            self.sessions_by_id[row["ID"]] = row
        for key, row in self.kv.items():
            if row.get("Session"):
                self.session_locks.setdefault(row["Session"], set()).add(key)
