"""Keeping this agent's network coordinate: gossip probe RTTs in, a coordinate update out.

`CoordinateUpdater.step(samples, peers)` is pure: each (member, rtt) sample whose member has a
known coordinate moves our Vivaldi coordinate (bad samples are dropped and counted); the result
is what the agent sends. `run_updates(host, clock)` is the thin loop around it: the first update
goes out soon after start (so a new node is listed at the origin, as Consul's is); the gap then
doubles up to `interval` seconds, so a new node's estimate settles within its first minute
without a steady write rate above Consul's. Peers' coordinates come from the replicated coordinate table (Serf carries
them on its pings; we read what every agent last sent instead).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from typing import Protocol

from pyconsul.clock import Clock
from pyconsul.coordinate.vivaldi import Coord, VivaldiClient

log = logging.getLogger("pyconsul.coordinate")

FIRST_UPDATE = 1.0
UPDATE_INTERVAL = 15.0  # Consul's sync_coordinate_interval_min


class CoordinateUpdater:
    def __init__(self, rng: random.Random | None = None) -> None:
        self.client = VivaldiClient(rng or random.Random())
        self.rejected = 0

    @property
    def coord(self) -> Coord:
        return self.client.coord

    def step(self, samples: list[tuple[str, float]], peers: Mapping[str, Coord]) -> Coord:
        for node, rtt in samples:
            other = peers.get(node)
            if other is None:
                continue
            try:
                self.client.update(node, other, rtt)
            except ValueError:
                self.rejected += 1
        return self.client.coord


class CoordinateHost(Protocol):
    """What the update loop needs from the agent."""

    def take_rtts(self) -> list[tuple[str, float]]: ...

    async def peer_coordinates(self) -> Mapping[str, Coord]: ...

    async def send_coordinate(self, coord: Coord) -> None: ...


async def run_updates(host: CoordinateHost, clock: Clock, updater: CoordinateUpdater | None = None,
                      first: float = FIRST_UPDATE, interval: float = UPDATE_INTERVAL) -> None:
    updater = updater or CoordinateUpdater()
    gap = first
    next_at = clock.monotonic() + first
    while True:
        await asyncio.sleep(max(0.0, next_at - clock.monotonic()))
        gap = min(gap * 2, interval)
        next_at = clock.monotonic() + gap
        try:
            samples = host.take_rtts()
            peers = await host.peer_coordinates() if samples else {}
            await host.send_coordinate(updater.step(samples, peers))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # no leader yet, a server away: try again next round
            log.debug("coordinate update failed", extra={"error": str(exc)})
