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
- Full state is exchanged over TCP on join and every `push_pull_interval`; a random failed
  member is retried every `reconnect_interval`, and failed/left members are reaped after
  `reconnect_timeout` / `tombstone_timeout`.
- Lifeguard: helpers nack an indirect probe they could not complete; a prober missing acks and
  nacks raises its local health score, which stretches its own probe timeouts.

Which update wins over which lives in `members.MemberTable`; this module does the probing,
gossiping and scheduling around it.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from pyconsul.clock import Clock
from pyconsul.gossip.config import GossipConfig, push_pull_scale
from pyconsul.gossip.members import (  # noqa: F401  (re-exported: the events are part of this API)
    EVENT_FAILED,
    EVENT_JOIN,
    EVENT_LEAVE,
    EVENT_REAP,
    EVENT_UPDATE,
    Address,
    MemberEvent,
    MemberTable,
)
from pyconsul.gossip.messages import (
    Ack,
    Alive,
    Dead,
    IndirectPing,
    Message,
    Nack,
    Ping,
    PushPull,
    Suspect,
    encode_packet,
)
from pyconsul.gossip.state import NodeState, NodeStatus
from pyconsul.telemetry import (  # appends only: the core still does no I/O
    add_sample,
    incr_counter,
    measure_since,
)
from pyconsul.telemetry import now as telemetry_now


@dataclass(frozen=True)
class Outgoing:
    dest: Address
    messages: tuple[Message, ...]
    reliable: bool  # True: send over TCP (replies come back via handle_packet(reliable=True))


@dataclass
class _Probe:
    target: str
    seq: int
    timeout_at: float
    fail_at: float
    indirect_sent: bool = False
    acked: bool = False
    expected_nacks: int = 0
    nacks: int = 0
    sent_at: float = 0.0


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
        self._outbox: list[Outgoing] = []
        self._seq = rng.randrange(1 << 30)
        self._probe: _Probe | None = None
        self._forwards: dict[int, _Forward] = {}
        self._probe_order: list[str] = []
        self._probe_index = 0
        self._awareness = 0  # Lifeguard local health: 0 is healthy; timeouts scale by (score + 1)
        self._table = MemberTable(name, addr, port, tags, config, clock, self._probe_soon,
                                  lambda dest, msg: self._outbox.append(Outgoing(dest, (msg,), False)),
                                  on_refute=lambda: self._adjust_awareness(1))
        self._nodes = self._table.nodes  # the same dict: probing reads it directly
        self._tell_next_round: list[tuple[Address, Message]] = []
        # (member, seconds) of directly acked probes, for network coordinates (Serf's ping RTTs).
        self._rtts: list[tuple[str, float]] = []
        self._broadcasts = self._table.broadcasts
        # Stagger periodic work so members started together do not act in lockstep.
        self._next_probe = now + rng.uniform(0, config.probe_interval)
        self._next_gossip = now + rng.uniform(0, config.gossip_interval)
        self._next_push_pull = now + rng.uniform(0.5, 1.0) * config.push_pull_interval
        self._next_reconnect = now + config.reconnect_interval
        self._next_reap = now + config.reap_interval

    # ---- queries -------------------------------------------------------------------------

    @property
    def local(self) -> NodeState:
        return self._table.local

    @property
    def leaving(self) -> bool:
        return self._table.leaving

    def nodes(self) -> list[NodeState]:
        """Snapshots of every known member, this one included."""
        return [n.copy() for n in self._nodes.values()]

    def get(self, name: str) -> NodeState | None:
        node = self._nodes.get(name)
        return node.copy() if node else None

    @property
    def health_score(self) -> int:
        """Lifeguard's local health awareness (0 = healthy); memberlist's GetHealthScore."""
        return self._awareness

    def pending_broadcasts(self) -> int:
        return len(self._broadcasts)

    def has_live_peers(self) -> bool:
        return any(n.name != self.name and not n.status.gone for n in self._nodes.values())

    def take_outbox(self) -> list[Outgoing]:
        out, self._outbox = self._outbox, []
        return out

    def take_rtts(self) -> list[tuple[str, float]]:
        """Round-trip times of direct probes since the last call: (member name, seconds)."""
        out, self._rtts = self._rtts, []
        return out

    def take_events(self) -> list[MemberEvent]:
        out, self._table.events = self._table.events, []
        return out

    def next_deadline(self) -> float:
        times = [self._next_probe, self._next_gossip, self._next_push_pull, self._next_reconnect, self._next_reap]
        if self._probe and not self._probe.acked:
            times.append(self._probe.timeout_at if not self._probe.indirect_sent else self._probe.fail_at)
        times.extend(s.deadline for s in self._table.suspicions.values())
        times.extend(f.expires for f in self._forwards.values())
        return min(times)

    def push_pull_message(self, join: bool = False, reply: bool = False) -> PushPull:
        return PushPull(join, reply, self._table.push_pull_states())

    # ---- local changes -------------------------------------------------------------------

    def set_tags(self, tags: dict[str, str]) -> None:
        self._table.set_tags(tags)

    def leave(self) -> None:
        """Announce a graceful leave; the driver keeps gossiping until pending_broadcasts() is 0."""
        self._table.leave()
        # Tell a few members straight away rather than waiting for the next gossip round.
        self._gossip_round()

    def force_leave(self, name: str, prune: bool = False) -> bool:
        """Consul's force-leave: the member becomes left everywhere (`prune`: is forgotten)."""
        target = self._nodes.get(name)
        was_live = target is not None and not target.status.gone
        ok = self._table.force_leave(name, prune)
        if ok and was_live and target is not None:
            # Nobody gossips to a member once it is left, so it is told with the next gossip round
            # (as serf's leave intent reaches it): a live one refutes.
            self._tell_next_round.append((target.address, Dead(target.incarnation, name, self.name, True, prune)))
        return ok

    # ---- time ----------------------------------------------------------------------------

    def tick(self) -> None:
        now = self._clock.monotonic()
        self._check_probe(now)
        if now >= self._next_probe:
            if self._probe is not None and not self._probe.acked:
                self._next_probe = self._probe.fail_at  # a stretched probe is still running
            else:
                self._next_probe = now + self.config.probe_interval
                if not self.leaving:
                    self._start_probe(now)
        self._table.expire_suspicions(now)
        for seq, fwd in list(self._forwards.items()):
            if now >= fwd.expires:
                del self._forwards[seq]
                self._send(fwd.origin, [Nack(fwd.origin_seq)])
        if now >= self._next_gossip:
            self._next_gossip = now + self.config.gossip_interval
            self._gossip_round()
        if now >= self._next_push_pull:
            self._next_push_pull = now + push_pull_scale(self.config.push_pull_interval, self._table.estimate_n())
            if not self.leaving:
                self._push_pull_random()
        if now >= self._next_reconnect:
            self._next_reconnect = now + self.config.reconnect_interval
            self._reconnect_random()
        if now >= self._next_reap:
            self._next_reap = now + self.config.reap_interval
            self._table.reap(now)

    # ---- packets -------------------------------------------------------------------------

    def handle_packet(self, src: Address, messages: Iterable[Message], reliable: bool = False) -> list[Message]:
        """Process one packet from `src`; returns the messages to send straight back to `src`."""
        table = self._table
        replies: list[Message] = []
        for msg in messages:
            if isinstance(msg, Ping):
                if msg.node == self.name:
                    replies.append(Ack(msg.seq))
            elif isinstance(msg, IndirectPing):
                self._forward_probe(src, msg)
            elif isinstance(msg, Ack):
                self._on_ack(msg.seq)
            elif isinstance(msg, Nack):
                if self._probe is not None and self._probe.seq == msg.seq:
                    self._probe.nacks += 1
            elif isinstance(msg, Alive):
                incr_counter("memberlist.msg.alive")
                table.on_alive(msg)
            elif isinstance(msg, Suspect):
                incr_counter("memberlist.msg.suspect")
                table.on_suspect(msg)
            elif isinstance(msg, Dead):
                incr_counter("memberlist.msg.dead")
                table.on_dead(msg)
            elif isinstance(msg, PushPull):
                table.merge(msg.states)
                if not msg.reply:
                    replies.append(self.push_pull_message(reply=True))
        if replies and not reliable:
            replies.extend(self._piggyback(replies))
        return replies

    # ---- probing -------------------------------------------------------------------------

    def _probe_soon(self, name: str) -> None:
        """A newcomer is probed within this round, not after a full one."""
        self._probe_order.insert(self._rng.randint(self._probe_index, len(self._probe_order)), name)

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
        scale = self._awareness + 1
        self._probe = _Probe(target.name, seq, now + self.config.probe_timeout * scale,
                             now + self.config.probe_interval * scale, sent_at=now)
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
            chosen = self._rng.sample(helpers, min(self.config.indirect_checks, len(helpers)))
            probe.expected_nacks = len(chosen)
            for helper in chosen:
                self._send(helper.address, [IndirectPing(probe.seq, target.name, target.addr, target.port)])
            # A TCP ping gets through where UDP is filtered or lossy.
            self._outbox.append(Outgoing(target.address, (Ping(probe.seq, target.name),), True))
        if now >= probe.fail_at:
            self._probe = None
            add_sample("memberlist.probeNode", (now - probe.sent_at) * 1000.0)  # a failed probe's full time
            # Helpers that could not reach the target either say so (nack); missing nacks mean the
            # fault is more likely our own link or load, so we grow more patient.
            missing = probe.expected_nacks - probe.nacks if probe.expected_nacks else 1
            self._adjust_awareness(max(0, missing))
            self._table.on_suspect(Suspect(target.incarnation, target.name, self.name))

    def _adjust_awareness(self, delta: int) -> None:
        self._awareness = min(max(self._awareness + delta, 0), self.config.awareness_max_multiplier - 1)

    def _forward_probe(self, src: Address, msg: IndirectPing) -> None:
        seq = self._next_seq()
        # Nack a little before the prober's own deadline so the nack still counts (memberlist: 80%).
        self._forwards[seq] = _Forward(src, msg.seq, self._clock.monotonic() + 0.8 * self.config.probe_timeout)
        self._send((msg.addr, msg.port), [Ping(seq, msg.node)])

    def _on_ack(self, seq: int) -> None:
        if self._probe is not None and self._probe.seq == seq:
            if not self._probe.acked:
                self._probe.acked = True
                self._adjust_awareness(-1)
                # memberlist's probeNode: how long a probe took to be answered, on our clock.
                add_sample("memberlist.probeNode", (self._clock.monotonic() - self._probe.sent_at) * 1000.0)
                if not self._probe.indirect_sent:  # a relayed ack measures someone else's path
                    self._rtts.append((self._probe.target, self._clock.monotonic() - self._probe.sent_at))
                    del self._rtts[:-64]
            return
        fwd = self._forwards.pop(seq, None)
        if fwd is not None:
            self._send(fwd.origin, [Ack(fwd.origin_seq)])

    # ---- state updates -------------------------------------------------------------------

    # ---- periodic work -------------------------------------------------------------------

    def _piggyback(self, already: list[Message]) -> list[Message]:
        used = len(encode_packet(already))
        return self._broadcasts.take(self.config.udp_buffer_size - used)

    def _send(self, dest: Address, msgs: list[Message]) -> None:
        msgs = msgs + self._piggyback(msgs)
        self._outbox.append(Outgoing(dest, tuple(msgs), False))

    def _gossip_round(self) -> None:
        started = telemetry_now()  # memberlist.gossip: the cost of a round, on the metrics clock
        try:
            self._gossip_to_peers()
        finally:
            measure_since("memberlist.gossip", started)

    def _gossip_to_peers(self) -> None:
        for dest, msg in self._tell_next_round:
            self._outbox.append(Outgoing(dest, (msg,), False))
        self._tell_next_round.clear()
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
