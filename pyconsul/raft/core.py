"""Raft as a pure state machine: no sockets, no clock, no disk (etcd's raft is the model).

The driver calls `tick()` on a fixed logical beat, `step(msg)` for each message received,
`propose()` / `propose_config()` / `read_index()` for local requests, and then `ready()`, which
hands back everything to do, in this order:
  1. persist `ready.entries` (truncating the stored log from entries[0].index), the
     `ready.snapshot` if any, and term/vote when `ready.hard_state_changed` — all fsync'd;
  2. only then send `ready.messages` (votes and acknowledgements promise durable state);
  3. apply `ready.committed` (after installing `ready.snapshot`) in order.

Rules kept here: randomised election timeouts from an injected `random.Random`; pre-vote (a
server first asks whether it could win, without raising its term, so a returning partitioned
server cannot depose a healthy leader); check-quorum (a leader that has not heard from a majority
within its lease, `lease_tick`, steps down, and followers that heard from a leader that recently
ignore votes); commit only entries of the leader's own term by counting; single-server
membership changes, effective as soon as appended, one at a time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import Enum

from pyconsul.consensus.errors import NotLeader  # raised with the leader's server ID
from pyconsul.raft.log import RaftLog
from pyconsul.raft.messages import (
    CONFIG,
    NOOP,
    NORMAL,
    AppendEntries,
    AppendResp,
    Entry,
    Heartbeat,
    HeartbeatResp,
    InstallSnapshot,
    Message,
    ReadIndex,
    ReadIndexResp,
    Snapshot,
    TimeoutNow,
    Vote,
    VoteResp,
    Voters,
    encode_voters,
)
from pyconsul.raft.progress import Progress, ProgressState


class Role(Enum):
    FOLLOWER = "Follower"
    PRE_CANDIDATE = "PreCandidate"
    CANDIDATE = "Candidate"
    LEADER = "Leader"


class ConfigChangeInProgress(Exception):
    pass


@dataclass
class RaftConfig:
    id: str
    election_tick: int = 10
    heartbeat_tick: int = 1
    # Ticks a leader may go without hearing from a quorum before it steps down, and the window
    # its lease reads rely on (hashicorp/raft's LeaderLeaseTimeout; Consul: half the election
    # timeout). 0: the election timeout, as etcd does. Never longer than the election timeout,
    # for followers ignore votes only that long after hearing from a leader.
    lease_tick: int = 0
    pre_vote: bool = True
    check_quorum: bool = True
    max_inflight: int = 256
    max_msg_bytes: int = 1 << 20
    trailing_entries: int = 1024  # kept before a snapshot so slow followers can catch up by log


@dataclass
class ReadState:
    ctx: bytes
    index: int  # read once applied reaches this; -1: refused (no leader / leadership lost)


@dataclass
class Ready:
    entries: list[Entry] = field(default_factory=list)
    snapshot: Snapshot | None = None
    hard_state_changed: bool = False
    term: int = 0
    vote: str = ""
    commit: int = 0
    messages: list[Message] = field(default_factory=list)
    committed: list[Entry] = field(default_factory=list)
    read_states: list[ReadState] = field(default_factory=list)

    def empty(self) -> bool:
        return not (
            self.entries
            or self.snapshot
            or self.hard_state_changed
            or self.messages
            or self.committed
            or self.read_states
        )


@dataclass
class _PendingRead:
    ctx: bytes
    index: int
    requester: str
    acks: set[str]


class RaftCore:
    def __init__(
        self,
        config: RaftConfig,
        rng: random.Random,
        *,
        term: int = 0,
        vote: str = "",
        snapshot: Snapshot | None = None,
        entries: list[Entry] | None = None,
    ) -> None:
        """Start from persisted state (all empty for a brand-new server)."""
        self.cfg = config
        self.id = config.id
        self.rng = rng
        self.log = RaftLog(snapshot, entries)
        self.term = term
        self.vote = vote
        self.lead = ""
        self.role = Role.FOLLOWER
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.ticks = 0
        self.randomized_timeout = config.election_tick
        self.prs: dict[str, Progress] = {}
        self.votes: dict[str, bool] = {}
        self.pending_config_index = 0
        self.transferee = ""  # leader handing over to this server
        self.transfer_elapsed = 0
        self.msgs: list[Message] = []
        self.read_states: list[ReadState] = []
        self._reads: list[_PendingRead] = []
        self._reads_waiting_commit: list[tuple[bytes, str, bool]] = []
        # Reads this server asked a leader to confirm: ctx -> (lease, the server asked). They
        # follow leadership: re-sent to each new leader, served here if we win (etcd drops them
        # and lets the caller time out, which turns a 1 s election into a 7 s hold).
        self._forwarded_reads: dict[bytes, tuple[bool, str]] = {}
        self._persisted_hs = (term, vote)
        self._commit_bcast = False
        self._reset_timeout()

    # ------------------------------------------------------------------ queries
    @property
    def voters(self) -> Voters:
        return self.log.voters()

    def promotable(self) -> bool:
        return self.id in self.voters

    def quorum(self) -> int:
        return len(self.voters) // 2 + 1

    def is_leader(self) -> bool:
        return self.role is Role.LEADER

    def lease_window(self) -> int:
        lease = self.cfg.lease_tick
        return min(lease, self.cfg.election_tick) if lease > 0 else self.cfg.election_tick

    def lease_valid(self) -> bool:
        """A leader that heard from a quorum within its lease (no other leader can exist yet:
        followers ignore votes for an election timeout after hearing from it)."""
        return self.role is Role.LEADER and self._quorum_active(self.lease_window())

    def _in_lease(self) -> bool:
        if not self.cfg.check_quorum:
            return False
        if self.role is Role.LEADER:
            return self._quorum_active(self.lease_window())
        return self.lead != "" and self.election_elapsed < self.cfg.election_tick

    def superseded(self, index: int, term: int) -> bool:
        """Entry (index, term), not committed here yet, can never commit: an entry of a later term
        is committed before it, and terms only grow along a log, so every future leader's log
        holds something else at `index`. A writer waiting on it can retry at once."""
        c = self.log.committed
        ct = self.log.term(c)
        return index > c and ct is not None and ct > term

    def committed_in_term(self) -> bool:
        return self.log.term(self.log.committed) == self.term

    # ------------------------------------------------------------------ local inputs
    def tick(self) -> None:
        self.ticks += 1
        if self.role is Role.LEADER:
            self._tick_leader()
            return
        self.election_elapsed += 1
        if self.promotable() and self.election_elapsed >= self.randomized_timeout:
            self.election_elapsed = 0
            self.campaign()

    def _tick_leader(self) -> None:
        self.heartbeat_elapsed += 1
        self.election_elapsed += 1
        if self.cfg.check_quorum and not self._quorum_active(self.lease_window()):
            self._become_follower(self.term, "")
            return
        if self.id not in self.voters and self.log.committed >= self.log.last_config_index():
            self._become_follower(self.term, "")  # removed ourselves and that is committed
            return
        if self.transferee:
            self.transfer_elapsed += 1
            if self.transfer_elapsed >= self.cfg.election_tick:
                self.transferee = ""  # the handover did not happen in time: carry on leading
        if self.heartbeat_elapsed >= self.cfg.heartbeat_tick:
            self.heartbeat_elapsed = 0
            self._bcast_heartbeat(self._reads[-1].ctx if self._reads else b"")

    def campaign(self, force: bool = False, transfer: bool = False) -> None:
        """Start an election (a pre-vote first, unless `force` or pre-vote is off)."""
        if not self.promotable() or self.role is Role.LEADER:
            return
        pre = self.cfg.pre_vote and not force
        if pre:
            self._become_pre_candidate()
            term = self.term + 1
        else:
            self._become_candidate()
            term = self.term
        self.votes = {self.id: True}
        if self._tally() >= self.quorum():
            if pre:
                self.campaign(force=True)
            else:
                self._become_leader()
            return
        for peer in self.voters:
            if peer != self.id:
                self._send(Vote(term, self.id, peer, self.log.last_index, self.log.last_term, pre, transfer))

    def propose(self, data: bytes) -> tuple[int, int]:
        """Append a command; returns (index, term) it will be committed at if leadership holds."""
        if self.role is not Role.LEADER or self.transferee:
            raise NotLeader(self.lead)
        e = self._append(NORMAL, data)
        return e.index, e.term

    def propose_batch(self, datas: list[bytes], kinds: list[int] | None = None) -> list[tuple[int, int]]:
        """Append many commands at once (one AppendEntries round); `kinds` default to NORMAL."""
        if self.role is not Role.LEADER or self.transferee:
            raise NotLeader(self.lead)
        last = self.log.last_index
        ks = kinds or [NORMAL] * len(datas)
        ents = [Entry(last + 1 + i, self.term, k, d) for i, (k, d) in enumerate(zip(ks, datas, strict=True))]
        self._append_entries(ents)
        return [(e.index, e.term) for e in ents]

    def propose_config(self, voters: Voters) -> tuple[int, int]:
        """Replace the voter set by `voters`, which must differ from it by exactly one server."""
        if self.role is not Role.LEADER:
            raise NotLeader(self.lead)
        if self.pending_config_index > self.log.committed or not self.committed_in_term():
            raise ConfigChangeInProgress("a configuration change is still being committed")
        current = self.voters
        changed = set(current) ^ set(voters)
        changed |= {k for k in set(current) & set(voters) if current[k] != voters[k]}
        if len(changed) != 1:
            raise ValueError("a configuration change must add, remove or readdress exactly one server")
        e = self._append(CONFIG, encode_voters(voters))
        self.pending_config_index = e.index
        return e.index, e.term

    def transfer_leadership(self, to: str) -> None:
        """Hand leadership to voter `to`: stop taking proposals, bring it up to date, then tell it
        to campaign at once (TimeoutNow). Abandoned after an election timeout."""
        if self.role is not Role.LEADER:
            raise NotLeader(self.lead)
        if to == self.id or to not in self.voters or to not in self.prs:
            raise ValueError(f"cannot transfer leadership to {to!r}")
        self.transferee = to
        self.transfer_elapsed = 0
        if self.prs[to].match == self.log.last_index:
            self._send(TimeoutNow(self.term, self.id, to))
        else:
            self._send_append(to)

    def read_index(self, ctx: bytes, lease: bool = False, hold: bool = False) -> None:
        """Ask for a safe read index; the answer comes back as a ReadState in `ready()`.

        On a follower the read goes to the leader and follows leadership until answered: if
        the leader changes first it is asked again of the new one. With no leader known it is
        refused at once (index -1) unless `hold`, when it waits for one; a caller that gives up
        on a forwarded or held read must `forget_read(ctx)`."""
        if self.role is Role.LEADER:
            self._leader_read(ctx, self.id, lease)
        elif self.lead:
            self._forwarded_reads[ctx] = (lease, self.lead)
            self._send(ReadIndex(self.term, self.id, self.lead, ctx, lease))
        elif hold:
            self._forwarded_reads[ctx] = (lease, "")
        else:
            self.read_states.append(ReadState(ctx, -1))

    def forget_read(self, ctx: bytes) -> None:
        """The caller stopped waiting for read `ctx`: stop forwarding it."""
        self._forwarded_reads.pop(ctx, None)

    def _route_forwarded_reads(self) -> None:
        """Send every forwarded read not yet asked of the current leader to it."""
        for ctx, (lease, asked) in list(self._forwarded_reads.items()):
            if asked != self.lead:
                self._forwarded_reads[ctx] = (lease, self.lead)
                self._send(ReadIndex(self.term, self.id, self.lead, ctx, lease))

    def report_unreachable(self, peer: str) -> None:
        """The transport failed to deliver to `peer`: stop pipelining to it and probe instead."""
        pr = self.prs.get(peer)
        if self.role is Role.LEADER and pr is not None and pr.state is ProgressState.REPLICATE:
            pr.become_probe()

    def report_snapshot_failed(self, peer: str) -> None:
        pr = self.prs.get(peer)
        if self.role is Role.LEADER and pr is not None and pr.state is ProgressState.SNAPSHOT:
            pr.pending_snapshot = 0
            pr.become_probe()
            pr.probe_sent = True  # wait for the next heartbeat response before retrying

    def compact(self, index: int, data: bytes) -> Snapshot:
        """The state machine's image as of `index` (<= applied) is `data`: keep it and drop old log."""
        term = self.log.term(index)
        if term is None:
            raise ValueError(f"cannot snapshot at {index}: not in the log")
        snap = Snapshot(index, term, self.log.voters_at(index), data)
        self.log.compact(snap, self.cfg.trailing_entries)
        return snap

    # ------------------------------------------------------------------ output
    def has_ready(self) -> bool:
        return bool(
            self.msgs
            or self.read_states
            or self.log.unstable <= self.log.last_index
            or self.log.pending_snapshot
            or self.log.committed > self.log.applied
            or (self.term, self.vote) != self._persisted_hs
            or self._commit_bcast
        )

    def ready(self, max_apply: int = 0) -> Ready:
        if self._commit_bcast:
            self._commit_bcast = False
            if self.role is Role.LEADER:
                have = {m.dst for m in self.msgs if isinstance(m, AppendEntries)}
                for peer in self.prs:
                    if peer != self.id and peer not in have:
                        self._send_append(peer, send_if_empty=True)
        rd = Ready()
        rd.snapshot = self.log.pending_snapshot
        self.log.pending_snapshot = None
        rd.entries = self.log.take_unstable()
        hs = (self.term, self.vote)
        rd.hard_state_changed = hs != self._persisted_hs
        self._persisted_hs = hs
        rd.term, rd.vote, rd.commit = self.term, self.vote, self.log.committed
        rd.messages, self.msgs = self.msgs, []
        rd.committed = self.log.take_committed(max_apply)
        rd.read_states, self.read_states = self.read_states, []
        return rd

    # ------------------------------------------------------------------ messages
    def step(self, m: Message) -> None:
        if m.dst != self.id:
            return
        if m.term > self.term:
            if isinstance(m, Vote) and not m.transfer:
                if self._in_lease():
                    return  # we heard from a live leader recently: ignore the disruption
            if isinstance(m, Vote) and m.pre:
                pass  # a pre-vote never changes our term
            elif isinstance(m, VoteResp) and m.pre and m.granted:
                pass  # granted pre-votes carry the term we would campaign at
            elif isinstance(m, (AppendEntries, Heartbeat, InstallSnapshot)):
                self._become_follower(m.term, m.src)
            else:
                self._become_follower(m.term, "")
        elif m.term < self.term:
            if isinstance(m, (AppendEntries, Heartbeat)):
                # A stale leader (e.g. back from a partition): tell it our term so it steps down.
                self._send(AppendResp(self.term, self.id, m.src))
            elif isinstance(m, Vote) and m.pre:
                self._send(VoteResp(self.term, self.id, m.src, False, True))
            return

        if isinstance(m, Vote):
            self._handle_vote(m)
        elif self.role is Role.LEADER:
            self._step_leader(m)
        elif self.role is Role.FOLLOWER:
            self._step_follower(m)
        else:
            self._step_candidate(m)

    def _handle_vote(self, m: Vote) -> None:
        can_vote = (
            self.vote == m.src
            or (self.vote == "" and self.lead == "")
            or (m.pre and m.term > self.term)
        )
        if can_vote and self.log.is_up_to_date(m.last_index, m.last_term):
            self._send(VoteResp(m.term, self.id, m.src, True, m.pre))
            if not m.pre:
                self.election_elapsed = 0
                self.vote = m.src
        else:
            self._send(VoteResp(self.term, self.id, m.src, False, m.pre))

    def _step_follower(self, m: Message) -> None:
        if isinstance(m, (AppendEntries, Heartbeat, InstallSnapshot)):
            self.election_elapsed = 0
            self.lead = m.src
            if self._forwarded_reads:
                self._route_forwarded_reads()
        if isinstance(m, AppendEntries):
            self._handle_append(m)
        elif isinstance(m, Heartbeat):
            self.log.commit_to(min(m.commit, self.log.last_index))
            self._send(HeartbeatResp(self.term, self.id, m.src, m.ctx))
        elif isinstance(m, InstallSnapshot):
            self._handle_snapshot(m)
        elif isinstance(m, ReadIndex):
            if self.lead:
                self._send(ReadIndexResp(self.term, self.id, m.src, m.ctx, -1, False))
        elif isinstance(m, ReadIndexResp):
            self._forwarded_read_answered(m)
        elif isinstance(m, TimeoutNow):
            if self.promotable():
                self.campaign(force=True, transfer=True)

    def _step_candidate(self, m: Message) -> None:
        if isinstance(m, (AppendEntries, Heartbeat, InstallSnapshot)):
            self._become_follower(m.term, m.src)
            self._step_follower(m)
        elif isinstance(m, VoteResp):
            if m.pre != (self.role is Role.PRE_CANDIDATE):
                return
            self.votes.setdefault(m.src, m.granted)
            granted = self._tally()
            rejected = sum(1 for v in self.votes.values() if not v)
            if granted >= self.quorum():
                if self.role is Role.PRE_CANDIDATE:
                    self.campaign(force=True)
                else:
                    self._become_leader()
            elif rejected >= self.quorum():
                self._become_follower(self.term, "")

    def _forwarded_read_answered(self, m: ReadIndexResp) -> None:
        if m.ctx not in self._forwarded_reads:
            return  # already answered (by an earlier leader) or given up on
        if m.ok:
            del self._forwarded_reads[m.ctx]
            self.read_states.append(ReadState(m.ctx, m.index))
        elif self.lead and self.lead != m.src:
            self._route_forwarded_reads()  # refused by a former leader: ask the current one
        else:
            # Refused by the server we take for the leader (it just lost leadership, or is not
            # one): keep it and ask again when a leader makes itself known.
            lease, _ = self._forwarded_reads[m.ctx]
            self._forwarded_reads[m.ctx] = (lease, m.src)
            if self.lead == m.src:
                self.lead = ""

    def _step_leader(self, m: Message) -> None:
        if isinstance(m, ReadIndex):
            self._leader_read(m.ctx, m.src, m.lease)
            return
        pr = self.prs.get(m.src)
        if pr is None:
            return
        if isinstance(m, AppendResp):
            pr.last_active = self.ticks
            self._handle_append_resp(m, pr)
        elif isinstance(m, HeartbeatResp):
            pr.last_active = self.ticks
            pr.probe_sent = False
            if pr.state is ProgressState.SNAPSHOT and self.ticks - pr.sent_at >= 2 * self.cfg.election_tick:
                pr.become_probe()  # the snapshot was probably lost: find out what it needs again
            if pr.state is ProgressState.REPLICATE and pr.paused(self.cfg.max_inflight):
                pr.inflight.popleft()  # appends may have been lost: let one more through
            if pr.match < self.log.last_index:
                self._send_append(m.src)
            if m.ctx:
                self._ack_read(m.ctx, m.src)

    # ------------------------------------------------------------------ follower side
    def _handle_append(self, m: AppendEntries) -> None:
        if m.prev_index < self.log.committed:
            self._send(AppendResp(self.term, self.id, m.src, self.log.committed))
            return
        last_new = self.log.maybe_append(m.prev_index, m.prev_term, m.commit, m.entries)
        if last_new is not None:
            self._send(AppendResp(self.term, self.id, m.src, last_new))
            return
        hint = self.log.find_conflict_by_term(min(m.prev_index, self.log.last_index), m.prev_term)
        self._send(
            AppendResp(self.term, self.id, m.src, m.prev_index, True, hint, self.log.term(hint) or 0)
        )

    def _handle_snapshot(self, m: InstallSnapshot) -> None:
        s = m.snapshot
        if s.index <= self.log.committed:
            self._send(AppendResp(self.term, self.id, m.src, self.log.committed))
            return
        if self.log.match_term(s.index, s.term):
            self.log.commit_to(s.index)  # we already have that prefix: just move the commit on
        else:
            self.log.restore(s)
        self._send(AppendResp(self.term, self.id, m.src, s.index))

    # ------------------------------------------------------------------ leader side
    def _handle_append_resp(self, m: AppendResp, pr: Progress) -> None:
        if m.index > self.log.last_index:
            return  # no follower can match (or be sent) past our log: a forged or confused reply
        if m.reject:
            hint = m.reject_hint
            if m.log_term > 0:
                hint = self.log.find_conflict_by_term(hint, m.log_term)
            if pr.maybe_decr_to(m.index, hint):
                if pr.state is ProgressState.REPLICATE:
                    pr.become_probe()
                self._send_append(m.src)
            return
        was_paused = pr.paused(self.cfg.max_inflight)
        if not pr.maybe_update(m.index):
            return
        if pr.state is ProgressState.PROBE:
            pr.become_replicate()
        elif pr.state is ProgressState.SNAPSHOT and pr.match >= pr.pending_snapshot:
            pr.become_probe()
            pr.become_replicate()
        elif pr.state is ProgressState.REPLICATE:
            pr.free_to(m.index)
        if m.src == self.transferee and pr.match == self.log.last_index:
            self._send(TimeoutNow(self.term, self.id, m.src))
        if self._maybe_commit():
            self._commit_bcast = True
        elif was_paused:
            self._send_append(m.src)
        # Pipeline: keep sending while there is more to send and room in flight.
        while pr.match < self.log.last_index and self._send_append(m.src, send_if_empty=False):
            pass

    def _send_append(self, to: str, send_if_empty: bool = True) -> bool:
        pr = self.prs[to]
        if pr.paused(self.cfg.max_inflight):
            return False
        prev = pr.next - 1
        prev_term = self.log.term(prev)
        ents = self.log.slice(pr.next, self.log.last_index + 1, self.cfg.max_msg_bytes)
        if prev_term is None or ents is None:
            snap = self.log.snapshot
            if snap is None or self.ticks - pr.last_active >= self.cfg.election_tick:
                return False  # don't ship a snapshot to a server we haven't heard from
            self._send(InstallSnapshot(self.term, self.id, to, snap))
            pr.become_snapshot(snap.index)
            pr.sent_at = self.ticks
            return True
        if not ents and not send_if_empty:
            return False
        self._send(AppendEntries(self.term, self.id, to, prev, prev_term, ents, self.log.committed))
        pr.sent(ents[-1].index if ents else prev, len(ents), self.cfg.max_inflight)
        return True

    def _bcast_append(self) -> None:
        for peer in self.prs:
            if peer != self.id:
                self._send_append(peer)

    def _bcast_heartbeat(self, ctx: bytes) -> None:
        for peer, pr in self.prs.items():
            if peer != self.id:
                commit = min(pr.match, self.log.committed)
                self._send(Heartbeat(self.term, self.id, peer, commit, ctx))

    def _maybe_commit(self) -> bool:
        matches = sorted((self.prs[v].match for v in self.voters if v in self.prs), reverse=True)
        q = self.quorum()
        if len(matches) < q:
            return False
        mci = matches[q - 1]
        if mci > self.log.committed and self.log.term(mci) == self.term:
            self.log.commit_to(mci)
            self._release_reads_waiting_commit()
            return True
        return False

    def _append(self, kind: int, data: bytes) -> Entry:
        e = Entry(self.log.last_index + 1, self.term, kind, data)
        self._append_entries([e])
        return e

    def _append_entries(self, ents: list[Entry]) -> None:
        self.log.append(ents)
        self._sync_progress()
        self.prs[self.id].maybe_update(self.log.last_index)
        if self._maybe_commit():
            self._commit_bcast = True
        for peer, pr in self.prs.items():
            if peer != self.id and pr.state is not ProgressState.SNAPSHOT:
                self._send_append(peer, send_if_empty=False)

    def _sync_progress(self) -> None:
        """Progress entries follow the configuration (which a CONFIG entry may just have changed)."""
        voters = self.voters
        for v in voters:
            if v not in self.prs:
                self.prs[v] = Progress(self.log.last_index + 1, self.ticks)
        for v in list(self.prs):
            if v not in voters and v != self.id:
                del self.prs[v]
        if self.id not in self.prs:
            pr = Progress(self.log.last_index + 1, self.ticks)
            pr.match = self.log.last_index
            self.prs[self.id] = pr

    def _quorum_active(self, window: int) -> bool:
        active = 0
        for v in self.voters:
            if v == self.id:
                active += 1
            else:
                pr = self.prs.get(v)
                if pr is not None and self.ticks - pr.last_active < window:
                    active += 1
        return active >= self.quorum()

    # ------------------------------------------------------------------ reads
    def _leader_read(self, ctx: bytes, requester: str, lease: bool) -> None:
        if not self.committed_in_term():
            self._reads_waiting_commit.append((ctx, requester, lease))
            return
        index = self.log.committed
        if len(self.voters) <= 1 or (lease and self.lease_valid()):
            self._answer_read(ctx, requester, index)
            return
        self._reads.append(_PendingRead(ctx, index, requester, {self.id}))
        self._bcast_heartbeat(ctx)

    def _release_reads_waiting_commit(self) -> None:
        if self._reads_waiting_commit and self.committed_in_term():
            waiting, self._reads_waiting_commit = self._reads_waiting_commit, []
            for ctx, requester, lease in waiting:
                self._leader_read(ctx, requester, lease)

    def _ack_read(self, ctx: bytes, peer: str) -> None:
        for i, r in enumerate(self._reads):
            if r.ctx == ctx:
                r.acks.add(peer)
                if sum(1 for a in r.acks if a in self.voters) >= self.quorum():
                    done, self._reads = self._reads[: i + 1], self._reads[i + 1 :]
                    for d in done:
                        self._answer_read(d.ctx, d.requester, d.index)
                return

    def _answer_read(self, ctx: bytes, requester: str, index: int) -> None:
        if requester == self.id:
            self.read_states.append(ReadState(ctx, index))
        else:
            self._send(ReadIndexResp(self.term, self.id, requester, ctx, index, True))

    def _fail_reads(self) -> None:
        pending = [(r.ctx, r.requester) for r in self._reads]
        pending += [(c, r) for c, r, _ in self._reads_waiting_commit]
        self._reads, self._reads_waiting_commit = [], []
        for ctx, requester in pending:
            if requester == self.id:
                self.read_states.append(ReadState(ctx, -1))
            else:
                self._send(ReadIndexResp(self.term, self.id, requester, ctx, -1, False))

    # ------------------------------------------------------------------ roles
    def _reset(self, term: int) -> None:
        if term != self.term:
            self.term = term
            self.vote = ""
        self.lead = ""
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self._reset_timeout()
        self.votes = {}
        self.transferee = ""
        if self._reads or self._reads_waiting_commit:
            self._fail_reads()

    def _reset_timeout(self) -> None:
        et = self.cfg.election_tick
        self.randomized_timeout = et + self.rng.randrange(et)

    def _become_follower(self, term: int, lead: str) -> None:
        self._reset(term)
        self.role = Role.FOLLOWER
        self.lead = lead
        self.prs = {}

    def _become_pre_candidate(self) -> None:
        # Term and vote stay: nothing about a pre-vote needs persisting.
        self.role = Role.PRE_CANDIDATE
        self.lead = ""
        self.votes = {}
        self.prs = {}

    def _become_candidate(self) -> None:
        self._reset(self.term + 1)
        self.role = Role.CANDIDATE
        self.vote = self.id
        self.prs = {}

    def _become_leader(self) -> None:
        self._reset(self.term)
        self.role = Role.LEADER
        self.lead = self.id
        self.prs = {}
        self._sync_progress()
        for peer, pr in self.prs.items():
            if peer == self.id:
                pr.become_replicate()
                pr.match = self.log.last_index
        e = Entry(self.log.last_index + 1, self.term, NOOP, b"")
        self.pending_config_index = e.index  # no config change until our first entry commits
        self._append_entries([e])
        # Reads we had forwarded are ours to serve now (they wait for our first commit).
        held, self._forwarded_reads = self._forwarded_reads, {}
        for ctx, (lease, _) in held.items():
            self._leader_read(ctx, self.id, lease)

    def _tally(self) -> int:
        return sum(1 for k, v in self.votes.items() if v and k in self.voters)

    def _send(self, m: Message) -> None:
        self.msgs.append(m)
