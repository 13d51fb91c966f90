"""Datacenter → servers, kept from the WAN pool's member events (Consul's router).

Pure: fed `(kind, member)` events and forwarding outcomes, asked which datacenters exist and
which servers of one to try. A WAN member is a server named `<node>.<dc>` whose tags carry its
datacenter (`dc`) and server port (`port`); anything else is ignored. A server a forward just
failed to reach is tried last for `FAILURE_COOLDOWN` seconds, so a dead server does not cost
every request a connect timeout while gossip has yet to find it failed.

Distance (Consul's GetDatacentersByDistance): each server's WAN coordinate rides in its tags
(`coordinate/wire.py`); a datacenter's distance is the median estimated RTT from this server's
own WAN coordinate to that datacenter's servers (unknown: infinitely far), the local one is 0,
and datacenters sort by it, ties by name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

from pyconsul.clock import Clock
from pyconsul.coordinate import wire
from pyconsul.coordinate.vivaldi import Coord, distance

FAILURE_COOLDOWN = 30.0


class WanMember(Protocol):
    """What the router reads of a WAN pool member (`gossip.membership.Member` fits)."""

    @property
    def name(self) -> str: ...

    @property
    def addr(self) -> str: ...

    @property
    def tags(self) -> dict[str, str]: ...

    @property
    def status(self) -> str: ...


@dataclass
class _Server:
    name: str
    rpc_addr: str  # "ip:port" of its server port
    alive: bool
    coord: Coord | None = None


@dataclass
class DatacenterRouter:
    local_dc: str
    clock: Clock
    _by_dc: dict[str, dict[str, _Server]] = field(default_factory=dict)
    _failed_at: dict[str, float] = field(default_factory=dict)
    local_coord: Coord | None = None  # this server's WAN coordinate

    def on_member(self, kind: str, member: WanMember) -> None:
        """Apply one WAN member event (member-join/-update/-leave/-failed/-reap)."""
        dc = member.tags.get("dc", "")
        port = member.tags.get("port", "")
        if member.tags.get("role") != "consul" or not dc or not port.isdigit():
            return
        servers = self._by_dc.setdefault(dc, {})
        if kind == "member-reap" or member.status == "left":
            servers.pop(member.name, None)
            if not servers:
                del self._by_dc[dc]  # Consul forgets a datacenter once its last server is gone
            return
        host = f"[{member.addr}]" if ":" in member.addr else member.addr
        servers[member.name] = _Server(member.name, f"{host}:{port}", member.status == "alive",
                                       wire.decode(member.tags.get(wire.TAG)))

    def distance_to(self, dc: str) -> float:
        """Median estimated RTT (seconds) to `dc`'s servers; 0 for the local datacenter."""
        if dc == self.local_dc:
            return 0.0
        me = self.local_coord
        rtts = sorted(distance(me, s.coord) if me is not None and s.coord is not None else math.inf
                      for s in self._by_dc.get(dc, {}).values())
        return rtts[len(rtts) // 2] if rtts else math.inf

    def datacenters(self) -> list[str]:
        """Every datacenter with a known server, nearest first: the local one, then by distance,
        ties (and unknown distances) by name."""
        names = sorted(set(self._by_dc) | {self.local_dc})
        return sorted(names, key=self.distance_to)

    def peer_coordinates(self) -> dict[str, Coord]:
        """WAN member name → its published coordinate (what our own Vivaldi update needs)."""
        return {s.name: s.coord for servers in self._by_dc.values() for s in servers.values() if s.coord is not None}

    def datacenter_maps(self) -> list[dict[str, Any]]:
        """`/v1/coordinate/datacenters`: per datacenter, its servers' coordinates (Consul's shape,
        area "wan", nodes named `<node>.<dc>` and sorted)."""
        out = []
        for dc in self.datacenters():
            servers = sorted(self._by_dc.get(dc, {}).values(), key=lambda s: s.name)
            coords = [{"Node": s.name, "Segment": "", "Coord": s.coord} for s in servers if s.coord is not None]
            out.append({"Datacenter": dc, "AreaID": "wan", "Coordinates": coords})
        return out

    def knows(self, dc: str) -> bool:
        return dc in self._by_dc

    def servers(self, dc: str) -> list[str]:
        """Server-port addresses of `dc`'s alive servers to try in order: recently failed ones last."""
        now = self.clock.monotonic()
        alive = [s.rpc_addr for s in sorted(self._by_dc.get(dc, {}).values(), key=lambda s: s.name) if s.alive]
        fresh = [a for a in alive if now - self._failed_at.get(a, -FAILURE_COOLDOWN - 1) > FAILURE_COOLDOWN]
        return fresh + [a for a in alive if a not in fresh]

    def server_hosts(self) -> set[str]:
        """The addresses of every known WAN server (of any datacenter): who may forward to us."""
        return {s.rpc_addr.rsplit(":", 1)[0].strip("[]") for servers in self._by_dc.values() for s in servers.values()}

    def note_failed(self, rpc_addr: str) -> None:
        self._failed_at[rpc_addr] = self.clock.monotonic()

    def note_ok(self, rpc_addr: str) -> None:
        self._failed_at.pop(rpc_addr, None)
