"""Raft's metrics with hashicorp/raft's names, fed by the node driver in a few calls.

- `raft.state.leader|candidate|follower`: counters, one per entry into that role.
- `raft.apply`: counter, entries proposed on the leader; `raft.commitTime`: timer from proposal
  to the leader's result (which here includes the leader's own apply).
- `raft.leader.lastContact`: timer, time since the previous message from the same peer — on the
  leader per follower (as the Go leader lease check measures it), on a follower for its leader.
- `raft.replication.appendEntries.rpc` (label `peer_id`): timer from sending AppendEntries to a
  follower until its answer; `raft.replication.heartbeat` likewise for heartbeats.
- `raft.snapshot.create`, `raft.snapshot.persist`: timers around taking and saving a snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable

from pyconsul.raft.core import Role
from pyconsul.raft.messages import AppendEntries, AppendResp, Heartbeat, HeartbeatResp, Message
from pyconsul.telemetry.registry import METRICS, Registry

_ROLE_COUNTER = {Role.LEADER: "raft.state.leader", Role.CANDIDATE: "raft.state.candidate",
                 Role.FOLLOWER: "raft.state.follower"}


class RaftMetrics:
    def __init__(self, reg: Registry = METRICS) -> None:
        self.reg = reg
        self.role: Role | None = None
        self.heard: dict[str, float] = {}
        self.append_sent: dict[str, float] = {}
        self.heartbeat_sent: dict[str, float] = {}

    def note_role(self, role: Role) -> None:
        if role is not self.role:
            self.role = role
            name = _ROLE_COUNTER.get(role)
            if name is not None:
                self.reg.incr_counter(name)

    def received(self, src: str, msgs: Iterable[Message], leader: str) -> None:
        reg = self.reg
        now = reg.clock.monotonic()
        if self.role is Role.LEADER or src == leader:
            last = self.heard.get(src)
            if last is not None:
                reg.add_sample("raft.leader.lastContact", (now - last) * 1000.0)
            self.heard[src] = now
        for m in msgs:
            if isinstance(m, AppendResp):
                sent = self.append_sent.pop(src, None)
                if sent is not None:
                    reg.add_sample("raft.replication.appendEntries.rpc", (now - sent) * 1000.0,
                                   (("peer_id", src),))
            elif isinstance(m, HeartbeatResp):
                sent = self.heartbeat_sent.pop(src, None)
                if sent is not None:
                    reg.add_sample("raft.replication.heartbeat", (now - sent) * 1000.0, (("peer_id", src),))

    def sent(self, msgs: Iterable[Message]) -> None:
        now = self.reg.clock.monotonic()
        for m in msgs:
            if isinstance(m, AppendEntries):
                self.append_sent.setdefault(m.dst, now)
            elif isinstance(m, Heartbeat):
                self.heartbeat_sent.setdefault(m.dst, now)
