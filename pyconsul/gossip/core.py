"""The gossip protocol as a pure state machine: no sockets, no clock of its own.

The driver feeds it packets (`handle_packet`) and calls `tick()` at `next_deadline()`; it drains
`take_outbox()` (packets to send) and `take_events()` (membership changes). Addresses are opaque
`(host, port)` pairs to this module.

Rules (SWIM with memberlist's refinements):
- Every `probe_interval` one member, round-robin over a shuffled list, is pinged. No ack within
  `probe_timeout` → `indirect_checks` other members ping it for us, and a TCP ping is tried. No ack
  by the end of the interval → the member is suspected.
- A suspect that does not refute within the suspicion timeout (log-scaled to cluster size,
  shortened by independent confirmations) is declared dead ("failed").
- Every update (alive/suspect/dead) is queued for piggybacking and gossiped to `gossip_nodes`
  random members every `gossip_interval`, at most `retransmit_limit` times.
- Incarnation numbers order updates about one node; only the node itself raises its own, which
  is how it refutes a suspicion (or a death notice) about itself.
- Full state is exchanged over TCP on join and every `push_pull_interval`.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from pyconsul.clock import Clock
from pyconsul.gossip.broadcast import BroadcastQueue
from pyconsul.gossip.config import GossipConfig, push_pull_scale, retransmit_limit, suspicion_timeout
from pyconsul.gossip.messages import (
    Ack,
    Alive,
    Dead,
    IndirectPing,
    Message,
    Ping,
    PushPull,
    PushPullState,
    Suspect,
    encode_packet,
)
from pyconsul.gossip.state import NodeState, NodeStatus
from pyconsul.gossip.suspicion import Suspicion

Address = tuple[str, int]

# Serf's event names, which the agent's event handlers and logs use.
EVENT_JOIN = "member-join"
EVENT_LEAVE = "member-leave"
EVENT_FAILED = "member-failed"
EVENT_UPDATE = "member-update"
EVENT_REAP = "member-reap"


@dataclass(frozen=True)
class Outgoing:
    dest: Address
    messages: tuple[Message, ...]
    reliable: bool  # True: send over TCP (replies come back via handle_packet(reliable=True))


@dataclass(frozen=True)
class MemberEvent:
    kind: str
    node: NodeState  # a snapshot at the time of the event


@dataclass
class _Probe:
    target: str
    seq: int
    timeout_at: float
    fail_at: float
    indirect_sent: bool = False
    acked: bool = False


@dataclass
class _Forward:
    origin: Address
    origin_seq: int
    expires: float


class GossipCore:
    def __init__(
        self,
        name: str,
        addr: str,
        port: int,
        tags: dict[str, str],
        config: GossipConfig,
        clock: Clock,
        rng: random.Random,
    ) -> None:
        self.name = name
        self.config = config
        self._clock = clock
        self._rng = rng
        now = clock.monotonic()
        self._nodes: dict[str, NodeState] = {name: NodeState(name, addr, port, dict(tags), 0, NodeStatus.ALIVE, now)}
        self._broadcasts = BroadcastQueue(lambda: retransmit_limit(config.retransmit_mult, self._estimate_n()))
        self._suspicions: dict[str, Suspicion] = {}
        self._outbox: list[Outgoing] = []
        self._events: list[MemberEvent] = []
        self._seq = rng.randrange(1 << 30)
        self._probe: _Probe | None = None
        self._forwards: dict[int, _Forward] = {}
        self._probe_order: list[str] = []
        self._probe_index = 0
        self.leaving = False
        # Stagger periodic work so members started together do not act in lockstep.
        self._next_probe = now + rng.uniform(0, config.probe_interval)
        self._next_gossip = now + rng.uniform(0, config.gossip_interval)
        self._next_push_pull = now + rng.uniform(0.5, 1.0) * config.push_pull_interval
        self._next_reconnect = now + config.reconnect_interval
        self._next_reap = now + config.reap_interval
        self._queue_alive()

    # ---- queries -------------------------------------------------------------------------

    @property
    def local(self) -> NodeState:
        return self._nodes[self.name]

    def nodes(self) -> list[NodeState]:
        """Snapshots of every known member, this one included."""
        return [n.copy() for n in self._nodes.values()]

    def get(self, name: str) -> NodeState | None:
        node = self._nodes.get(name)
        return node.copy() if node else None

    def pending_broadcasts(self) -> int:
        return len(self._broadcasts)

    def take_outbox(self) -> list[Outgoing]:
        out, self._outbox = self._outbox, []
        return out

    def take_events(self) -> list[MemberEvent]:
        out, self._events = self._events, []
        return out

    def next_deadline(self) -> float:
        times = [self._next_probe, self._next_gossip, self._next_push_pull, self._next_reconnect, self._next_reap]
        if self._probe and not self._probe.acked:
            times.append(self._probe.timeout_at if not self._probe.indirect_sent else self._probe.fail_at)
        times.extend(s.deadline for s in self._suspicions.values())
        return min(times)

    def push_pull_message(self, join: bool = False, reply: bool = False) -> PushPull:
        states = tuple(
            PushPullState(n.name, n.addr, n.port, dict(n.tags), n.incarnation, n.status)
            for n in self._nodes.values()
        )
        return PushPull(join, reply, states)

    # ---- local changes -------------------------------------------------------------------

    def set_tags(self, tags: dict[str, str]) -> None:
        me = self.local
        me.tags = dict(tags)
        me.incarnation += 1
        self._queue_alive()
        self._emit(EVENT_UPDATE, me)

    def leave(self) -> None:
        """Announce a graceful leave; the driver keeps gossiping until pending_broadcasts() is 0."""
        self.leaving = True
        me = self.local
        self._broadcasts.queue(me.name, Dead(me.incarnation, me.name, me.name, True))
        # Tell a few members straight away rather than waiting for the next gossip round.
        self._gossip_round()

    def force_leave(self, name: str) -> bool:
        """Mark a failed member as left cluster-wide (Consul's force-leave). False if not failed."""
        node = self._nodes.get(name)
        if node is None or node.status != NodeStatus.DEAD:
            return False
        self._on_dead(Dead(node.incarnation, name, self.name, True))
        return True

    # ---- time ----------------------------------------------------------------------------

    def tick(self) -> None:
        now = self._clock.monotonic()
        self._check_probe(now)
        if now >= self._next_probe:
            self._next_probe = now + self.config.probe_interval
            if not self.leaving:
                self._start_probe(now)
        for name, susp in list(self._suspicions.items()):
            if now >= susp.deadline:
                self._suspicion_expired(name, susp)
        for seq, fwd in list(self._forwards.items()):
            if now >= fwd.expires:
                del self._forwards[seq]
        if now >= self._next_gossip:
            self._next_gossip = now + self.config.gossip_interval
            self._gossip_round()
        if now >= self._next_push_pull:
            self._next_push_pull = now + push_pull_scale(self.config.push_pull_interval, self._estimate_n())
            if not self.leaving:
                self._push_pull_random()
        if now >= self._next_reconnect:
            self._next_reconnect = now + self.config.reconnect_interval
            self._reconnect_random()
        if now >= self._next_reap:
            self._next_reap = now + self.config.reap_interval
            self._reap(now)

    # ---- packets -------------------------------------------------------------------------

    def handle_packet(self, src: Address, messages: Iterable[Message], reliable: bool = False) -> list[Message]:
        """Process one packet from `src`; returns the messages to send straight back to `src`."""
        replies: list[Message] = []
        for msg in messages:
            if isinstance(msg, Ping):
                if msg.node == self.name:
                    replies.append(Ack(msg.seq))
            elif isinstance(msg, IndirectPing):
                self._forward_probe(src, msg)
            elif isinstance(msg, Ack):
                self._on_ack(msg.seq)
            elif isinstance(msg, Alive):
                self._on_alive(msg)
            elif isinstance(msg, Suspect):
                self._on_suspect(msg)
            elif isinstance(msg, Dead):
                self._on_dead(msg)
            elif isinstance(msg, PushPull):
                self._merge(msg.states)
                if not msg.reply:
                    replies.append(self.push_pull_message(reply=True))
        if replies and not reliable:
            replies.extend(self._piggyback(replies))
        return replies

    # ---- probing -------------------------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        return self._seq

    def _pick_probe_target(self) -> NodeState | None:
        for _ in range(2):
            while self._probe_index < len(self._probe_order):
                name = self._probe_order[self._probe_index]
                self._probe_index += 1
                node = self._nodes.get(name)
                if node is not None and name != self.name and not node.status.gone:
                    return node
            self._probe_order = [n for n in self._nodes if n != self.name]
            self._rng.shuffle(self._probe_order)
            self._probe_index = 0
        return None

    def _start_probe(self, now: float) -> None:
        target = self._pick_probe_target()
        self._probe = None
        if target is None:
            return
        seq = self._next_seq()
        self._probe = _Probe(target.name, seq, now + self.config.probe_timeout, now + self.config.probe_interval)
        msgs: list[Message] = [Ping(seq, target.name)]
        if target.status == NodeStatus.SUSPECT:
            # Lifeguard's buddy system: a suspect hears the accusation on the probe itself and its
            # refutation rides back on the ack.
            msgs.append(Suspect(target.incarnation, target.name, self.name))
        self._send(target.address, msgs)

    def _check_probe(self, now: float) -> None:
        probe = self._probe
        if probe is None or probe.acked:
            return
        target = self._nodes.get(probe.target)
        if target is None or target.status.gone:
            self._probe = None
            return
        if not probe.indirect_sent and now >= probe.timeout_at:
            probe.indirect_sent = True
            helpers = [
                n for n in self._nodes.values()
                if n.name not in (self.name, target.name) and n.status == NodeStatus.ALIVE
            ]
            for helper in self._rng.sample(helpers, min(self.config.indirect_checks, len(helpers))):
                self._send(helper.address, [IndirectPing(probe.seq, target.name, target.addr, target.port)])
            # A TCP ping gets through where UDP is filtered or lossy.
            self._outbox.append(Outgoing(target.address, (Ping(probe.seq, target.name),), True))
        if now >= probe.fail_at:
            self._probe = None
            self._on_suspect(Suspect(target.incarnation, target.name, self.name))

    def _forward_probe(self, src: Address, msg: IndirectPing) -> None:
        seq = self._next_seq()
        self._forwards[seq] = _Forward(src, msg.seq, self._clock.monotonic() + self.config.probe_timeout)
        self._send((msg.addr, msg.port), [Ping(seq, msg.node)])

    def _on_ack(self, seq: int) -> None:
        if self._probe is not None and self._probe.seq == seq:
            self._probe.acked = True
            return
        fwd = self._forwards.pop(seq, None)
        if fwd is not None:
            self._send(fwd.origin, [Ack(fwd.origin_seq)])

    # ---- state updates -------------------------------------------------------------------

    def _estimate_n(self) -> int:
        return sum(1 for n in self._nodes.values() if not n.status.gone)

    def _emit(self, kind: str, node: NodeState) -> None:
        self._events.append(MemberEvent(kind, node.copy()))

    def _set_status(self, node: NodeState, status: NodeStatus) -> None:
        if node.status != status:
            node.status = status
            node.status_since = self._clock.monotonic()

    def _queue_alive(self) -> None:
        me = self.local
        self._broadcasts.queue(me.name, Alive(me.incarnation, me.name, me.addr, me.port, dict(me.tags)))

    def _refute(self, incarnation: int) -> None:
        me = self.local
        me.incarnation = max(me.incarnation, incarnation) + 1
        self._queue_alive()

    def _accused(self, incarnation: int) -> None:
        """Someone holds us suspect or dead: outrank it, or (if their news is stale) repeat our alive
        so it rides back on the reply to them."""
        if self.leaving:
            return
        if incarnation >= self.local.incarnation:
            self._refute(incarnation)
        else:
            self._queue_alive()

    def _on_alive(self, msg: Alive) -> None:
        if msg.node == self.name:
            me = self.local
            stale = msg.incarnation == me.incarnation and (msg.tags != me.tags or (msg.addr, msg.port) != me.address)
            if not self.leaving and (msg.incarnation > me.incarnation or stale):
                self._refute(msg.incarnation)
            return
        node = self._nodes.get(msg.node)
        if node is None:
            node = NodeState(msg.node, msg.addr, msg.port, dict(msg.tags), msg.incarnation, NodeStatus.ALIVE,
                             self._clock.monotonic())
            self._nodes[msg.node] = node
            # Probe the newcomer soon, not after a full round.
            self._probe_order.insert(self._rng.randint(self._probe_index, len(self._probe_order)), msg.node)
            self._broadcasts.queue(msg.node, msg)
            self._emit(EVENT_JOIN, node)
            return
        if msg.incarnation <= node.incarnation:
            return
        was_gone = node.status.gone
        changed = node.tags != msg.tags or node.address != (msg.addr, msg.port)
        node.addr, node.port, node.tags, node.incarnation = msg.addr, msg.port, dict(msg.tags), msg.incarnation
        self._suspicions.pop(msg.node, None)
        self._set_status(node, NodeStatus.ALIVE)
        self._broadcasts.queue(msg.node, msg)
        if was_gone:
            self._emit(EVENT_JOIN, node)
        elif changed:
            self._emit(EVENT_UPDATE, node)

    def _on_suspect(self, msg: Suspect) -> None:
        if msg.node == self.name:
            self._accused(msg.incarnation)
            return
        node = self._nodes.get(msg.node)
        if node is None or msg.incarnation < node.incarnation:
            return
        susp = self._suspicions.get(msg.node)
        if susp is not None and node.status == NodeStatus.SUSPECT and msg.incarnation == node.incarnation:
            if susp.confirm(msg.sender):
                self._broadcasts.queue(msg.node, msg)
            return
        if node.status.gone or (node.status == NodeStatus.SUSPECT and msg.incarnation == node.incarnation):
            return
        n = self._estimate_n()
        k = self.config.suspicion_mult - 2
        if n - 2 < k:
            k = 0
        min_t = suspicion_timeout(self.config.suspicion_mult, n, self.config.probe_interval)
        max_t = self.config.suspicion_max_timeout_mult * min_t
        node.incarnation = msg.incarnation
        self._set_status(node, NodeStatus.SUSPECT)
        self._suspicions[msg.node] = Suspicion(self._clock.monotonic(), msg.incarnation, msg.sender, k, min_t, max_t)
        self._broadcasts.queue(msg.node, msg)
        # Tell the suspect directly so it can refute at once rather than when the rumour reaches it.
        self._outbox.append(Outgoing(node.address, (msg,), False))

    def _suspicion_expired(self, name: str, susp: Suspicion) -> None:
        del self._suspicions[name]
        node = self._nodes.get(name)
        if node is not None and node.status == NodeStatus.SUSPECT and node.incarnation == susp.incarnation:
            self._on_dead(Dead(node.incarnation, name, self.name, False))

    def _on_dead(self, msg: Dead) -> None:
        if msg.node == self.name:
            self._accused(msg.incarnation)
            return
        node = self._nodes.get(msg.node)
        if node is None or msg.incarnation < node.incarnation:
            return
        if node.status == NodeStatus.LEFT:
            return
        if node.status == NodeStatus.DEAD and not msg.left:
            return
        self._suspicions.pop(msg.node, None)
        node.incarnation = msg.incarnation
        self._set_status(node, NodeStatus.LEFT if msg.left else NodeStatus.DEAD)
        self._broadcasts.queue(msg.node, msg)
        self._emit(EVENT_LEAVE if msg.left else EVENT_FAILED, node)

    def _merge(self, states: Iterable[PushPullState]) -> None:
        for s in states:
            if s.status == NodeStatus.ALIVE:
                self._on_alive(Alive(s.incarnation, s.node, s.addr, s.port, s.tags))
            elif s.status == NodeStatus.LEFT:
                self._on_dead(Dead(s.incarnation, s.node, s.node, True))
            elif s.node in self._nodes:
                # Another member's verdict of death is only a suspicion here: we check for ourselves.
                self._on_suspect(Suspect(s.incarnation, s.node, self.name))

    # ---- periodic work -------------------------------------------------------------------

    def _piggyback(self, already: list[Message]) -> list[Message]:
        used = len(encode_packet(already))
        return self._broadcasts.take(self.config.udp_buffer_size - used)

    def _send(self, dest: Address, msgs: list[Message]) -> None:
        msgs = msgs + self._piggyback(msgs)
        self._outbox.append(Outgoing(dest, tuple(msgs), False))

    def _gossip_round(self) -> None:
        if not len(self._broadcasts):
            return
        now = self._clock.monotonic()
        peers = [
            n for n in self._nodes.values()
            if n.name != self.name
            and (not n.status.gone
                 or (n.status == NodeStatus.DEAD and now - n.status_since < self.config.gossip_to_the_dead_time))
        ]
        for peer in self._rng.sample(peers, min(self.config.gossip_nodes, len(peers))):
            msgs = self._broadcasts.take(self.config.udp_buffer_size)
            if not msgs:
                break
            self._outbox.append(Outgoing(peer.address, tuple(msgs), False))

    def _push_pull_random(self) -> None:
        peers = [n for n in self._nodes.values() if n.name != self.name and n.status == NodeStatus.ALIVE]
        if peers:
            peer = self._rng.choice(peers)
            self._outbox.append(Outgoing(peer.address, (self.push_pull_message(),), True))

    def _reconnect_random(self) -> None:
        failed = [n for n in self._nodes.values() if n.status == NodeStatus.DEAD]
        if failed and not self.leaving:
            peer = self._rng.choice(failed)
            self._outbox.append(Outgoing(peer.address, (self.push_pull_message(),), True))

    def _reap(self, now: float) -> None:
        for node in list(self._nodes.values()):
            limit = {NodeStatus.DEAD: self.config.reconnect_timeout, NodeStatus.LEFT: self.config.tombstone_timeout}
            timeout = limit.get(node.status)
            if node.name != self.name and timeout is not None and now - node.status_since >= timeout:
                del self._nodes[node.name]
                self._broadcasts.drop(node.name)
                self._emit(EVENT_REAP, node)
