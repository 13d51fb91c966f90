"""The agent's leaf cache against an in-memory signer (the transport boundary): first answer at
once, the same leaf until it is replaced, renewal in [60%, 90%] of the lifetime and on rotation,
and blocking callers woken by a new leaf."""

from __future__ import annotations

import asyncio
import datetime
import random
from typing import Any

import pytest

from pyconsul.clock import FakeClock
from pyconsul.connect import ca, spiffe
from pyconsul.connect.leaf_cache import LeafCache, renew_at

CLUSTER = "11111111-2222-3333-4444-555555555555"
TTL = 3600.0


class MemorySigner:
    """Signs with a real root; `rotate` swaps the active root as a CA rotation does."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.serial = 0
        self.index = 10
        self.signed = 0
        self.roots_changed = asyncio.Event()
        self._root = self._new_root()

    def _new_root(self) -> dict[str, Any]:
        now = datetime.datetime.fromtimestamp(self.clock.time(), datetime.UTC)
        return ca.root_row(ca.new_root(CLUSTER, 1, now, ca.parse_config(ca.DEFAULT_CONFIG)), CLUSTER, True)

    def rotate(self) -> None:
        self._root = self._new_root()
        self.index += 1
        self.roots_changed.set()

    async def sign(self, csr_pem: str, token: str) -> dict[str, Any]:
        self.serial += 1
        self.index += 1
        self.signed += 1
        now = datetime.datetime.fromtimestamp(self.clock.time(), datetime.UTC)
        pem = ca.sign_leaf(csr_pem, self._root, self.serial, now, TTL)
        cert = ca.load_cert(pem)
        return {"SerialNumber": ca.serial_hex(self.serial), "CertPEM": pem, "Service": "web",
                "ServiceURI": ca.leaf_uri(cert), "ValidAfter": ca.rfc3339(cert.not_valid_before_utc),
                "ValidBefore": ca.rfc3339(cert.not_valid_after_utc), "RootID": self._root["ID"],
                "ModifyIndex": self.index, "CreateIndex": self.index}

    async def roots(self, min_index: int, wait: float) -> tuple[int, dict[str, Any]]:
        if min_index and min_index == self.index:
            self.roots_changed.clear()
            try:
                await asyncio.wait_for(self.roots_changed.wait(), wait)
            except TimeoutError:
                pass
        return self.index, {"ActiveRootID": self._root["ID"], "TrustDomain": spiffe.trust_domain(CLUSTER)}


def test_renewal_point_is_between_60_and_90_percent() -> None:
    rng = random.Random(7)
    for _ in range(200):
        at = renew_at(1000.0, 2000.0, rng)
        assert 1600.0 <= at <= 1900.0


@pytest.mark.asyncio
async def test_first_leaf_at_once_then_the_same_one() -> None:
    clock = FakeClock(1_800_000_000)
    signer = MemorySigner(clock)
    cache = LeafCache(signer, clock, "dc1")
    try:
        first = await cache.get("web", "")
        again = await cache.get("web", "")
        assert again.reply["SerialNumber"] == first.reply["SerialNumber"] and signer.signed == 1
        assert first.reply["ServiceURI"] == spiffe.service_uri(spiffe.trust_domain(CLUSTER), "dc1", "web")
        assert first.reply["PrivateKeyPEM"].startswith("-----BEGIN EC PRIVATE KEY-----")
        assert "RootID" not in first.reply
    finally:
        cache.close()


@pytest.mark.asyncio
async def test_blocking_caller_wakes_on_rotation_with_a_new_leaf() -> None:
    clock = FakeClock(1_800_000_000)
    signer = MemorySigner(clock)
    cache = LeafCache(signer, clock, "dc1")
    try:
        first = await cache.get("web", "")
        waiter = asyncio.ensure_future(cache.get("web", "", min_index=first.index, wait=10.0))
        await asyncio.sleep(0.05)
        assert not waiter.done()  # nothing changed: it blocks
        signer.rotate()
        second = await asyncio.wait_for(waiter, 5.0)
        assert second.index > first.index and second.reply["SerialNumber"] != first.reply["SerialNumber"]
    finally:
        cache.close()


@pytest.mark.asyncio
async def test_a_blocking_caller_times_out_with_the_same_leaf() -> None:
    clock = FakeClock(1_800_000_000)
    cache = LeafCache(MemorySigner(clock), clock, "dc1")
    try:
        first = await cache.get("web", "")
        same = await cache.get("web", "", min_index=first.index, wait=0.1)
        assert same.index == first.index
    finally:
        cache.close()


@pytest.mark.asyncio
async def test_a_leaf_past_its_renewal_point_is_replaced() -> None:
    clock = FakeClock(1_800_000_000)
    signer = MemorySigner(clock)
    cache = LeafCache(signer, clock, "dc1")
    try:
        first = await cache.get("web", "")
        # Past any renewal point before the renewal loop first looks at the clock: it replaces
        # the leaf at once instead of waiting (the fake clock says no time is left).
        clock.advance(0.95 * TTL)
        second = await asyncio.wait_for(cache.get("web", "", min_index=first.index, wait=5.0), 5.0)
        assert second.index > first.index and signer.signed == 2
        clock.advance(0.1 * TTL)
        third = await cache.get("web", "", min_index=0)
        assert third.index == second.index  # the new leaf is young: kept
    finally:
        cache.close()
