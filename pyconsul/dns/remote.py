"""Answers for other datacenters: `<svc>.service.<dc>.consul`, `<node>.node.<dc>.consul`.

For each known datacenter that is asked about, a `CatalogMirror` of that datacenter's catalog
is kept, read by blocking queries through `fetch_for(dc)` (requests with `?dc=<dc>`, which the
servers forward over the WAN), and a `PacketHandler` answers from it with this agent's DNS
settings (TTLs, limits) and the other datacenter as its own. The first question for a
datacenter waits (up to `FIRST_SYNC_TIMEOUT`) for the mirror's first read; later ones answer at
once from the mirror, at most one blocking-query round trip stale — as Consul's stale DNS reads.

Only datacenters in the last `list_datacenters()` answer (refreshed every `REFRESH` seconds)
get a mirror, so names with made-up datacenters cannot grow the set; others stay NXDOMAIN.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections.abc import Awaitable, Callable

from pyconsul.config.runtime import RuntimeConfig
from pyconsul.dns import records as r
from pyconsul.dns.handler import PacketHandler
from pyconsul.dns.mirror import CatalogMirror, Fetch
from pyconsul.dns.parser import NotFound, parse_labels
from pyconsul.dns.resolver import zone_for

log = logging.getLogger("pyconsul.dns")

FIRST_SYNC_TIMEOUT = 5.0
REFRESH = 10.0


def with_dc(path: str, dc: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}dc={dc}"


class RemoteDatacenters:
    def __init__(self, config: RuntimeConfig, fetch_for: Callable[[str], Fetch],
                 list_datacenters: Callable[[], Awaitable[list[str]]], wait: str = "5m") -> None:
        self.config = config
        self._fetch_for = fetch_for
        self._list = list_datacenters
        self._wait = wait
        self.known: set[str] = set()
        self._mirrors: dict[str, tuple[CatalogMirror, PacketHandler]] = {}
        self._task: asyncio.Task[None] | None = None
        # Called when the set of known datacenters changes: the local reply cache may hold an
        # NXDOMAIN for a datacenter that is now known (or the other way round).
        self.on_known_change: Callable[[], None] = lambda: None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._refresh_loop())

    async def _refresh_loop(self) -> None:
        while True:
            try:
                known = {dc.lower() for dc in await self._list()} - {self.config.datacenter.lower()}
                if known != self.known:
                    self.known = known
                    self.on_known_change()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.debug("dns: listing datacenters failed: %r", exc)
            await asyncio.sleep(REFRESH if self.known else 1.0)  # look again soon while alone

    def datacenter_asked(self, data: bytes) -> str:
        """The known other datacenter a query names, else "" (the local handler answers it)."""
        if not self.known:
            return ""
        try:
            req = r.parse_request(data)
        except (r.RequestError, ValueError):
            return ""
        lookup = parse_labels(req.labels, req.qtype, zone_for(self.config))
        if isinstance(lookup, NotFound) and lookup.other_dc in self.known:
            return lookup.other_dc
        return ""

    async def answer(self, dc: str, data: bytes, tcp: bool) -> bytes | None:
        entry = self._mirrors.get(dc)
        if entry is None:
            mirror = CatalogMirror(self._fetch_for(dc), wait=self._wait)
            await mirror.start()
            handler = PacketHandler(mirror, dataclasses.replace(self.config, datacenter=dc), random.Random())
            entry = self._mirrors[dc] = (mirror, handler)
        mirror, handler = entry
        if handler.config.dns_config is not self.config.dns_config:
            # A reload swapped the agent's dns_config: the mirror's handler holds a copy of the
            # config (with the other datacenter as its own), so it takes the new one here.
            handler.config.dns_config = self.config.dns_config
        if not mirror.synced.is_set():
            try:
                await asyncio.wait_for(mirror.synced.wait(), FIRST_SYNC_TIMEOUT)
            except TimeoutError:
                pass  # answer from what there is (NXDOMAIN while the datacenter is unreachable)
        out = handler.handle(data, tcp)
        return out if isinstance(out, bytes) else None

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        for mirror, _ in self._mirrors.values():
            await mirror.close()
        self._mirrors.clear()
