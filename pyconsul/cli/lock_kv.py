"""KV locks and semaphores the way Consul's api package builds them (what `consul lock` uses).

Lock: one key `<prefix>/.lock` acquired with a session, flags 0x2ddccbc058a50c18.
Semaphore: each contender acquires `<prefix>/<session>`; `<prefix>/.lock` holds
`{"Limit": n, "Holders": {session: true}}`, updated with check-and-set. Both use flags
values Consul uses, so a pyconsul lock and a Consul lock on the same prefix see each other.

The pure decisions (decode the lock document, prune dead holders, may I enter?) are plain
functions; `KVLock`/`KVSemaphore` drive them over one `Client` each. Blocking reads wait at most
`wait` seconds so a stop request is noticed.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from pyconsul.cli.http import Client, ConsulError, StatusError

LOCK_FLAG_VALUE = 0x2DDCCBC058A50C18
SEMAPHORE_FLAG_VALUE = 0xE0F69A2BAA414DE0
DEFAULT_SEMAPHORE_KEY = ".lock"
SESSION_TTL = "15s"
SESSION_TTL_SECONDS = 15.0
LOCK_RETRY_SECONDS = 5.0


class LockError(Exception):
    pass


class InUseError(LockError):
    pass


def join_key(prefix: str, name: str) -> str:
    """path.Join: clean slashes, no leading `./`."""
    parts = [p for p in f"{prefix}/{name}".split("/") if p not in ("", ".")]
    return "/".join(parts)


@dataclass
class SemaphoreDoc:
    limit: int
    holders: dict[str, bool] = field(default_factory=dict)

    def encode(self) -> bytes:
        return json.dumps({"Limit": self.limit, "Holders": self.holders}, separators=(",", ":")).encode()


def decode_semaphore(pair: dict[str, Any] | None, limit: int) -> SemaphoreDoc:
    import base64

    if pair is None:
        return SemaphoreDoc(limit)
    if pair.get("Flags") != SEMAPHORE_FLAG_VALUE:
        raise LockError("Existing key does not match semaphore use")
    raw = base64.b64decode(pair.get("Value") or "")
    try:
        doc = json.loads(raw)
        return SemaphoreDoc(int(doc.get("Limit", 0)), dict(doc.get("Holders") or {}))
    except (ValueError, AttributeError, TypeError) as exc:
        raise LockError(f"Failed to decode semaphore: {exc}") from None


def prune_dead_holders(doc: SemaphoreDoc, pairs: list[dict[str, Any]]) -> None:
    """Holders stay only while their contender key is still held by a session."""
    alive = {p.get("Session") for p in pairs if p.get("Session")}
    for holder in list(doc.holders):
        if holder not in alive:
            del doc.holders[holder]


class SessionKeeper:
    """A session with a TTL, renewed every TTL/2 on its own connection until `stop()`."""

    def __init__(self, client: Client, renew_client: Client, name: str) -> None:
        self.client = client
        self.renew_client = renew_client
        self.name = name
        self.id = ""
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def create(self) -> str:
        resp = self.client.put_json("/v1/session/create", {"Name": self.name, "TTL": SESSION_TTL})
        self.id = (resp.json() or {}).get("ID", "")
        self._thread = threading.Thread(target=self._renew, name="session-renew", daemon=True)
        self._thread.start()
        return self.id

    def _renew(self) -> None:
        while not self._stop.wait(SESSION_TTL_SECONDS / 2):
            try:
                resp = self.renew_client.request("PUT", f"/v1/session/renew/{self.id}", ok=(200, 404))
                if resp.status == 404 or not resp.json():
                    self.lost.set()
                    return
            except ConsulError:
                continue  # try again next period; the TTL leaves room for one miss

    def destroy(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.id:
            try:
                self.client.request("PUT", f"/v1/session/destroy/{self.id}")
            except ConsulError:
                pass


def _blocking_get(client: Client, path: str, params: dict[str, str], index: int,
                  wait: float) -> tuple[Any, int]:
    q = dict(params)
    if index:
        q["index"] = str(index)
        q["wait"] = f"{max(1, int(wait * 1000))}ms"
    resp = client.request("GET", path, q, ok=(200, 404))
    return (resp.json() if resp.status == 200 else None), resp.index


class KVLock:
    def __init__(self, client: Client, monitor_client: Client, prefix: str, session: SessionKeeper,
                 monitor_retries: int) -> None:
        self.client = client
        self.monitor_client = monitor_client
        self.key = join_key(prefix, DEFAULT_SEMAPHORE_KEY)
        self.session = session
        self.monitor_retries = monitor_retries

    def acquire(self, stop: threading.Event, once_wait: float | None) -> bool:
        """Block until held (True) or stopped / the one-shot wait ran out (False)."""
        index, attempts = 0, 0
        start = time.monotonic()
        wait = 15.0
        while not stop.is_set():
            if once_wait is not None and attempts > 0:
                # One-shot (-timeout): keep trying only until the wait is used up.
                wait = once_wait - (time.monotonic() - start)
                if wait <= 0:
                    return False
            attempts += 1
            pairs, index = _blocking_get(self.client, f"/v1/kv/{self.key}", {}, index, wait)
            pair = pairs[0] if pairs else None
            if pair is not None and pair.get("Flags") != LOCK_FLAG_VALUE:
                raise LockError("Existing key does not match lock use")
            if pair is not None and pair.get("Session"):
                if pair["Session"] == self.session.id:
                    return True
                continue
            params = {"acquire": self.session.id, "flags": str(LOCK_FLAG_VALUE)}
            resp = self.client.request("PUT", f"/v1/kv/{self.key}", params, b"")
            if resp.body.strip() == b"true":
                return True
            # Refused with no holder: a lock-delay is running; try again after a pause.
            index = 0
            if stop.wait(LOCK_RETRY_SECONDS):
                return False
        return False

    def held(self, pairs: Any) -> bool:
        pair = pairs[0] if pairs else None
        return pair is not None and pair.get("Session") == self.session.id

    def monitor(self, lost: threading.Event, stop: threading.Event) -> None:
        """Set `lost` when the key stops being held by our session."""
        index, retries = 0, self.monitor_retries
        while not stop.is_set():
            try:
                pairs, index = _blocking_get(self.monitor_client, f"/v1/kv/{self.key}", {}, index, 15.0)
            except StatusError as exc:
                if exc.code == 500 and retries > 0:
                    retries -= 1
                    stop.wait(1.0)
                    continue
                break
            except ConsulError:
                if retries > 0:
                    retries -= 1
                    stop.wait(1.0)
                    continue
                break
            retries = self.monitor_retries
            if stop.is_set():
                return
            if not self.held(pairs):
                break
        if not stop.is_set():
            lost.set()

    def release(self) -> None:
        params = {"release": self.session.id, "flags": str(LOCK_FLAG_VALUE)}
        self.client.request("PUT", f"/v1/kv/{self.key}", params, b"")

    def cleanup(self) -> None:
        pairs, _ = self.client.get_json_or_none(f"/v1/kv/{self.key}")
        pair = pairs[0] if pairs else None
        if pair is None:
            return
        if pair.get("Flags") != LOCK_FLAG_VALUE:
            raise LockError("Existing key does not match lock use")
        if pair.get("Session"):
            raise InUseError("Lock in use")
        self.client.request("DELETE", f"/v1/kv/{self.key}", {"cas": str(pair.get("ModifyIndex", 0))})


class KVSemaphore:
    def __init__(self, client: Client, monitor_client: Client, prefix: str, limit: int,
                 session: SessionKeeper, monitor_retries: int) -> None:
        self.client = client
        self.monitor_client = monitor_client
        self.prefix = prefix
        self.lock_key = join_key(prefix, DEFAULT_SEMAPHORE_KEY)
        self.limit = limit
        self.session = session
        self.monitor_retries = monitor_retries

    def _list(self, client: Client, index: int, wait: float) -> tuple[list[dict[str, Any]], int]:
        path = f"/v1/kv/{join_key(self.prefix, '')}/" if self.prefix.strip("/") else "/v1/kv/"
        pairs, index = _blocking_get(client, path, {"recurse": ""}, index, wait)
        return list(pairs or []), index

    def _split(self, pairs: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        lock = next((p for p in pairs if p.get("Key") == self.lock_key), None)
        return lock, [p for p in pairs if p.get("Key") != self.lock_key]

    def acquire(self, stop: threading.Event, once_wait: float | None) -> bool:
        contender = join_key(self.prefix, self.session.id)
        params = {"acquire": self.session.id, "flags": str(SEMAPHORE_FLAG_VALUE)}
        resp = self.client.request("PUT", f"/v1/kv/{contender}", params, b"")
        if resp.body.strip() != b"true":
            raise LockError("failed to make contender entry")
        index, attempts = 0, 0
        start = time.monotonic()
        wait = 15.0
        while not stop.is_set():
            if once_wait is not None and attempts > 0:
                # One-shot (-timeout): keep trying only until the wait is used up.
                wait = once_wait - (time.monotonic() - start)
                if wait <= 0:
                    return False
            attempts += 1
            pairs, new_index = self._list(self.client, index, wait)
            lock_pair, contenders = self._split(pairs)
            doc = decode_semaphore(lock_pair, self.limit)
            if doc.limit != self.limit:
                raise LockError(f"semaphore limit conflict (lock: {doc.limit}, local: {self.limit})")
            prune_dead_holders(doc, contenders)
            if len(doc.holders) >= self.limit:
                index = new_index
                continue
            doc.holders[self.session.id] = True
            cas = str(lock_pair.get("ModifyIndex", 0)) if lock_pair else "0"
            resp = self.client.request("PUT", f"/v1/kv/{self.lock_key}",
                                       {"cas": cas, "flags": str(SEMAPHORE_FLAG_VALUE)}, doc.encode())
            if resp.body.strip() == b"true":
                return True
            index = 0  # someone else changed the document first: read it again at once
        return False

    def held(self, pairs: list[dict[str, Any]]) -> bool:
        lock_pair, _ = self._split(pairs)
        try:
            doc = decode_semaphore(lock_pair, self.limit)
        except LockError:
            return False
        return self.session.id in doc.holders

    def monitor(self, lost: threading.Event, stop: threading.Event) -> None:
        index, retries = 0, self.monitor_retries
        while not stop.is_set():
            try:
                pairs, index = self._list(self.monitor_client, index, 15.0)
            except ConsulError:
                if retries > 0:
                    retries -= 1
                    stop.wait(1.0)
                    continue
                break
            retries = self.monitor_retries
            if stop.is_set():
                return
            if not self.held(pairs):
                break
        if not stop.is_set():
            lost.set()

    def release(self) -> None:
        for _ in range(50):
            pairs, _ = self.client.get_json_or_none(f"/v1/kv/{self.lock_key}")
            lock_pair = pairs[0] if pairs else None
            if lock_pair is None:
                break
            doc = decode_semaphore(lock_pair, self.limit)
            if self.session.id not in doc.holders:
                break
            del doc.holders[self.session.id]
            resp = self.client.request("PUT", f"/v1/kv/{self.lock_key}",
                                       {"cas": str(lock_pair.get("ModifyIndex", 0)),
                                        "flags": str(SEMAPHORE_FLAG_VALUE)}, doc.encode())
            if resp.body.strip() == b"true":
                break
        self.client.request("DELETE", f"/v1/kv/{join_key(self.prefix, self.session.id)}")

    def cleanup(self) -> None:
        pairs, _ = self._list(self.client, 0, 0)
        lock_pair, contenders = self._split(pairs)
        if lock_pair is None:
            return
        if any(p.get("Session") for p in contenders):
            raise InUseError("Semaphore in use")
        doc = decode_semaphore(lock_pair, self.limit)
        if doc.holders:
            raise InUseError("Semaphore in use")
        self.client.request("DELETE", f"/v1/kv/{self.lock_key}",
                            {"cas": str(lock_pair.get("ModifyIndex", 0))})
