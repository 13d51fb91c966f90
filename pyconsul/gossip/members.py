"""What this member knows about the others, and the rules that change it.

Updates about one node are ordered by its incarnation number; only the node itself raises its
own (to refute). Alive beats suspect/dead at a higher incarnation; suspect and dead win at an
equal or higher one. A suspicion becomes a death when its timer runs out; a graceful leave is a
death notice the node sends about itself (`left`). Every accepted change is queued for
piggybacking and reported as an event (`member-join/leave/failed/update/reap`, serf's names).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pyconsul.clock import Clock
from pyconsul.gossip.broadcast import BroadcastQueue
from pyconsul.gossip.config import GossipConfig, retransmit_limit, suspicion_timeout
from pyconsul.gossip.messages import Alive, Dead, Message, PushPullState, Suspect
from pyconsul.gossip.state import NodeState, NodeStatus
from pyconsul.gossip.suspicion import Suspicion

Address = tuple[str, int]

EVENT_JOIN = "member-join"
EVENT_LEAVE = "member-leave"
EVENT_FAILED = "member-failed"
EVENT_UPDATE = "member-update"
EVENT_REAP = "member-reap"


@dataclass(frozen=True)
class MemberEvent:
    kind: str
    node: NodeState  # a snapshot at the time of the event


class MemberTable:
    def __init__(
        self,
        name: str,
        addr: str,
        port: int,
        tags: dict[str, str],
        config: GossipConfig,
        clock: Clock,
        on_new: Callable[[str], None],
        notify: Callable[[Address, Message], None],
        on_refute: Callable[[], None] = lambda: None,
    ) -> None:
        """`on_new(name)` hears of each newly learnt member; `notify(addr, msg)` sends one message;
        `on_refute()` hears each time we had to refute a suspicion about ourselves."""
        self.name = name
        self.config = config
        self._clock = clock
        self._on_new = on_new
        self._notify = notify
        self._on_refute = on_refute
        self.nodes: dict[str, NodeState] = {
            name: NodeState(name, addr, port, dict(tags), 0, NodeStatus.ALIVE, clock.monotonic())}
        self.suspicions: dict[str, Suspicion] = {}
        self.events: list[MemberEvent] = []
        self.broadcasts = BroadcastQueue(lambda: retransmit_limit(config.retransmit_mult, self.estimate_n()))
        self.leaving = False
        self.queue_alive()

    @property
    def local(self) -> NodeState:
        return self.nodes[self.name]

    def push_pull_states(self) -> tuple[PushPullState, ...]:
        return tuple(PushPullState(n.name, n.addr, n.port, dict(n.tags), n.incarnation, n.status)
                     for n in self.nodes.values())

    # ---- local changes -------------------------------------------------------------------

    def set_tags(self, tags: dict[str, str]) -> None:
        me = self.local
        me.tags = dict(tags)
        me.incarnation += 1
        self.queue_alive()
        self._emit(EVENT_UPDATE, me)

    def leave(self) -> None:
        self.leaving = True
        me = self.local
        self.broadcasts.queue(me.name, Dead(me.incarnation, me.name, me.name, True))

    def force_leave(self, name: str, prune: bool = False) -> bool:
        """Mark a member left cluster-wide; with `prune`, forget it everywhere. A member that is
        in fact alive refutes and comes back, as in Consul. False for unknown names and ourselves."""
        node = self.nodes.get(name)
        if node is None or name == self.name or (node.status == NodeStatus.LEFT and not prune):
            return False
        self.on_dead(Dead(node.incarnation, name, self.name, True, prune))
        return True

    def expire_suspicions(self, now: float) -> None:
        for name, susp in list(self.suspicions.items()):
            if now >= susp.deadline:
                self._suspicion_expired(name, susp)

    # ---- rules ---------------------------------------------------------------------------

    def estimate_n(self) -> int:
        return sum(1 for n in self.nodes.values() if not n.status.gone)

    def _emit(self, kind: str, node: NodeState) -> None:
        self.events.append(MemberEvent(kind, node.copy()))

    def _set_status(self, node: NodeState, status: NodeStatus) -> None:
        if node.status != status:
            node.status = status
            node.status_since = self._clock.monotonic()

    def queue_alive(self) -> None:
        me = self.local
        self.broadcasts.queue(me.name, Alive(me.incarnation, me.name, me.addr, me.port, dict(me.tags)))

    def _refute(self, incarnation: int) -> None:
        me = self.local
        me.incarnation = max(me.incarnation, incarnation) + 1
        self.queue_alive()

    def _accused(self, incarnation: int) -> None:
        """Someone holds us suspect or dead: outrank it, or (if their news is stale) repeat our alive
        so it rides back on the reply to them."""
        if self.leaving:
            return
        if incarnation >= self.local.incarnation:
            self._refute(incarnation)
            self._on_refute()
        else:
            self.queue_alive()

    def on_alive(self, msg: Alive) -> None:
        if msg.node == self.name:
            me = self.local
            stale = msg.incarnation == me.incarnation and (msg.tags != me.tags or (msg.addr, msg.port) != me.address)
            if not self.leaving and (msg.incarnation > me.incarnation or stale):
                self._refute(msg.incarnation)
            return
        node = self.nodes.get(msg.node)
        if node is None:
            node = NodeState(msg.node, msg.addr, msg.port, dict(msg.tags), msg.incarnation, NodeStatus.ALIVE,
                             self._clock.monotonic())
            self.nodes[msg.node] = node
            self._on_new(msg.node)
            self.broadcasts.queue(msg.node, msg)
            self._emit(EVENT_JOIN, node)
            return
        if msg.incarnation <= node.incarnation:
            return
        was_gone = node.status.gone
        changed = node.tags != msg.tags or node.address != (msg.addr, msg.port)
        node.addr, node.port, node.tags, node.incarnation = msg.addr, msg.port, dict(msg.tags), msg.incarnation
        self.suspicions.pop(msg.node, None)
        self._set_status(node, NodeStatus.ALIVE)
        self.broadcasts.queue(msg.node, msg)
        if was_gone:
            self._emit(EVENT_JOIN, node)
        elif changed:
            self._emit(EVENT_UPDATE, node)

    def on_suspect(self, msg: Suspect) -> None:
        if msg.node == self.name:
            self._accused(msg.incarnation)
            return
        node = self.nodes.get(msg.node)
        if node is None or msg.incarnation < node.incarnation:
            return
        susp = self.suspicions.get(msg.node)
        if susp is not None and node.status == NodeStatus.SUSPECT and msg.incarnation == node.incarnation:
            if susp.confirm(msg.sender):
                self.broadcasts.queue(msg.node, msg)
            return
        if node.status.gone or (node.status == NodeStatus.SUSPECT and msg.incarnation == node.incarnation):
            return
        n = self.estimate_n()
        k = self.config.suspicion_mult - 2
        if n - 2 < k:
            k = 0
        min_t = suspicion_timeout(self.config.suspicion_mult, n, self.config.probe_interval)
        max_t = self.config.suspicion_max_timeout_mult * min_t
        node.incarnation = msg.incarnation
        self._set_status(node, NodeStatus.SUSPECT)
        self.suspicions[msg.node] = Suspicion(self._clock.monotonic(), msg.incarnation, msg.sender, k, min_t, max_t)
        self.broadcasts.queue(msg.node, msg)
        # Tell the suspect directly so it can refute at once rather than when the rumour reaches it.
        self._notify(node.address, msg)

    def _suspicion_expired(self, name: str, susp: Suspicion) -> None:
        del self.suspicions[name]
        node = self.nodes.get(name)
        if node is not None and node.status == NodeStatus.SUSPECT and node.incarnation == susp.incarnation:
            self.on_dead(Dead(node.incarnation, name, self.name, False))

    def on_dead(self, msg: Dead) -> None:
        if msg.node == self.name:
            self._accused(msg.incarnation)
            return
        node = self.nodes.get(msg.node)
        if node is None or msg.incarnation < node.incarnation:
            return
        if msg.prune and msg.left:
            self.suspicions.pop(msg.node, None)
            del self.nodes[msg.node]
            self.broadcasts.queue(msg.node, msg)
            if node.status != NodeStatus.LEFT:
                node.incarnation = msg.incarnation
                self._set_status(node, NodeStatus.LEFT)
                self._emit(EVENT_LEAVE, node)
            self._emit(EVENT_REAP, node)
            return
        if node.status == NodeStatus.LEFT:
            return
        if node.status == NodeStatus.DEAD and not msg.left:
            return
        self.suspicions.pop(msg.node, None)
        node.incarnation = msg.incarnation
        self._set_status(node, NodeStatus.LEFT if msg.left else NodeStatus.DEAD)
        self.broadcasts.queue(msg.node, msg)
        self._emit(EVENT_LEAVE if msg.left else EVENT_FAILED, node)

    def merge(self, states: Iterable[PushPullState]) -> None:
        for s in states:
            if s.status == NodeStatus.ALIVE:
                self.on_alive(Alive(s.incarnation, s.node, s.addr, s.port, s.tags))
            elif s.status == NodeStatus.LEFT:
                self.on_dead(Dead(s.incarnation, s.node, s.node, True))
            elif s.node in self.nodes:
                # Another member's verdict of death is only a suspicion here: we check for ourselves.
                self.on_suspect(Suspect(s.incarnation, s.node, self.name))

    def reap(self, now: float) -> None:
        for node in list(self.nodes.values()):
            limit = {NodeStatus.DEAD: self.config.reconnect_timeout, NodeStatus.LEFT: self.config.tombstone_timeout}
            timeout = limit.get(node.status)
            if node.name != self.name and timeout is not None and now - node.status_since >= timeout:
                del self.nodes[node.name]
                self.broadcasts.drop(node.name)
                self._emit(EVENT_REAP, node)
