"""KV table with tombstones, prefix watches and atomic transactions.

Watch topics: ("kv", key) for a single key and ("kvp", prefix) for every prefix of a changed key,
so `?recurse` watchers of "a/" wake on "a/b" but not on "c". Deletes leave tombstones (key → index)
so a recurse query's index moves forward on a delete, as Consul's does.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from sortedcontainers import SortedDict

from pyconsul.state.errors import StateError
from pyconsul.state.watch import WatchSet

if TYPE_CHECKING:
    from pyconsul.state.store import StateStore

Row = dict[str, Any]

MAX_VALUE_SIZE = 512 * 1024


class TxnAbort(Exception):
    def __init__(self, op_index: int, what: str) -> None:
        super().__init__(what)
        self.op_index = op_index
        self.what = what


def _prefix_ends(prefix: str) -> str | None:
    """Smallest string greater than every string starting with prefix (None: unbounded)."""
    if not prefix:
        return None
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


class KVTables:
    def __init__(self) -> None:
        self.kv: SortedDict = SortedDict()
        self.tombstones: SortedDict = SortedDict()
        # key -> monotonic time before which it cannot be re-acquired (session lock-delay).
        self.lock_delays: dict[str, float] = {}
        self._journal: dict[str, tuple[Row | None, int | None]] | None = None

    # ---------------------------------------------------------------- helpers
    def _kv_topics(self: StateStore, key: str) -> None:
        self._touch(("kv", key))
        self._touch_many(("kvp", key[:i]) for i in range(len(key) + 1))

    def _remember(self, key: str) -> None:
        j = self._journal
        if j is not None and key not in j:
            j[key] = (self.kv.get(key), self.tombstones.get(key))

    def _put(self: StateStore, idx: int, row: Row) -> Row:
        key = row["Key"]
        self._remember(key)
        row["ModifyIndex"] = idx
        self.kv[key] = row
        self.tombstones.pop(key, None)
        self._bump(idx, "kvs")
        self._kv_topics(key)
        return row

    def _delete(self: StateStore, idx: int, key: str) -> None:
        if key not in self.kv:
            return
        self._remember(key)
        row = self.kv.pop(key)
        if row.get("Session"):
            self.session_locks.get(row["Session"], set()).discard(key)
        self.tombstones[key] = idx
        self._bump(idx, "kvs", "tombstones")
        self._kv_topics(key)

    def _keys_with_prefix(self, prefix: str) -> list[str]:
        end = _prefix_ends(prefix)
        if end is None:
            return list(self.kv.keys())
        return list(self.kv.irange(prefix, end, inclusive=(True, False)))

    # ---------------------------------------------------------------- writes
    def kv_set(self: StateStore, idx: int, key: str, value: bytes | None, flags: int) -> Row:
        existing = self.kv.get(key)
        row: Row = {
            "Key": key,
            "Flags": flags,
            "Value": value,
            "LockIndex": existing["LockIndex"] if existing else 0,
            "CreateIndex": existing["CreateIndex"] if existing else idx,
        }
        if existing and existing.get("Session"):
            row["Session"] = existing["Session"]
        return self._put(idx, row)

    def kv_cas(self: StateStore, idx: int, key: str, value: bytes | None, flags: int, cas: int) -> bool:
        existing = self.kv.get(key)
        if cas == 0 and existing is not None:
            return False
        if cas != 0 and (existing is None or existing["ModifyIndex"] != cas):
            return False
        self.kv_set(idx, key, value, flags)
        return True

    def kv_lock(self: StateStore, idx: int, key: str, value: bytes | None, flags: int, session: str) -> bool:
        if session not in self.sessions_by_id:
            raise StateError(f'invalid session "{session}"')
        existing = self.kv.get(key)
        if existing is not None and existing.get("Session"):
            if existing["Session"] != session:
                return False
            lock_index = existing["LockIndex"]
        else:
            lock_index = (existing["LockIndex"] if existing else 0) + 1
        row: Row = {
            "Key": key,
            "Flags": flags,
            "Value": value,
            "LockIndex": lock_index,
            "Session": session,
            "CreateIndex": existing["CreateIndex"] if existing else idx,
        }
        self._put(idx, row)
        self.session_locks.setdefault(session, set()).add(key)
        return True

    def kv_unlock(self: StateStore, idx: int, key: str, value: bytes | None, flags: int, session: str) -> bool:
        existing = self.kv.get(key)
        if existing is None or existing.get("Session") != session:
            return False
        row: Row = {
            "Key": key,
            "Flags": flags,
            "Value": value,
            "LockIndex": existing["LockIndex"],
            "CreateIndex": existing["CreateIndex"],
        }
        self._put(idx, row)
        self.session_locks.get(session, set()).discard(key)
        return True

    def kv_delete(self: StateStore, idx: int, key: str) -> None:
        self._delete(idx, key)

    def kv_delete_cas(self: StateStore, idx: int, key: str, cas: int) -> bool:
        existing = self.kv.get(key)
        if existing is None:
            return cas == 0
        if existing["ModifyIndex"] != cas:
            return False
        self._delete(idx, key)
        return True

    def kv_delete_tree(self: StateStore, idx: int, prefix: str) -> None:
        for key in self._keys_with_prefix(prefix):
            self._delete(idx, key)

    def reap_tombstones(self: StateStore, upto: int) -> None:
        for key in [k for k, i in self.tombstones.items() if i <= upto]:
            del self.tombstones[key]

    # ---------------------------------------------------------------- reads
    def kv_get(self: StateStore, ws: WatchSet | None, key: str) -> tuple[int, Row | None]:
        if ws is not None:
            ws.add(("kv", key))
        row = self.kv.get(key)
        if row is not None:
            return row["ModifyIndex"], row
        return self.max_index("kvs", "tombstones"), None

    def kv_list(self: StateStore, ws: WatchSet | None, prefix: str) -> tuple[int, list[Row]]:
        if ws is not None:
            ws.add(("kvp", prefix))
        rows = [self.kv[k] for k in self._keys_with_prefix(prefix)]
        idx = max((r["ModifyIndex"] for r in rows), default=0)
        end = _prefix_ends(prefix)
        stones = self.tombstones.irange(prefix, end, inclusive=(True, False)) if end else self.tombstones
        for k in stones:
            idx = max(idx, self.tombstones[k])
        if idx == 0:
            idx = self.max_index("kvs", "tombstones")
        return idx, rows

    def kv_keys(self: StateStore, ws: WatchSet | None, prefix: str, separator: str) -> tuple[int, list[str]]:
        idx, rows = self.kv_list(ws, prefix)
        out: list[str] = []
        seen: set[str] = set()
        for r in rows:
            key = r["Key"]
            if separator:
                pos = key.find(separator, len(prefix))
                if pos >= 0:
                    key = key[: pos + len(separator)]
            if key not in seen:
                seen.add(key)
                out.append(key)
        return idx, out

    # ---------------------------------------------------------------- transactions
    def kv_txn(self: StateStore, idx: int, ops: list[dict[str, Any]]) -> tuple[list[Row], list[Row]]:
        """Apply Consul /v1/txn KV ops atomically. Returns (results, errors); on any error nothing
        is changed and errors lists [{"OpIndex", "What"}]."""
        saved_indexes = dict(self.indexes)
        saved_pending = set(self._pending)
        saved_locks = {k: set(v) for k, v in self.session_locks.items()}
        self._journal = {}
        try:
            results = [self._txn_op(idx, i, op) for i, op in enumerate(ops)]
        except TxnAbort as abort:
            for key, (row, stone) in self._journal.items():
                if row is None:
                    self.kv.pop(key, None)
                else:
                    self.kv[key] = row
                if stone is None:
                    self.tombstones.pop(key, None)
                else:
                    self.tombstones[key] = stone
            self.indexes = saved_indexes
            self._pending = saved_pending
            self.session_locks = saved_locks
            return [], [{"OpIndex": abort.op_index, "What": abort.what}]
        finally:
            self._journal = None
        return [r for r in results if r is not None], []

    def _txn_op(self: StateStore, idx: int, i: int, op: dict[str, Any]) -> Row | None:
        kv = op.get("KV")
        if not isinstance(kv, dict):
            raise TxnAbort(i, "only KV operations are supported in this transaction")
        verb = kv.get("Verb", "")
        key = kv.get("Key", "")
        value = kv.get("Value")
        flags = int(kv.get("Flags") or 0)
        cas = int(kv.get("Index") or 0)
        session = kv.get("Session") or ""
        existing = self.kv.get(key)

        def result(row: Row | None, with_value: bool = True) -> Row | None:
            if row is None:
                return None
            r = dict(row) if with_value else {k: v for k, v in row.items() if k != "Value"}
            return {"KV": r}

        try:
            if verb == "set":
                return result(self.kv_set(idx, key, value, flags), False)
            if verb == "cas":
                if not self.kv_cas(idx, key, value, flags, cas):
                    raise TxnAbort(i, f'failed to set key "{key}", index is stale')
                return result(self.kv[key], False)
            if verb == "lock":
                if not self.kv_lock(idx, key, value, flags, session):
                    raise TxnAbort(i, f'failed to lock key "{key}", lock is already held')
                return result(self.kv[key], False)
            if verb == "unlock":
                if not self.kv_unlock(idx, key, value, flags, session):
                    raise TxnAbort(i, f'failed to unlock key "{key}", lock isn\'t held, or is held by another session')
                return result(self.kv[key], False)
            if verb == "get":
                if existing is None:
                    raise TxnAbort(i, f'key "{key}" doesn\'t exist')
                return result(existing)
            if verb == "get-tree":
                rows = [self.kv[k] for k in self._keys_with_prefix(key)]
                return {"KVs": [dict(r) for r in rows]} if rows else None
            if verb == "check-index":
                if existing is None:
                    raise TxnAbort(i, f'key "{key}" doesn\'t exist')
                if existing["ModifyIndex"] != cas:
                    raise TxnAbort(i, f'current modify index {existing["ModifyIndex"]} != {cas}')
                return result(existing, False)
            if verb == "check-session":
                if existing is None:
                    raise TxnAbort(i, f'key "{key}" doesn\'t exist')
                if existing.get("Session", "") != session:
                    raise TxnAbort(i, f'current session {existing.get("Session", "")!r} != {session!r}')
                return result(existing, False)
            if verb == "check-not-exists":
                if existing is not None:
                    raise TxnAbort(i, f'key "{key}" exists')
                return None
            if verb == "delete":
                self.kv_delete(idx, key)
                return None
            if verb == "delete-tree":
                self.kv_delete_tree(idx, key)
                return None
            if verb == "delete-cas":
                if not self.kv_delete_cas(idx, key, cas):
                    raise TxnAbort(i, f'failed to delete key "{key}", index is stale')
                return None
        except StateError as exc:
            raise TxnAbort(i, str(exc)) from exc
        raise TxnAbort(i, f'unknown KV verb "{verb}"')

    # ---------------------------------------------------------------- snapshot
    def _kv_snapshot(self) -> dict[str, Any]:
        return {"kv": list(self.kv.values()), "tombstones": list(self.tombstones.items())}

    def _kv_restore(self, snap: dict[str, Any]) -> None:
        for row in snap["kv"]:
            self.kv[row["Key"]] = row
        for key, idx in snap["tombstones"]:
            self.tombstones[key] = idx


def kv_json(row: Row) -> Row:
    """A KV row as Consul's JSON: Value base64 (or null)."""
    out = {
        "LockIndex": row["LockIndex"],
        "Key": row["Key"],
        "Flags": row["Flags"],
        "Value": base64.b64encode(row["Value"]).decode() if row["Value"] is not None else None,
        "CreateIndex": row["CreateIndex"],
        "ModifyIndex": row["ModifyIndex"],
    }
    if row.get("Session"):
        out["Session"] = row["Session"]
    return out
