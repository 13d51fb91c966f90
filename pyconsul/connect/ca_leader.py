"""The leader's CA duties: initialise the CA at first leadership, then prune old roots; in a
secondary datacenter, keep an intermediate signed by the primary's root instead of a root.

Runs on every server; acts only while this server leads. Consul initialises the CA in its
leader loop; there is no leadership event here, so the loop polls the leader status (cheap)
and acts once per change of leadership or when the CA is still missing.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from pyconsul.clock import SYSTEM_CLOCK, Clock
from pyconsul.connect import ca_ops
from pyconsul.consensus.protocol import Consensus
from pyconsul.fsm.commands import Command
from pyconsul.state.store import StateStore

log = logging.getLogger("pyconsul.connect")

POLL = 0.2
PRUNE_EVERY = 3600.0


class CAHost(Protocol):
    @property
    def store(self) -> StateStore: ...

    @property
    def consensus(self) -> Consensus: ...

    @property
    def config(self) -> Any: ...

    async def write(self, command: Command) -> Any: ...

    async def forward_to_dc(self, dc: str, method: str, path_qs: str, body: bytes | None,
                            headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]: ...


SECONDARY_POLL = 1.0


def _primary_fetch(host: CAHost, primary: str, token: str) -> ca_ops.Fetch:
    async def fetch(method: str, path: str, body: bytes | None) -> tuple[int, int, bytes]:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if token:
            headers["X-Consul-Token"] = token
        status, got, data = await host.forward_to_dc(primary, method, path, body, headers)
        try:
            index = int(got.get("X-Consul-Index", "0") or 0)
        except ValueError:
            index = 0
        return status, index, data
    return fetch


async def run_secondary(host: CAHost, primary: str, token: str = "", clock: Clock = SYSTEM_CLOCK) -> None:
    """A secondary's leader keeps an intermediate signed by the primary's active root: it watches
    the primary's roots (a blocking query, bounded so a lost leadership is noticed) and asks for
    a new intermediate when that root changes."""
    fetch = _primary_fetch(host, primary, token)
    cfg = host.config
    failing = ""
    index = 0
    while True:
        if not host.consensus.leader_status().is_leader:
            index = 0
            await asyncio.sleep(SECONDARY_POLL)
            continue
        try:
            changed, seen = await ca_ops.sync_secondary(host.write, host.store, fetch, cfg.datacenter,
                                                        cfg.connect.ca_config, clock.time(), index)
            if changed:
                root = host.store.connect_ca.active_root() or {}
                log.info("secondary datacenter CA: intermediate from the primary", extra={
                    "primary": primary, "root": root.get("ID", "")})
            failing = ""
            if seen and seen != index:
                index = seen
                continue  # the roots moved (or first read): check again at once, blocking
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the primary unreachable or not ready: the next pass retries
            index = 0
            if str(exc) != failing:
                log.warning("secondary CA initialization failed", extra={"primary": primary, "error": str(exc)})
            failing = str(exc)
        await asyncio.sleep(SECONDARY_POLL if failing or not index else 0.0)


async def run(host: CAHost, clock: Clock = SYSTEM_CLOCK, replication_token: str = "") -> None:
    if not host.config.connect.enabled:
        log.info("Connect is disabled (connect.enabled = false): no CA on this server")
        return
    primary = host.config.primary_datacenter
    if primary and primary != host.config.datacenter:
        await run_secondary(host, primary, replication_token, clock)
        return
    last_prune = 0.0
    while True:
        status = host.consensus.leader_status()
        store = host.store
        if status.is_leader:
            try:
                if store.connect_ca.config is None:
                    if await ca_ops.initialize(host.write, store, clock, host.config.connect.ca_config):
                        root = store.connect_ca.active_root() or {}
                        log.info("initialized primary datacenter CA with provider", extra={
                            "provider": "consul", "root": root.get("ID", "")})
                elif clock.monotonic() - last_prune > PRUNE_EVERY:
                    last_prune = clock.monotonic()
                    await ca_ops.prune(host.write, store, clock)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # leadership moved mid-way; the next leader retries
                log.warning("CA initialization failed", extra={"error": str(exc)})
        await asyncio.sleep(POLL if store.connect_ca.config is None else 5.0)
