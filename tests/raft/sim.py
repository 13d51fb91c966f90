"""A fake in-memory network for RaftCore: seeded randomness, no sockets, no clock.

Every message goes through the real msgpack codec. Faults, like etcd's raft test network:
`drop(a, b, p)` loses a fraction of a→b messages, `cut(a, b)` loses all of them both ways,
`isolate(a)` cuts `a` from everyone, `recover()` heals all. `crash(a)` loses a server's volatile
state (its durable state — what the driver would have fsync'd — survives), `restart(a)` brings it
back from that durable state.

Each server's state machine is a list of applied commands; snapshots are that list, msgpack'd.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import msgpack

from pyconsul.raft.core import RaftConfig, RaftCore, Role
from pyconsul.raft.messages import (
    CONFIG,
    NORMAL,
    Entry,
    Message,
    Snapshot,
    decode_message,
    encode_message,
    encode_voters,
)


@dataclass
class Durable:
    term: int = 0
    vote: str = ""
    entries: list[Entry] = field(default_factory=list)
    snapshot: Snapshot | None = None

    def append(self, ents: list[Entry]) -> None:
        if not ents:
            return
        first = ents[0].index
        self.entries = [e for e in self.entries if e.index < first] + list(ents)


@dataclass
class SimServer:
    id: str
    core: RaftCore
    durable: Durable
    applied: list[tuple[int, bytes]] = field(default_factory=list)
    applied_index: int = 0
    read_results: dict[bytes, int] = field(default_factory=dict)
    up: bool = True


class SimCluster:
    def __init__(
        self,
        n: int,
        seed: int = 0,
        *,
        election_tick: int = 10,
        lease_tick: int = 0,
        pre_vote: bool = True,
        check_quorum: bool = True,
        snapshot_every: int = 0,
        trailing: int = 0,
        bootstrap: bool = True,
        max_msg_bytes: int = 1 << 20,
    ) -> None:
        self.rng = random.Random(seed)
        self.max_msg_bytes = max_msg_bytes
        self.election_tick = election_tick
        self.lease_tick = lease_tick
        self.pre_vote = pre_vote
        self.check_quorum = check_quorum
        self.snapshot_every = snapshot_every
        self.trailing = trailing
        self.servers: dict[str, SimServer] = {}
        self.queue: list[Message] = []
        self.drop_rate: dict[tuple[str, str], float] = {}
        self.delivered = 0
        ids = [f"s{i}" for i in range(1, n + 1)]
        voters = {i: f"10.0.0.{k + 1}:8300" for k, i in enumerate(ids)}
        for sid in ids:
            durable = Durable()
            if bootstrap:
                durable.entries = [Entry(1, 1, CONFIG, encode_voters(voters))]
                durable.term = 1
            self.servers[sid] = self._boot(sid, durable)

    # ------------------------------------------------------------------ servers
    def _config(self, sid: str) -> RaftConfig:
        return RaftConfig(
            id=sid,
            election_tick=self.election_tick,
            lease_tick=self.lease_tick,
            pre_vote=self.pre_vote,
            check_quorum=self.check_quorum,
            trailing_entries=self.trailing,
            max_inflight=8,
            max_msg_bytes=self.max_msg_bytes,
        )

    def _boot(self, sid: str, durable: Durable) -> SimServer:
        core = RaftCore(
            self._config(sid),
            random.Random(self.rng.random()),
            term=durable.term,
            vote=durable.vote,
            snapshot=durable.snapshot,
            entries=list(durable.entries),
        )
        srv = SimServer(sid, core, durable)
        if durable.snapshot is not None:
            srv.applied = [tuple(x) for x in msgpack.unpackb(durable.snapshot.data)]  # type: ignore[misc]
            srv.applied_index = durable.snapshot.index
        return srv

    def add_server(self, sid: str) -> SimServer:
        """A brand-new empty server (joins once the leader adds it to the configuration)."""
        srv = self._boot(sid, Durable())
        self.servers[sid] = srv
        return srv

    def crash(self, sid: str) -> None:
        self.servers[sid].up = False
        self.queue = [m for m in self.queue if m.dst != sid and m.src != sid]

    def restart(self, sid: str) -> None:
        self.servers[sid] = self._boot(sid, self.servers[sid].durable)

    def core(self, sid: str) -> RaftCore:
        return self.servers[sid].core

    # ------------------------------------------------------------------ faults
    def drop(self, a: str, b: str, p: float) -> None:
        self.drop_rate[(a, b)] = p

    def cut(self, a: str, b: str) -> None:
        self.drop(a, b, 1.0)
        self.drop(b, a, 1.0)

    def isolate(self, a: str) -> None:
        for b in self.servers:
            if b != a:
                self.cut(a, b)

    def recover(self) -> None:
        self.drop_rate.clear()

    # ------------------------------------------------------------------ running
    def tick(self, sid: str | None = None, n: int = 1) -> None:
        for _ in range(n):
            for s in [sid] if sid else list(self.servers):
                if self.servers[s].up:
                    self.servers[s].core.tick()
            self.process()

    def process(self) -> bool:
        """Handle every server's ready() once and queue what they send; True if anything moved."""
        moved = False
        for srv in list(self.servers.values()):
            if not srv.up or not srv.core.has_ready():
                continue
            moved = True
            rd = srv.core.ready()
            d = srv.durable
            if rd.snapshot is not None:
                d.snapshot = rd.snapshot
                d.entries = [e for e in d.entries if e.index > rd.snapshot.index]
            d.append(rd.entries)
            d.term, d.vote = rd.term, rd.vote
            self.queue.extend(decode_message(encode_message(m)) for m in rd.messages)
            if rd.snapshot is not None:
                srv.applied = [tuple(x) for x in msgpack.unpackb(rd.snapshot.data)]  # type: ignore[misc]
                srv.applied_index = rd.snapshot.index
            for e in rd.committed:
                assert e.index == srv.applied_index + 1, (srv.id, e.index, srv.applied_index)
                srv.applied_index = e.index
                if e.kind == NORMAL:
                    srv.applied.append((e.index, e.data))
            for rs in rd.read_states:
                srv.read_results[rs.ctx] = rs.index
            if self.snapshot_every and srv.applied_index - (d.snapshot.index if d.snapshot else 0) >= self.snapshot_every:
                snap = srv.core.compact(srv.applied_index, msgpack.packb(srv.applied))
                d.snapshot = snap
                d.entries = [e for e in d.entries if e.index > srv.core.log.base.index]
        return moved

    def deliver(self) -> bool:
        """Deliver every queued message (dropping what faults say); True if any was queued."""
        if not self.queue:
            return False
        batch, self.queue = self.queue, []
        for m in batch:
            p = self.drop_rate.get((m.src, m.dst), 0.0)
            if p and (p >= 1.0 or self.rng.random() < p):
                continue
            dst = self.servers.get(m.dst)
            if dst is None or not dst.up:
                continue
            self.delivered += 1
            dst.core.step(m)
        return True

    def stabilize(self, limit: int = 10_000) -> None:
        """Exchange messages until nothing is left to send (no ticks)."""
        for _ in range(limit):
            moved = self.process()
            if not self.deliver() and not moved:
                return
        raise AssertionError("cluster did not stabilize")

    def run(self, ticks: int) -> None:
        for _ in range(ticks):
            self.tick()
            self.stabilize()

    # ------------------------------------------------------------------ observations
    def leaders(self) -> list[str]:
        return [s.id for s in self.servers.values() if s.up and s.core.role is Role.LEADER]

    def leader(self) -> str:
        ls = self.leaders()
        assert len(ls) == 1, f"expected one leader, got {ls}"
        return ls[0]

    def elect(self, sid: str) -> None:
        self.core(sid).campaign()
        self.stabilize()
        assert self.core(sid).role is Role.LEADER, self.core(sid).role

    def wait_leader(self, max_ticks: int = 500) -> str:
        for _ in range(max_ticks):
            self.tick()
            self.stabilize()
            ls = [x for x in self.leaders() if self._leader_has_quorum(x)]
            if len(ls) == 1:
                return ls[0]
        raise AssertionError(f"no leader after {max_ticks} ticks: {self.leaders()}")

    def _leader_has_quorum(self, sid: str) -> bool:
        core = self.core(sid)
        return core.committed_in_term()

    def propose(self, sid: str, data: bytes) -> tuple[int, int]:
        return self.core(sid).propose(data)

    def applied_data(self, sid: str) -> list[bytes]:
        return [d for _, d in self.servers[sid].applied]
