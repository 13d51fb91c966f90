"""KV table with tombstones, prefix watches and atomic transactions.

Watch topics: watch.kv_key(key) for a single key and watch.kv_prefix(p) for every prefix of a
changed key, so `?recurse` watchers of "a/" wake on "a/b" but not on "c". Deletes leave tombstones
(key → index) so a recurse query's index moves forward on a delete, as Consul's does.

Locks: a row holding a lock names its session; `held_by` indexes those keys per session, so a
session that ends releases (or deletes) its keys. Whether a session exists is asked of the
`SessionLookup` the store wires in.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from sortedcontainers import SortedDict

from pyconsul.clock import SYSTEM_CLOCK, Clock
from pyconsul.state import watch
from pyconsul.state.errors import StateError
from pyconsul.state.txn import IndexTable, WriteTxn
from pyconsul.state.watch import WatchSet

Row = dict[str, Any]

KVS, TOMBSTONES = "kvs", "tombstones"

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


class SessionLookup(Protocol):
    def exists(self, session_id: str) -> bool: ...


class _NoSessions:
    def exists(self, session_id: str) -> bool:
        return False


class KVTable:
    """Keys, tombstones and locks. Writes take the log index of the command being applied."""

    def __init__(self, txn: WriteTxn, indexes: IndexTable, clock: Clock = SYSTEM_CLOCK) -> None:
        self.txn = txn
        self.indexes = indexes
        self.clock = clock
        self.sessions: SessionLookup = _NoSessions()
        self._journal: dict[str, tuple[Row | None, int | None]] | None = None
        self.clear()

    def clear(self) -> None:
        self.rows: SortedDict = SortedDict()
        self.tombstones: SortedDict = SortedDict()
        self.held_by: dict[str, set[str]] = {}  # session id -> keys it holds the lock of
        # key -> monotonic time before which it cannot be re-acquired (session lock-delay). Local
        # to this server and advisory, as in Consul: not part of the snapshot.
        self.lock_delays: dict[str, float] = {}

    # ---------------------------------------------------------------- helpers
    def _kv_topics(self, key: str) -> None:
        txn = self.txn
        txn.touch(watch.kv_key(key))
        txn.touch_all(watch.kv_prefixes(key))

    def _remember(self, key: str) -> None:
        j = self._journal
        if j is not None and key not in j:
            j[key] = (self.rows.get(key), self.tombstones.get(key))

    def _put(self, idx: int, row: Row) -> Row:
        key = row["Key"]
        self._remember(key)
        row["ModifyIndex"] = idx
        self.rows[key] = row
        self.tombstones.pop(key, None)
        self.txn.bump(idx, KVS)
        self._kv_topics(key)
        return row

    def _delete(self, idx: int, key: str) -> None:
        if key not in self.rows:
            return
        self._remember(key)
        row = self.rows.pop(key)
        if row.get("Session"):
            self.held_by.get(row["Session"], set()).discard(key)
        self.tombstones[key] = idx
        self.txn.bump(idx, KVS, TOMBSTONES)
        self._kv_topics(key)

    def _keys_with_prefix(self, prefix: str) -> list[str]:
        end = _prefix_ends(prefix)
        if end is None:
            return list(self.rows.keys())
        return list(self.rows.irange(prefix, end, inclusive=(True, False)))

    # ---------------------------------------------------------------- writes
    def set(self, idx: int, key: str, value: bytes | None, flags: int) -> Row:
        existing = self.rows.get(key)
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

    def cas(self, idx: int, key: str, value: bytes | None, flags: int, cas: int) -> bool:
        existing = self.rows.get(key)
        if cas == 0 and existing is not None:
            return False
        if cas != 0 and (existing is None or existing["ModifyIndex"] != cas):
            return False
        self.set(idx, key, value, flags)
        return True

    def lock(self, idx: int, key: str, value: bytes | None, flags: int, session: str) -> bool:
        if not self.sessions.exists(session):
            raise StateError(f'invalid session "{session}"')
        existing = self.rows.get(key)
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
        self.held_by.setdefault(session, set()).add(key)
        return True

    def unlock(self, idx: int, key: str, value: bytes | None, flags: int, session: str) -> bool:
        existing = self.rows.get(key)
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
        self.held_by.get(session, set()).discard(key)
        return True

    def delete(self, idx: int, key: str) -> None:
        self._delete(idx, key)

    def delete_cas(self, idx: int, key: str, cas: int) -> bool:
        existing = self.rows.get(key)
        if existing is None:
            return cas == 0
        if existing["ModifyIndex"] != cas:
            return False
        self._delete(idx, key)
        return True

    def delete_tree(self, idx: int, prefix: str) -> None:
        for key in self._keys_with_prefix(prefix):
            self._delete(idx, key)

    def release_locks(self, idx: int, session_id: str, delete: bool, lock_delay: float) -> None:
        """A session ended: release (or, with behavior "delete", delete) every key it held, and
        keep each from being re-acquired for `lock_delay` seconds."""
        until = self.clock.monotonic() + lock_delay
        for key in sorted(self.held_by.pop(session_id, set())):
            row = self.rows.get(key)
            if row is None or row.get("Session") != session_id:
                continue
            if delete:
                self._delete(idx, key)
            else:
                self._put(idx, {k: v for k, v in row.items() if k != "Session"})
            if lock_delay > 0:
                self.lock_delays[key] = until

    def lock_delay_remaining(self, key: str) -> float:
        until = self.lock_delays.get(key)
        if until is None:
            return 0.0
        left = until - self.clock.monotonic()
        if left <= 0:
            del self.lock_delays[key]
            return 0.0
        return left

    def reap_tombstones(self, upto: int) -> None:
        for key in [k for k, i in self.tombstones.items() if i <= upto]:
            del self.tombstones[key]

    # ---------------------------------------------------------------- reads
    def get(self, ws: WatchSet | None, key: str) -> tuple[int, Row | None]:
        if ws is not None:
            ws.add(watch.kv_key(key))
        row = self.rows.get(key)
        if row is not None:
            return row["ModifyIndex"], row
        return self.indexes.max(KVS, TOMBSTONES), None

    def get_tree(self, ws: WatchSet | None, prefix: str) -> tuple[int, list[Row]]:
        if ws is not None:
            ws.add(watch.kv_prefix(prefix))
        rows = [self.rows[k] for k in self._keys_with_prefix(prefix)]
        idx = max((r["ModifyIndex"] for r in rows), default=0)
        end = _prefix_ends(prefix)
        stones = self.tombstones.irange(prefix, end, inclusive=(True, False)) if end else self.tombstones
        for k in stones:
            idx = max(idx, self.tombstones[k])
        if idx == 0:
            idx = self.indexes.max(KVS, TOMBSTONES)
        return idx, rows

    def keys(self, ws: WatchSet | None, prefix: str, separator: str) -> tuple[int, list[str]]:
        idx, rows = self.get_tree(ws, prefix)
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
    def transaction(self, idx: int, ops: list[dict[str, Any]]) -> tuple[list[Row], list[Row]]:
        """Apply Consul /v1/txn KV ops atomically. Returns (results, errors); on any error nothing
        is changed and errors lists [{"OpIndex", "What"}]."""
        mark = self.txn.savepoint()
        self._journal = {}
        try:
            results = [self._txn_op(idx, i, op) for i, op in enumerate(ops)]
        except TxnAbort as abort:
            for key, (row, stone) in self._journal.items():
                self._restore_key(key, row, stone)
            self.txn.rollback(mark)
            return [], [{"OpIndex": abort.op_index, "What": abort.what}]
        finally:
            self._journal = None
        return [r for r in results if r is not None], []

    def _restore_key(self, key: str, row: Row | None, stone: int | None) -> None:
        """Put one key back as it was before the transaction (row, tombstone and lock holder)."""
        current = self.rows.get(key)
        if current is not None and current.get("Session"):
            self.held_by.get(current["Session"], set()).discard(key)
        if row is None:
            self.rows.pop(key, None)
        else:
            self.rows[key] = row
            if row.get("Session"):
                self.held_by.setdefault(row["Session"], set()).add(key)
        if stone is None:
            self.tombstones.pop(key, None)
        else:
            self.tombstones[key] = stone

    def _txn_op(self, idx: int, i: int, op: dict[str, Any]) -> Row | None:
        kv = op.get("KV")
        if not isinstance(kv, dict):
            raise TxnAbort(i, "only KV operations are supported in this transaction")
        verb = kv.get("Verb", "")
        key = kv.get("Key", "")
        value = kv.get("Value")
        flags = int(kv.get("Flags") or 0)
        cas = int(kv.get("Index") or 0)
        session = kv.get("Session") or ""
        existing = self.rows.get(key)

        def result(row: Row | None, with_value: bool = True) -> Row | None:
            if row is None:
                return None
            r = dict(row) if with_value else {k: v for k, v in row.items() if k != "Value"}
            return {"KV": r}

        try:
            if verb == "set":
                return result(self.set(idx, key, value, flags), False)
            if verb == "cas":
                if not self.cas(idx, key, value, flags, cas):
                    raise TxnAbort(i, f'failed to set key "{key}", index is stale')
                return result(self.rows[key], False)
            if verb == "lock":
                if not self.lock(idx, key, value, flags, session):
                    raise TxnAbort(i, f'failed to lock key "{key}", lock is already held')
                return result(self.rows[key], False)
            if verb == "unlock":
                if not self.unlock(idx, key, value, flags, session):
                    raise TxnAbort(i, f'failed to unlock key "{key}", lock isn\'t held, or is held by another session')
                return result(self.rows[key], False)
            if verb == "get":
                if existing is None:
                    raise TxnAbort(i, f'key "{key}" doesn\'t exist')
                return result(existing)
            if verb == "get-tree":
                rows = [self.rows[k] for k in self._keys_with_prefix(key)]
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
                self.delete(idx, key)
                return None
            if verb == "delete-tree":
                self.delete_tree(idx, key)
                return None
            if verb == "delete-cas":
                if not self.delete_cas(idx, key, cas):
                    raise TxnAbort(i, f'failed to delete key "{key}", index is stale')
                return None
        except StateError as exc:
            raise TxnAbort(i, str(exc)) from exc
        raise TxnAbort(i, f'unknown KV verb "{verb}"')

    # ---------------------------------------------------------------- snapshot
    def snapshot(self) -> dict[str, Any]:
        return {"kv": list(self.rows.values()), "tombstones": list(self.tombstones.items())}

    def capture(self, every: int = 0) -> Iterator[None | dict[str, Callable[[], list[Any]]]]:
        """snapshot() later. Yields None every `every` keys (0: never) so a caller that applies
        nothing meanwhile can let other work run, then the parts: plain copies of the two
        tables (rows shared: a write replaces a row, never changes it), sorted when called,
        from another thread if need be."""
        rows: dict[str, Row] = {}
        items = list(dict.items(self.rows))  # the dict underneath: C-speed, no sorted-view walk
        for start in range(0, len(items), every or len(items) or 1):
            rows.update(items[start:start + every] if every else items)
            if every:
                yield None
        tombs = dict.copy(self.tombstones)
        yield {
            "kv": lambda: [rows[k] for k in sorted(rows)],
            "tombstones": lambda: [(k, tombs[k]) for k in sorted(tombs)],
        }

    def restore(self, snap: dict[str, Any]) -> None:
        self.clear()
        for row in snap["kv"]:
            self.rows[row["Key"]] = row
            if row.get("Session"):
                self.held_by.setdefault(row["Session"], set()).add(row["Key"])
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
