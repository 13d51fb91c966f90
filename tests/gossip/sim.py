"""A simulated network for GossipCore: fake clock, seeded randomness, UDP loss, no sockets.

Packets go through the real codec. UDP datagrams are dropped with probability `loss`; TCP
(reliable) exchanges succeed unless either end is down, like a real connection would.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from pyconsul.clock import FakeClock
from pyconsul.gossip.config import GossipConfig
from pyconsul.gossip.core import Address, GossipCore, MemberEvent, Outgoing
from pyconsul.gossip.messages import Message, decode_packet, encode_packet
from pyconsul.gossip.state import NodeStatus


@dataclass
class SimNode:
    core: GossipCore
    events: list[MemberEvent] = field(default_factory=list)


class SimNetwork:
    def __init__(self, seed: int, loss: float = 0.0, config: GossipConfig | None = None) -> None:
        self.rng = random.Random(seed)
        self.loss = loss
        self.config = config or GossipConfig()
        self.clock = FakeClock()
        self.nodes: dict[Address, SimNode] = {}
        self.down: set[Address] = set()
        self.deaf: set[Address] = set()  # up, sending, but receiving nothing
        self.sent_udp = 0
        self.max_udp_bytes = 0
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._counter = itertools.count()

    # ---- membership of the simulation -----------------------------------------------------

    def add(self, name: str, tags: dict[str, str] | None = None, host: str | None = None) -> GossipCore:
        addr = (host or f"10.0.0.{len(self.nodes) + 1}", 8301)
        core = GossipCore(name, addr[0], addr[1], tags or {}, self.config, self.clock,
                          random.Random(self.rng.random()))
        self.nodes[addr] = SimNode(core)
        self.down.discard(addr)
        return core

    def addr_of(self, name: str) -> Address:
        for addr, node in self.nodes.items():
            if node.core.name == name:
                return addr
        raise KeyError(name)

    def core(self, name: str) -> GossipCore:
        return self.nodes[self.addr_of(name)].core

    def live(self) -> list[GossipCore]:
        return [n.core for a, n in self.nodes.items() if a not in self.down]

    def kill(self, name: str) -> None:
        self.down.add(self.addr_of(name))

    def join(self, name: str, peer: str) -> None:
        src, dest = self.addr_of(name), self.addr_of(peer)
        msg = self.nodes[src].core.push_pull_message(join=True)
        self._deliver(src, Outgoing(dest, (msg,), True))

    def status(self, observer: str, subject: str) -> NodeStatus | None:
        node = self.core(observer).get(subject)
        return node.status if node else None

    def events(self, name: str) -> list[MemberEvent]:
        return self.nodes[self.addr_of(name)].events

    # ---- running --------------------------------------------------------------------------

    def _at(self, delay: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self._queue, (self.clock.monotonic() + delay, next(self._counter), fn))

    def _latency(self) -> float:
        return self.rng.uniform(0.0005, 0.005)

    def _flush(self, addr: Address) -> None:
        node = self.nodes[addr]
        for out in node.core.take_outbox():
            self._deliver(addr, out)
        node.events.extend(node.core.take_events())

    def _deliver(self, src: Address, out: Outgoing) -> None:
        data = encode_packet(out.messages)
        if out.reliable:
            self._at(self._latency(), lambda: self._receive_reliable(src, out.dest, data))
            return
        self.sent_udp += 1
        self.max_udp_bytes = max(self.max_udp_bytes, len(data))
        if self.rng.random() < self.loss:
            return
        self._at(self._latency(), lambda: self._receive_udp(src, out.dest, data))

    def _receive_udp(self, src: Address, dest: Address, data: bytes) -> None:
        if dest in self.down or dest in self.deaf or dest not in self.nodes:
            return
        replies = self.nodes[dest].core.handle_packet(src, decode_packet(data))
        if replies:
            self._deliver(dest, Outgoing(src, tuple(replies), False))
        self._flush(dest)

    def _receive_reliable(self, src: Address, dest: Address, data: bytes) -> None:
        if dest in self.down or dest not in self.nodes or src in self.down or {src, dest} & self.deaf:
            return  # connection refused / reset
        replies: list[Message] = self.nodes[dest].core.handle_packet(src, decode_packet(data), reliable=True)
        self._flush(dest)
        if replies:
            back = encode_packet(replies)
            self._at(self._latency(), lambda: self._reply_reliable(src, dest, back))

    def _reply_reliable(self, src: Address, dest: Address, data: bytes) -> None:
        if src in self.down:
            return
        self.nodes[src].core.handle_packet(dest, decode_packet(data), reliable=True)
        self._flush(src)

    def run_for(self, seconds: float) -> None:
        self.run_until(lambda: False, seconds)

    def run_until(self, done: Callable[[], bool], timeout: float) -> bool:
        """Advance simulated time until `done()` holds (True) or `timeout` passes (False)."""
        end = self.clock.monotonic() + timeout
        for addr in self.nodes:
            if addr not in self.down:
                self._flush(addr)
        while True:
            if done():
                return True
            live = [a for a in self.nodes if a not in self.down]
            next_tick = min((self.nodes[a].core.next_deadline() for a in live), default=end)
            next_msg = self._queue[0][0] if self._queue else end
            t = min(next_tick, next_msg, end)
            if t > self.clock.monotonic():
                self.clock.advance(t - self.clock.monotonic())
            while self._queue and self._queue[0][0] <= self.clock.monotonic():
                _, _, fn = heapq.heappop(self._queue)
                fn()
            for a in live:
                if a not in self.down and self.nodes[a].core.next_deadline() <= self.clock.monotonic():
                    self.nodes[a].core.tick()
                    self._flush(a)
            if self.clock.monotonic() >= end:
                return done()

    def views(self) -> dict[str, dict[str, str]]:
        """Each live member's view: member name → "alive" / "failed" / "left" (suspect counts as alive)."""
        label = {NodeStatus.ALIVE: "alive", NodeStatus.SUSPECT: "alive", NodeStatus.DEAD: "failed",
                 NodeStatus.LEFT: "left"}
        return {c.name: {n.name: label[n.status] for n in c.nodes()} for c in self.live()}
