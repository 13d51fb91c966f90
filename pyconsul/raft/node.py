"""RaftNode: the asyncio driver around RaftCore — timer, disk, network and applying.

Three tasks:
- the ticker calls `core.tick()` every `tick_interval` seconds;
- the run loop takes `core.ready()`, persists it (one fdatasync for everything appended since the
  last round: group commit, off the event loop), then sends its messages and queues its committed
  entries; proposals that arrived meanwhile are appended to the core as one batch, so many client
  writes share one fsync and one AppendEntries round;
- the apply task feeds committed entries to the state machine in order, resolves the waiting
  proposals, and takes snapshots every `snapshot_threshold` entries — slow applies never stall
  consensus.

A proposal resolves with what the state machine returned when it applied the entry. A follower's
proposal is appended by the leader (over `call`), then resolved by its own apply of that index:
the state machine is deterministic, so the result is the same one the leader got.

Refusals are typed (`pyconsul.consensus.errors`): `NotLeader` and `LeadershipLost` mean the entry
was not appended, `ForwardFailed` that the leader did not answer a forwarded write (`delivered`
False when it could not even be connected to), `NoLeader` that none is known. A forwarded write
the leader refuses is answered in-band (`[REFUSED, reason, leader]`) so the follower gets the type
back, not an error text.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from pyconsul import telemetry
from pyconsul.consensus.errors import ForwardFailed, LeadershipLost, NoLeader, NotLeader
from pyconsul.fork_encode import encode_off_loop
from pyconsul.raft.core import RaftConfig, RaftCore, Ready, Role
from pyconsul.raft.disk import DiskThread
from pyconsul.raft.log import LogError
from pyconsul.raft.messages import (
    CONFIG,
    NORMAL,
    RESTORE,
    AppendEntries,
    Entry,
    Heartbeat,
    InstallSnapshot,
    Message,
    Snapshot,
    Voters,
    encode_voters,
)
from pyconsul.raft.storage import RECOVER_FLAG, LogStore, SnapshotStore, StableStore, StorageError
from pyconsul.raft.throttle import LogThrottle
from pyconsul.raft.transport import ConnectFailed, RemoteError, Transport, TransportError
from pyconsul.raft.wire import MAX_ENTRY_BYTES
from pyconsul.telemetry.raft import RaftMetrics

log = logging.getLogger("pyconsul.raft")

# Rows a snapshot capture copies between two turns of the event loop (a few milliseconds).
CAPTURE_STEP_ROWS = 2000


class FSM(Protocol):
    """What the log is applied to (the agent's `pyconsul.fsm.machine.StateMachine`)."""

    def apply(self, index: int, data: bytes) -> Any: ...

    def snapshot(self) -> bytes: ...

    def restore(self, data: bytes) -> None: ...


# The leader's in-band answer to a forwarded write it did not append: [REFUSED, reason, leader].
REFUSED = "refused"
_NOT_LEADER = "not-leader"
_LEADERSHIP_LOST = "leadership-lost"


class ResultUnknown(Exception):
    """The entry was committed but its result was skipped over by a snapshot install."""


class RaftNode:
    def __init__(
        self,
        server_id: str,
        transport: Transport,
        machine: FSM,
        log_store: LogStore,
        stable_store: StableStore,
        snapshot_store: SnapshotStore,
        *,
        tick_interval: float = 0.1,
        election_tick: int = 10,
        heartbeat_tick: int = 1,
        lease_tick: int = 0,
        snapshot_threshold: int = 8192,
        trailing_entries: int = 1024,
        rng: random.Random | None = None,
        max_batch: int = 4096,
        recover: bool = False,
    ) -> None:
        """`recover`: the operator's -raft-recover-truncate (drop a log that does not continue
        the stored state, rather than refuse to start)."""
        self.id = server_id
        self.recover = recover
        self.transport = transport
        self.machine = machine
        self.log_store = log_store
        self.stable = stable_store
        self.snapshots = snapshot_store
        self.tick_interval = tick_interval
        self.snapshot_threshold = snapshot_threshold
        self.max_batch = max_batch
        self.rng = rng or random.Random()
        self.raft_config = RaftConfig(
            id=server_id,
            election_tick=election_tick,
            heartbeat_tick=heartbeat_tick,
            lease_tick=lease_tick,
            trailing_entries=trailing_entries,
        )
        self.core: RaftCore | None = None
        self.applied_index = 0
        self.snapshot_index = 0
        self.last_contact = 0.0  # monotonic time of the last message from the leader
        self.addrs: dict[str, str] = {}  # server ID -> address, from configs and traffic
        # (kind, data, future, placement): `placement` futures get (index, term) once appended
        # (a follower's forwarded write); the others get the state machine's result.
        self._proposals: list[tuple[int, bytes, asyncio.Future[Any], bool]] = []
        self._waiting: dict[int, tuple[int, asyncio.Future[Any]]] = {}
        self._results: OrderedDict[int, tuple[int, Any]] = OrderedDict()
        self._reads: dict[bytes, asyncio.Future[int]] = {}
        self._applied_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._read_ids = itertools.count(1)
        self._wake = asyncio.Event()
        self._apply_q: asyncio.Queue[tuple[Snapshot | None, list[Entry]]] = asyncio.Queue()
        self._storage_lock = asyncio.Lock()
        self._disk = DiskThread()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._throttle = LogThrottle(log)
        self._snapshot_retry_at = 0.0
        self._snapshot_task: asyncio.Task[None] | None = None  # serialising and saving, off the loop
        self.on_leader_change: Callable[[str], None] | None = None
        self._last_lead = ""
        self.metrics = RaftMetrics()
        self._leader_changed = asyncio.Event()  # set, then replaced, whenever the leader changes
        # Other server-to-server calls (join, membership) served over the same transport.
        self.call_handlers: dict[str, Callable[[Any], Awaitable[Any]]] = {}

    # ------------------------------------------------------------------ lifecycle
    def load(self) -> None:
        """Read persisted state and rebuild the core and the state machine (before start)."""
        term, vote, _ = self.stable.load()
        snap = self.snapshots.latest()
        entries = self.log_store.load()
        if snap is not None:
            self.machine.restore(snap.data)
            self.applied_index = self.snapshot_index = snap.index
            entries = [e for e in entries if e.index > snap.index]
        base = snap.index if snap is not None else 0
        if entries and entries[0].index != base + 1:
            # Entries base+1 .. first-1 are gone: neither the snapshot nor the log holds them.
            where = f"snapshot {base}" if snap is not None else "no snapshot"
            if not self.recover:
                raise StorageError(
                    f"raft log starts at index {entries[0].index} but the state ends at {where}: "
                    f"entries {base + 1}..{entries[0].index - 1} are missing. Restore the data dir from a "
                    f"backup, or start with -{RECOVER_FLAG} to drop the log and catch up from the leader"
                )
            log.error("raft: recovery dropped a log that does not continue the state", extra={
                "state_ends_at": base, "dropped_first": entries[0].index, "dropped_last": entries[-1].index})
            entries = []
            self.log_store.reset()
        self.core = RaftCore(self.raft_config, self.rng, term=term, vote=vote, snapshot=snap, entries=entries)
        self.addrs.update(self.core.voters)

    def has_state(self) -> bool:
        c = self._c
        return c.term > 0 or c.log.last_index > 0

    def bootstrap(self, voters: Voters) -> bool:
        """Write the initial configuration (index 1, term 1) if this server has no Raft state.

        Every server bootstrapped with the same voters writes the same entry, so they agree."""
        if self.has_state():
            return False
        entry = Entry(1, 1, CONFIG, encode_voters(voters))
        self.log_store.append([entry])
        self.stable.save(1, "", self.id)
        self.core = RaftCore(self.raft_config, self.rng, term=1, entries=[entry])
        self.addrs.update(voters)
        self._wake.set()
        log.info("raft bootstrapped", extra={"voters": voters})
        return True

    async def start(self) -> None:
        if self.core is None:
            self.load()
        await self.transport.start(self.id, self._on_messages, self._on_call, self._on_unreachable)
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._ticker()),
            loop.create_task(self._run()),
            loop.create_task(self._apply_loop()),
        ]
        for t in self._tasks:
            t.add_done_callback(self._task_ended)

    def _task_ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self._stopping:
            return
        exc = task.exception()
        # A failed fsync or an invariant broken: Raft can't go on safely. Say so loudly and
        # refuse further requests rather than answer from a state machine that stopped.
        log.critical("raft stopped working", extra={"task": task.get_name(), "error": repr(exc)})
        self._stopping = True
        self._fail_all(NoLeader(f"raft failed: {exc!r}"))

    async def stop(self) -> None:
        self._stopping = True
        tasks = [*self._tasks, *([self._snapshot_task] if self._snapshot_task is not None else [])]
        for t in tasks:
            t.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=2.0)
            if pending:
                log.warning("raft tasks did not stop", extra={"tasks": [repr(t) for t in pending]})
        await self.transport.stop()
        self._fail_all(NoLeader("raft is shutting down"))
        async with self._storage_lock:
            await self._disk.run(self.log_store.close)
        self._disk.close()

    @property
    def _c(self) -> RaftCore:
        assert self.core is not None, "RaftNode.load() or start() first"
        return self.core

    # ------------------------------------------------------------------ status
    @property
    def role(self) -> Role:
        return self._c.role

    @property
    def leader_id(self) -> str:
        return self._c.lead

    @property
    def leader_addr(self) -> str:
        lead = self._c.lead
        if not lead:
            return ""
        if lead == self.id:
            return self.transport.address
        return self.addr_of(lead)

    def addr_of(self, server_id: str) -> str:
        """Where to reach a server: a voter at its configured address, others as last heard."""
        return self._c.voters.get(server_id) or self.addrs.get(server_id, "")

    async def leader_change(self, timeout: float) -> None:
        """Return as soon as the known leader changes (to another server or to none), or after
        `timeout`: how a held request learns, without polling, that it is worth retrying."""
        changed = self._leader_changed
        if timeout > 0:
            try:
                await asyncio.wait_for(changed.wait(), timeout)
            except TimeoutError:
                pass

    def is_leader(self) -> bool:
        return self._c.role is Role.LEADER

    def voters(self) -> Voters:
        return dict(self._c.voters)

    # ------------------------------------------------------------------ requests
    async def propose(self, data: bytes, timeout: float = 10.0, kind: int = NORMAL) -> Any:
        """Replicate and apply `data`; return the state machine's result for it. `kind` RESTORE
        replaces the whole state with the image `data` on every server."""
        _check_size(data)
        core = self._c
        loop = asyncio.get_running_loop()
        if core.role is Role.LEADER:
            result: asyncio.Future[Any] = loop.create_future()
            self._proposals.append((kind, data, result, False))
            self._wake.set()
            start = telemetry.now()
            async with asyncio.timeout(timeout):
                done = await result
            telemetry.measure_since("raft.commitTime", start)
            return done
        elif kind != NORMAL:
            raise NotLeader(self.leader_addr)  # a restore is only ever proposed by the leader
        else:
            leader = self.leader_addr
            if not leader:
                raise NoLeader("No cluster leader")
            # The deadline stops a request that sat in a partitioned connection from being
            # applied long after this server told its client the write failed.
            try:
                reply = await self.transport.call(
                    leader, "raft.propose", [data, time.time() + timeout, kind], timeout
                )
            except RemoteError as exc:
                raise ForwardFailed(str(exc)) from None
            except ConnectFailed as exc:
                raise ForwardFailed(f"leader unreachable: {exc}", delivered=False) from None
            except TransportError as exc:
                raise ForwardFailed(f"leader unreachable: {exc}") from None
            index, term = _placement(reply)
        async with asyncio.timeout(timeout):
            return await self._result(index, term)

    def _result(self, index: int, term: int) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if index <= self.applied_index:
            got = self._results.get(index)
            if got is None:
                fut.set_exception(ResultUnknown(f"entry {index} was applied before its result was awaited"))
            elif got[0] != term:
                fut.set_exception(LeadershipLost("leadership lost before the write committed"))
            elif isinstance(got[1], _Raised):
                fut.set_exception(got[1].exc)
            else:
                fut.set_result(got[1])
            return fut
        self._waiting[index] = (term, fut)
        return fut

    def lease_read_ready(self) -> bool:
        """The leader may answer a default-mode read from its state as it is now: it holds its
        lease and has applied an entry of its own term, so everything an earlier leader committed
        is in its state (Consul's ready-for-consistent-reads). A write committed but not applied
        yet does not hold reads back: they see the state before it, as on Consul."""
        core = self.core
        return (core is not None and core.role is Role.LEADER and core.lease_valid()
                and core.log.term(self.applied_index) == core.term)

    async def read_barrier(self, lease: bool, timeout: float = 5.0) -> int:
        """Wait until this server has applied everything committed when the call began; with
        `lease` the leader may vouch from its lease, otherwise it confirms with a quorum."""
        core = self._c
        if lease and self.lease_read_ready() and self.applied_index >= core.log.committed:
            return core.log.committed  # the common case: no round through the run loop
        ctx = f"{self.id}/{next(self._read_ids)}".encode()
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._reads[ctx] = fut
        # Held: with no leader known the read waits for one, and the core re-asks each new
        # leader, so it is answered as soon as leadership is settled, not when `timeout` ends.
        self._c.read_index(ctx, lease, hold=True)
        self._wake.set()
        try:
            index = await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise NoLeader("No cluster leader") from None
        finally:
            self._reads.pop(ctx, None)
            if self.core is not None:
                self.core.forget_read(ctx)
        if index < 0:
            raise NoLeader("No cluster leader")
        await asyncio.wait_for(self.wait_applied(index), timeout)
        return index

    async def wait_applied(self, index: int) -> None:
        if self.applied_index >= index:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._applied_waiters.append((index, fut))
        await fut

    async def transfer_leadership(self, timeout: float = 5.0) -> bool:
        """Leader only: hand leadership to the most up-to-date follower; True once it has."""
        core = self._c
        if core.role is not Role.LEADER:
            return False
        followers = [(pr.match, sid) for sid, pr in core.prs.items() if sid != self.id and sid in core.voters]
        if not followers:
            return False
        _, target = max(followers)
        core.transfer_leadership(target)
        self._wake.set()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._c.role is not Role.LEADER:
                return True
            await asyncio.sleep(0.01)
        return False

    def campaign_now(self) -> None:
        """Start an election without waiting for the election timeout."""
        self._c.campaign()
        self._wake.set()

    async def change_config(self, voters: Voters, timeout: float = 10.0) -> None:
        """Leader only: move to `voters` (one server added, removed or readdressed) and wait until
        the change is committed."""
        core = self._c
        if core.role is not Role.LEADER:
            raise NotLeader(core.lead)
        index, term = core.propose_config(voters)
        self.addrs.update(voters)
        self._wake.set()
        await asyncio.wait_for(self._result(index, term), timeout)

    # ------------------------------------------------------------------ transport callbacks
    def _on_messages(self, src: str, src_addr: str, msgs: list[Message]) -> None:
        if self._stopping or self.core is None:
            return
        if src_addr and src not in self._c.voters:
            # A voter's address is the configuration's: only the leader's own change of it
            # moves it, never a message claiming to come from that voter.
            self.addrs[src] = src_addr
        core = self.core
        for m in msgs:
            try:
                core.step(m)
            except LogError as exc:
                # Decoding refuses malformed messages; one that still breaks a log invariant is
                # dropped here, so no peer input can stop Raft.
                self._throttle.error(f"step:{src}", "raft: dropped a message that would break the log",
                                     src=src, message=type(m).__name__, error=str(exc))
                continue
            if isinstance(m, (AppendEntries, Heartbeat, InstallSnapshot)) and m.src == core.lead:
                self.last_contact = time.monotonic()
        self.metrics.received(src, msgs, core.lead)
        self._wake.set()

    def _on_unreachable(self, addr: str) -> None:
        if self.core is None:
            return
        for sid, a in list(self.addrs.items()):
            if a == addr:
                self.core.report_unreachable(sid)

    async def _on_call(self, method: str, body: Any) -> Any:
        if method == "raft.propose":
            return await self._place_forwarded(body)
        handler = self.call_handlers.get(method)
        if handler is None:
            raise ValueError(f"unknown call {method!r}")
        return await handler(body)

    async def _place_forwarded(self, body: Any) -> list[Any]:
        """A follower's write: [index, term] once appended, or [REFUSED, reason, leader]."""
        if self._c.role is not Role.LEADER:
            return [REFUSED, _NOT_LEADER, self.leader_addr]
        if not (isinstance(body, (list, tuple)) and len(body) == 3):
            raise ValueError("raft.propose: expected [data, deadline, kind]")
        data, deadline, kind = body
        if type(data) is not bytes or type(deadline) not in (int, float) or type(kind) is not int:
            raise ValueError("raft.propose: expected [bytes, number, int]")
        if time.time() > deadline:
            raise ValueError("forwarded write arrived after its deadline")
        if kind != NORMAL:
            # A RESTORE replaces every server's state: it comes only from the leader's own
            # (authenticated) restore endpoint, never from a peer's call.
            raise ValueError(f"cannot propose entries of kind {kind!r} for another server")
        _check_size(data)
        placed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._proposals.append((kind, data, placed, True))
        self._wake.set()
        try:
            index, term = await placed
        except LeadershipLost:
            return [REFUSED, _LEADERSHIP_LOST, self.leader_addr]
        return [index, term]

    # ------------------------------------------------------------------ tasks
    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.tick_interval)
            self._c.tick()
            self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            core = self._c
            self._take_proposals(core)
            while core.has_ready():
                rd = core.ready()
                if rd.entries or rd.snapshot is not None or rd.hard_state_changed:
                    async with self._storage_lock:
                        await self._persist_retrying(rd)
                self._send(rd.messages)
                if rd.snapshot is not None or rd.committed:
                    self._apply_q.put_nowait((rd.snapshot, rd.committed))
                for rs in rd.read_states:
                    fut = self._reads.get(rs.ctx)
                    if fut is not None and not fut.done():
                        fut.set_result(rs.index)
                # Proposals that arrived during the fsync join the next round as one batch.
                self._take_proposals(core)
            self._note_leader(core)
            self.metrics.note_role(core.role)
            if self._waiting:
                self._fail_superseded(core)

    def _fail_superseded(self, core: RaftCore) -> None:
        """Writes placed by a leader that lost its entries to a newer one fail now (so the caller
        retries against the new leader) instead of waiting for the index to be reached."""
        for index in [i for i, (t, _) in self._waiting.items() if core.superseded(i, t)]:
            _, fut = self._waiting.pop(index)
            if not fut.done():
                fut.set_exception(LeadershipLost("leadership lost before the write committed"))

    def _take_proposals(self, core: RaftCore) -> None:
        if not self._proposals:
            return
        batch, self._proposals = self._proposals[: self.max_batch], self._proposals[self.max_batch :]
        if self._proposals:
            self._wake.set()
        telemetry.incr_counter("raft.apply", float(len(batch)))
        try:
            placed = core.propose_batch([d for _, d, _, _ in batch], [k for k, _, _, _ in batch])
        except NotLeader:
            for _, _, fut, _ in batch:
                if not fut.done():
                    fut.set_exception(LeadershipLost())
            return
        for (_, _, fut, placement), where in zip(batch, placed, strict=True):
            if placement:
                if not fut.done():
                    fut.set_result(where)
            else:
                self._waiting[where[0]] = (where[1], fut)

    async def _persist_retrying(self, rd: Ready) -> None:
        """Persist `rd`, retrying while the disk or the process refuses (EMFILE, ENOSPC, EIO):
        nothing in `rd` is sent or applied until it is durable, so Raft just pauses — a leader
        that cannot write stops heartbeating and the others elect one that can."""
        delay = 0.05
        while True:
            try:
                await self._disk.run(self._persist, rd)
                return
            except OSError as exc:
                self._throttle.error("persist", "raft: cannot write its state; retrying before acknowledging",
                                     error=str(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    def _persist(self, rd: Ready) -> None:
        # Every step is safe to repeat after a failure part-way (see _persist_retrying).
        if rd.snapshot is not None:
            self.snapshots.save(rd.snapshot)
            self.log_store.reset()
        if rd.entries:
            self.log_store.append(rd.entries)
        if rd.hard_state_changed:
            self.stable.save(rd.term, rd.vote, self.id)

    def _send(self, msgs: list[Message]) -> None:
        if not msgs:
            return
        self.metrics.sent(msgs)
        by_dst: dict[str, list[Message]] = {}
        for m in msgs:
            by_dst.setdefault(m.dst, []).append(m)
        for dst, batch in by_dst.items():
            addr = self.addr_of(dst)
            if addr:
                self.transport.send(addr, batch)

    def _note_leader(self, core: RaftCore) -> None:
        if core.lead != self._last_lead:
            self._last_lead = core.lead
            self._leader_changed.set()
            self._leader_changed = asyncio.Event()
            log.info("raft leader changed", extra={"leader": core.lead, "term": core.term, "role": core.role.value})
            if core.role is not Role.LEADER:
                # Proposals queued for a leadership we no longer have will never be placed.
                batch, self._proposals = self._proposals, []
                for _, _, fut, _ in batch:
                    if not fut.done():
                        fut.set_exception(LeadershipLost())
            if self.on_leader_change is not None:
                self.on_leader_change(core.lead)

    async def _apply_loop(self) -> None:
        while True:
            snap, entries = await self._apply_q.get()
            if snap is not None:
                self.machine.restore(snap.data)
                self.applied_index = self.snapshot_index = snap.index
                for idx in [i for i in self._waiting if i <= snap.index]:
                    _, fut = self._waiting.pop(idx)
                    if not fut.done():
                        fut.set_exception(ResultUnknown(f"entry {idx} was covered by a snapshot"))
            for e in entries:
                result: Any = None
                failed = False
                if e.kind == NORMAL or e.kind == RESTORE:
                    try:
                        if e.kind == NORMAL:
                            result = self.machine.apply(e.index, e.data)
                        else:
                            self.machine.restore(e.data)
                    except Exception as exc:  # an unknown command fails its writer loudly
                        log.error("apply failed", extra={"index": e.index, "error": repr(exc)})
                        result, failed = exc, True
                self.applied_index = e.index
                self._results[e.index] = (e.term, _Raised(result) if failed else result)
                if len(self._results) > 8192:
                    self._results.popitem(last=False)
                waiting = self._waiting.pop(e.index, None)
                if waiting is not None:
                    term, fut = waiting
                    if fut.done():
                        pass
                    elif term != e.term:
                        fut.set_exception(LeadershipLost("leadership lost before the write committed"))
                    elif failed or _is_unknown_command(result):
                        fut.set_exception(result)
                    else:
                        fut.set_result(result)
            self._wake_applied()
            if (self.applied_index - self.snapshot_index >= self.snapshot_threshold
                    and time.monotonic() >= self._snapshot_retry_at
                    and (self._snapshot_task is None or self._snapshot_task.done())):
                await self._start_snapshot()
            await asyncio.sleep(0)  # let readers and the run loop in between batches

    def _wake_applied(self) -> None:
        if not self._applied_waiters:
            return
        keep = []
        for index, fut in self._applied_waiters:
            if index <= self.applied_index:
                if not fut.done():
                    fut.set_result(None)
            else:
                keep.append((index, fut))
        self._applied_waiters = keep

    async def _start_snapshot(self) -> None:
        """Capture the state machine between two applies, then serialise and save it in the
        background: reads, Raft and (after the capture) writes go on meanwhile. The capture
        itself runs in steps with the loop free in between; nothing applies until it ends."""
        index = self.applied_index
        steps = getattr(self.machine, "capture_steps", None)
        if steps is not None:
            serialise: Callable[[], bytes] | None = None
            for step in steps(CAPTURE_STEP_ROWS):
                if step is None:
                    await asyncio.sleep(0)
                else:
                    serialise = step
            assert serialise is not None
        else:  # a machine without a capture serialises here, between two applies
            data = self.machine.snapshot()
            serialise = lambda: data  # noqa: E731
        self._snapshot_task = asyncio.get_running_loop().create_task(self._finish_snapshot(index, serialise))
        self._snapshot_task.add_done_callback(self._snapshot_ended)

    def _snapshot_ended(self, task: asyncio.Task[None]) -> None:
        # Finishing is normal for this task; failing (beyond a disk error, retried) is not.
        if not task.cancelled() and task.exception() is not None:
            self._task_ended(task)

    async def _finish_snapshot(self, index: int, serialise: Callable[[], bytes]) -> None:
        start = telemetry.now()
        data = await encode_off_loop(serialise)
        telemetry.measure_since("raft.fsm.snapshot", start)
        if index <= self.snapshot_index:
            return  # a snapshot from the leader already covered it while it was serialised
        try:
            snap = self._c.compact(index, data)
        except ValueError:
            return  # a snapshot from the leader already replaced this part of the log
        telemetry.measure_since("raft.snapshot.create", start)
        try:
            async with self._storage_lock:
                start = telemetry.now()
                await self._disk.run(self.snapshots.save, snap)
                telemetry.measure_since("raft.snapshot.persist", start)
                await self._disk.run(self.log_store.compact, self._c.log.base.index)
        except OSError as exc:
            # The log on disk still holds everything; try again a little later.
            self._snapshot_retry_at = time.monotonic() + 1.0
            self._throttle.error("snapshot", "raft: could not save a snapshot; will retry", error=str(exc))
            asyncio.get_running_loop().call_later(1.0, self._retry_snapshot)
            return
        self.snapshot_index = max(self.snapshot_index, index)
        log.info("raft snapshot taken", extra={"index": index, "bytes": len(data)})

    def _retry_snapshot(self) -> None:
        # An empty batch wakes the apply loop to retry even if no write comes meanwhile.
        self._snapshot_retry_at = 0.0
        self._apply_q.put_nowait((None, []))

    def _fail_all(self, exc: Exception) -> None:
        for _, _, fut, _ in self._proposals:
            if not fut.done():
                fut.set_exception(exc)
        self._proposals = []
        for _, fut in self._waiting.values():
            if not fut.done():
                fut.set_exception(exc)
        self._waiting.clear()
        for fut in self._reads.values():
            if not fut.done():
                fut.set_exception(exc)
        for _, fut in self._applied_waiters:
            if not fut.done():
                fut.set_exception(exc)
        self._applied_waiters = []


class EntryTooLarge(ValueError):
    """A proposal larger than any server would accept in an AppendEntries."""


def _check_size(data: bytes) -> None:
    # Refused before appending: an entry followers cannot receive would stall replication.
    if len(data) > MAX_ENTRY_BYTES:
        raise EntryTooLarge(f"a Raft entry of {len(data)} bytes is over the limit of {MAX_ENTRY_BYTES} bytes")


class _Raised:
    __slots__ = ("exc",)

    def __init__(self, exc: Exception) -> None:
        self.exc = exc


def _is_unknown_command(result: Any) -> bool:
    """The machine returns refusals (a failed check-and-set…) as results; an unknown command is
    a failure its writer must see as one."""
    return isinstance(result, Exception) and type(result).__name__ == "UnknownCommand"


def _placement(reply: Any) -> tuple[int, int]:
    """The leader's answer to a forwarded write: its (index, term), or the refusal as its type."""
    if isinstance(reply, list) and len(reply) == 3 and reply[0] == REFUSED:
        if reply[1] == _LEADERSHIP_LOST:
            raise LeadershipLost()
        raise NotLeader(str(reply[2] or ""))
    index, term = reply
    return int(index), int(term)
