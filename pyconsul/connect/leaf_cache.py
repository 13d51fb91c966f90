"""The agent's leaf certificates: one per service, made on first request and renewed ahead of time.

Rules (Consul's leaf cache, with the fixes its users asked for):
- The first request gets a certificate at once: the agent makes the key and CSR itself and has a
  server sign it (`LeafSource.sign`).
- The same certificate is returned until it is replaced; a blocking request (`min_index` equal to
  the current leaf's index) waits until a new one exists or its wait runs out.
- A leaf is replaced at a random point between 60% and 90% of its lifetime (`renew_at`), and at
  once when the active root changes (rotation), so it never expires under a caller.
- A failed renewal is retried with backoff (1 s doubling to 30 s) while the old leaf is served.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from pyconsul.clock import Clock
from pyconsul.connect import ca, spiffe

log = logging.getLogger("pyconsul.connect")

Row = dict[str, Any]

RENEW_FROM, RENEW_TO = 0.6, 0.9
RETRY_FIRST, RETRY_MAX = 1.0, 30.0
ROOTS_WAIT = 300.0


class LeafSource(Protocol):
    """Where leaves and roots come from: the local state store on a server, a server otherwise."""

    async def sign(self, csr_pem: str, token: str) -> Row:
        """The signed leaf reply (SerialNumber, CertPEM, Service, ServiceURI, ValidAfter,
        ValidBefore, RootID, ModifyIndex)."""

    async def roots(self, min_index: int, wait: float) -> tuple[int, Row]:
        """(index, {ActiveRootID, TrustDomain}) once the roots index differs from `min_index`."""


def parse_time(text: str) -> float:
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC).timestamp()


def renew_at(valid_after: float, valid_before: float, rng: random.Random) -> float:
    """When to replace a leaf: a random point in [60%, 90%] of its lifetime."""
    return valid_after + (valid_before - valid_after) * rng.uniform(RENEW_FROM, RENEW_TO)


@dataclass
class Leaf:
    reply: Row  # the API's JSON for this leaf (with PrivateKeyPEM)
    index: int
    root_id: str
    renew_at: float
    valid_before: float


@dataclass
class _Entry:
    token: str
    leaf: Leaf | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    renew_now: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class LeafCache:
    def __init__(self, source: LeafSource, clock: Clock, datacenter: str,
                 rng: random.Random | None = None, sleep: Callable[[float], Any] = asyncio.sleep) -> None:
        self.source = source
        self.clock = clock
        self.datacenter = datacenter
        self.rng = rng or random.Random()
        self._sleep = sleep
        self._entries: dict[str, _Entry] = {}
        self._roots: Row = {}
        self._roots_index = 0
        self._roots_task: asyncio.Task[None] | None = None

    async def get(self, service: str, token: str, min_index: int = 0, wait: float = 300.0) -> Leaf:
        entry = self._entries.get(service)
        if entry is None:
            entry = self._entries[service] = _Entry(token)
        entry.token = token or entry.token
        if entry.leaf is None:
            async with entry.lock:
                if entry.leaf is None:
                    await self._replace(service, entry)
        leaf = entry.leaf
        assert leaf is not None
        if entry.task is None or entry.task.done():
            entry.task = asyncio.ensure_future(self._renew_loop(service, entry))
        self._watch_roots()
        if min_index and leaf.index == min_index:
            entry.changed.clear()
            if entry.leaf is not leaf:
                return entry.leaf  # type: ignore[return-value]
            try:
                await asyncio.wait_for(entry.changed.wait(), wait)
            except TimeoutError:
                pass
        assert entry.leaf is not None
        return entry.leaf

    async def _replace(self, service: str, entry: _Entry) -> None:
        if not self._roots:
            self._roots_index, self._roots = await self.source.roots(0, 0)
        td = str(self._roots.get("TrustDomain") or "")
        if not td:
            raise LookupError("CA has not finished initializing")
        uri = spiffe.service_uri(td, self.datacenter, service)
        key_pem, csr_pem = ca.new_csr(uri)
        signed = await self.source.sign(csr_pem, entry.token)
        after, before = parse_time(signed["ValidAfter"]), parse_time(signed["ValidBefore"])
        reply = {k: v for k, v in signed.items() if k != "RootID"}
        reply["PrivateKeyPEM"] = key_pem
        entry.leaf = Leaf(reply, int(signed.get("ModifyIndex") or 0), str(signed.get("RootID") or ""),
                          renew_at(after, before, self.rng), before)
        entry.changed.set()
        log.info("leaf certificate issued", extra={"service": service, "serial": signed["SerialNumber"],
                                                   "valid_before": signed["ValidBefore"]})

    async def _renew_loop(self, service: str, entry: _Entry) -> None:
        retry = RETRY_FIRST
        while True:
            leaf = entry.leaf
            assert leaf is not None
            delay = max(0.0, leaf.renew_at - self.clock.time())
            entry.renew_now.clear()
            if leaf.root_id == self._roots.get("ActiveRootID", leaf.root_id) and delay > 0:
                try:
                    await asyncio.wait_for(entry.renew_now.wait(), delay)
                except TimeoutError:
                    pass
            try:
                async with entry.lock:
                    await self._replace(service, entry)
                retry = RETRY_FIRST
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("leaf certificate renewal failed; retrying", extra={
                    "service": service, "error": str(exc), "retry_in": retry})
                await self._sleep(retry)
                retry = min(RETRY_MAX, retry * 2)

    def _watch_roots(self) -> None:
        if self._roots_task is None or self._roots_task.done():
            self._roots_task = asyncio.ensure_future(self._roots_loop())

    async def _roots_loop(self) -> None:
        while True:
            try:
                idx, roots = await self.source.roots(self._roots_index, ROOTS_WAIT)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.debug("CA roots watch failed", extra={"error": str(exc)})
                await self._sleep(RETRY_FIRST)
                continue
            if idx < self._roots_index:
                self._roots_index = 0  # the servers' state was reset: start over
            changed = roots.get("ActiveRootID") != self._roots.get("ActiveRootID")
            self._roots_index, self._roots = idx, roots
            if changed:
                for entry in self._entries.values():
                    entry.renew_now.set()

    def close(self) -> None:
        for entry in self._entries.values():
            if entry.task is not None:
                entry.task.cancel()
        if self._roots_task is not None:
            self._roots_task.cancel()
