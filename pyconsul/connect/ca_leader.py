"""The leader's CA duties: initialise the CA at first leadership, then prune old roots.

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


async def run(host: CAHost, clock: Clock = SYSTEM_CLOCK) -> None:
    if not host.config.connect.enabled:
        log.info("Connect is disabled (connect.enabled = false): no CA on this server")
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
