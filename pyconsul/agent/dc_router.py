"""Datacenter → servers, kept from the WAN pool's member events (Consul's router).

Pure: fed `(kind, member)` events and forwarding outcomes, asked which datacenters exist and
which servers of one to try. A WAN member is a server named `<node>.<dc>` whose tags carry its
datacenter (`dc`) and server port (`port`); anything else is ignored. A server a forward just
failed to reach is tried last for `FAILURE_COOLDOWN` seconds, so a dead server does not cost
every request a connect timeout while gossip has yet to find it failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from pyconsul.clock import Clock

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


@dataclass
class DatacenterRouter:
    local_dc: str
    clock: Clock
    _by_dc: dict[str, dict[str, _Server]] = field(default_factory=dict)
    _failed_at: dict[str, float] = field(default_factory=dict)

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
        servers[member.name] = _Server(member.name, f"{host}:{port}", member.status == "alive")

    def datacenters(self) -> list[str]:
        """Every datacenter with a known server: the local one first, then by name (Consul
        sorts by coordinate distance, in which the local datacenter is nearest)."""
        others = sorted(dc for dc in self._by_dc if dc != self.local_dc)
        return [self.local_dc, *others]

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
