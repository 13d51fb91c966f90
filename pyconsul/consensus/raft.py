"""RaftConsensus: the `Consensus` of a server in a multi-server cluster.

Writes are replicated to a quorum before they are applied and acknowledged; a write reaching a
follower is appended by the leader and answered by the follower's own apply of it. With no
leader, writes and default/consistent reads wait up to `hold_timeout` (Consul's
rpc_hold_timeout, 7 s) for one, then fail with NoLeader ("No cluster leader"). A write is
retried only when it surely was not appended — decided by the error's type (`NotLeader`,
`LeadershipLost`, `ForwardFailed` not delivered, or no leader known when it was tried).

Read modes (`barrier`): default → the leader vouches for its commit index under its lease (a
follower asks the leader, then waits to apply up to it); consistent → the leader first confirms
with a quorum of heartbeats; stale → no barrier at all (the API skips the call).

Timing follows Consul (`pyconsul.raft.timing`): with raft_multiplier m, heartbeats every
0.1 s × m, an election after 1–2 s × m without a leader, and a leader that has not heard from a
quorum for 0.5 s × m steps down. The default m is 5; 1 is Consul's production recommendation.

State lives in `<data_dir>/raft/`: `log/` segments, `raft-state` (term, vote, server ID),
`snapshots/`. The server's Raft ID is its node ID, kept from the first start on.

Wiring (the agent): `RaftConsensus(config, machine, client_ssl=..., server_hostname=...)`;
`await start()` / `await stop()`; `await leave()` on a graceful leave (hands leadership over
first when leading); the shared server-port listener hands non-HTTP connections to
`stream_handler` (None with `own_listener=True`); from gossip server-member events call `note_server(id, name, "IP:port")`
(alive), `note_server_failed(id)` (failed) and `note_server_left(id)` (left). Status:
`leader_status()`, `peers()`, `configuration()` (operator/raft/configuration Servers),
`remove_peer(address=, node_id=)` (UnknownPeer if not a voter), `restore_snapshot(data)`,
`stats()` (the `raft` section of info).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pyconsul.config.runtime import RuntimeConfig
from pyconsul.consensus.errors import ForwardFailed, LeadershipLost, NoLeader, NotLeader, UnknownPeer
from pyconsul.consensus.protocol import LeaderStatus, StreamHandler
from pyconsul.fsm import commands
from pyconsul.raft.discovery import Discovery, ServerInfo
from pyconsul.raft.messages import RESTORE
from pyconsul.raft.node import FSM, RaftNode
from pyconsul.raft.segment_log import SegmentLogStore
from pyconsul.raft.snapshot import FileSnapshotStore
from pyconsul.raft.stable import FileStableStore
from pyconsul.raft.storage import MemoryLogStore, MemorySnapshotStore, MemoryStableStore
from pyconsul.raft.tcp_transport import TCPTransport
from pyconsul.raft.timing import raft_timing
from pyconsul.raft.transport import Transport

# How soon a request held through a failure is retried when the leader did not change.
RETRY_INTERVAL = 0.25

log = logging.getLogger("pyconsul.raft")


class RaftConsensus:
    def __init__(
        self,
        config: RuntimeConfig,
        machine: FSM,
        *,
        server_ssl: ssl.SSLContext | None = None,
        client_ssl: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        own_listener: bool = False,
        transport: Transport | None = None,
        hold_timeout: float | None = None,
        rng: random.Random | None = None,
        gossip: bool = False,
    ) -> None:
        """`own_listener=False` (the agent's way): the agent's shared server-port listener hands
        non-HTTP connections to `stream_handler`. `own_listener=True` listens on the server port
        itself. `transport` replaces the TCP transport (tests wrap it to inject faults).
        `gossip`: the agent's gossip reports the servers (`note_server`), and only servers it
        reported count towards the first configuration — not what a `raft.join` call claims."""
        self.config = config
        self.machine = machine
        # performance.rpc_hold_timeout (Consul's 7 s): the longest a request waits out a leader
        # election; it is retried the moment a new leader is known, well before that.
        hold = config.performance.rpc_hold_timeout if hold_timeout is None else hold_timeout
        self.hold_timeout = float(hold) if hold and hold > 0 else 7.0
        self.address = f"{config.advertise()}:{config.ports.server}"
        if config.data_dir and not config.dev:
            root = Path(config.data_dir) / "raft"
            recover = config.raft_recover_truncate
            log_store: Any = SegmentLogStore(root / "log", recover=recover)
            stable: Any = FileStableStore(root)
            snaps: Any = FileSnapshotStore(root / "snapshots", recover=recover)
        else:
            log_store, stable, snaps = MemoryLogStore(), MemoryStableStore(), MemorySnapshotStore()
        # The Raft identity must survive restarts even if the node ID were regenerated.
        _, _, stored_id = stable.load()
        self.id = stored_id or config.node_id
        if transport is None:
            bind = config.bind_addr
            transport = TCPTransport(
                bind, config.ports.server, self.address,
                server_ssl=server_ssl, client_ssl=client_ssl, server_hostname=server_hostname,
                listen=own_listener, handshake_timeout=config.limits.rpc_handshake_timeout,
            )
        self.transport = transport
        self.timing = raft_timing(config.raft_multiplier)
        self.node = RaftNode(
            self.id, transport, machine, log_store, stable, snaps,
            tick_interval=self.timing.tick_interval,
            election_tick=self.timing.election_tick,
            heartbeat_tick=self.timing.heartbeat_tick,
            lease_tick=self.timing.lease_tick,
            snapshot_threshold=max(16, int(config.snapshot_threshold or 8192)),
            rng=rng,
            recover=config.raft_recover_truncate,
        )
        self.discovery = Discovery(
            self.node,
            ServerInfo(self.id, config.node_name, self.address),
            list(config.start_join) + list(config.retry_join),
            bootstrap_expect=config.bootstrap_expect,
            server_port=config.ports.server,
            serf_port=config.ports.serf_lan,
            interval=min(1.0, max(0.2, float(config.retry_interval or 1.0))),
        )
        self.discovery.cleanup_dead_servers = config.autopilot.cleanup_dead_servers
        self.discovery.bootstrap_from_gossip_only = gossip
        # Only a TCP transport that does not listen itself takes connections from the agent's port.
        serve: StreamHandler | None = transport.serve if isinstance(transport, TCPTransport) else None
        self._stream_handler = None if own_listener else serve
        self._started = False
        # Writes and read barriers being answered here, for drain() on a graceful leave.
        self._held = 0
        self._none_held = asyncio.Event()
        self._none_held.set()

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self.node.load()
        if self.config.bootstrap and not self.node.has_state():
            self.node.bootstrap({self.id: self.address})
        await self.node.start()
        if self.node.voters() == {self.id: self.address}:
            self.node.campaign_now()  # the only voter: no one to wait for
        self.discovery.start()
        self._started = True
        log.info("raft started", extra={"id": self.id, "address": self.address,
                                        "bootstrap_expect": self.config.bootstrap_expect})

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        await self.discovery.stop()
        await self.node.stop()

    async def leave(self, timeout: float = 5.0) -> None:
        """Graceful leave: take this server out of the voters before stopping."""
        self.discovery.leaving = True  # or our own join loop would ask to be added back
        if self.node.is_leader() and len(self.node.voters()) > 1:
            # Hand over first, so the cluster has a leader throughout instead of an election.
            if await self.node.transfer_leadership(timeout):
                await self._wait_for_other_leader(timeout)
        try:
            await self.discovery.remove(self.id, timeout)
        except (NoLeader, TimeoutError) as exc:
            log.warning("raft: could not leave the configuration", extra={"error": str(exc)})

    async def drain(self, timeout: float) -> None:
        """performance.leave_drain_time: dwell until the requests held here are answered."""
        if timeout > 0 and self._held:
            log.info("raft: draining requests before leaving", extra={"held": self._held, "timeout": timeout})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._none_held.wait(), timeout)

    @contextlib.contextmanager
    def _holding(self) -> Iterator[None]:
        self._held += 1
        self._none_held.clear()
        try:
            yield
        finally:
            self._held -= 1
            if not self._held:
                self._none_held.set()

    async def _wait_for_other_leader(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.node.leader_addr and not self.node.is_leader():
                return
            await asyncio.sleep(0.02)

    # ------------------------------------------------------------------ Consensus
    async def apply(self, command: commands.Command) -> Any:
        with self._holding():
            return await self._apply(commands.encode(command))

    async def _apply(self, data: bytes) -> Any:
        deadline = time.monotonic() + self.hold_timeout
        while True:
            asked = self.node.leader_addr
            try:
                return await self.node.propose(data, timeout=max(0.0, deadline - time.monotonic()))
            except (NotLeader, LeadershipLost, ForwardFailed, NoLeader) as exc:
                if not _surely_not_appended(exc, asked != "") or time.monotonic() > deadline:
                    raise NoLeader() from None
            except TimeoutError:
                raise NoLeader() from None
            await self._next_leader(asked, deadline)

    async def restore_snapshot(self, data: bytes) -> None:
        """`snapshot restore`: replace the state on every server, through the log (ValueError if
        the image is unusable)."""
        try:
            await self.node.propose(data, timeout=self.hold_timeout, kind=RESTORE)
        except (NoLeader, NotLeader, LeadershipLost, ForwardFailed, TimeoutError):
            raise NoLeader() from None
        except Exception as exc:
            raise ValueError(f"invalid snapshot: {exc}") from exc

    async def barrier(self, consistent: bool) -> None:
        with self._holding():
            await self._barrier(consistent)

    async def _barrier(self, consistent: bool) -> None:
        deadline = time.monotonic() + self.hold_timeout
        while True:
            asked = self.node.leader_addr
            try:
                await self.node.read_barrier(lease=not consistent, timeout=max(0.0, deadline - time.monotonic()))
                return
            except (NoLeader, TimeoutError):
                if time.monotonic() > deadline:
                    raise NoLeader() from None
            await self._next_leader(asked, deadline)

    async def _next_leader(self, failed: str, deadline: float) -> None:
        """Before retrying a held request: wait for a leader other than `failed` to be known, so
        the retry goes out the moment leadership moves. A leader that stays the same after a
        transient failure is retried after a short interval."""
        if self.node.leader_addr not in ("", failed):
            return
        await self.node.leader_change(min(RETRY_INTERVAL, deadline - time.monotonic()))

    def leader_status(self) -> LeaderStatus:
        node = self.node
        if node.core is None:
            return LeaderStatus(False, "", 0, False)
        leader = node.leader_addr
        if node.is_leader():
            return LeaderStatus(True, leader, 0, True, leader_reads=node.lease_read_ready())
        contact = int((time.monotonic() - node.last_contact) * 1000) if node.last_contact else 0
        return LeaderStatus(bool(leader), leader, contact, False)

    def peers(self) -> list[str]:
        if self.node.core is None:
            return []
        return sorted(self.node.voters().values())

    def configuration(self) -> list[dict[str, Any]]:
        """`/v1/operator/raft/configuration` Servers, as Consul shows them."""
        node = self.node
        if node.core is None:
            return []
        lead = node.leader_id
        last = node.core.log.last_index
        out = []
        for sid, addr in sorted(node.voters().items(), key=lambda kv: kv[1]):
            out.append({
                "ID": sid,
                "Node": self.discovery.name_of(sid) or addr.rsplit(":", 1)[0],
                "Address": addr,
                "Leader": sid == lead,
                "Voter": True,
                "ProtocolVersion": "3",
                "LastIndex": last,
            })
        return out

    def replication(self) -> dict[str, tuple[float, int]]:
        node = self.node
        core = node.core
        if core is None or not core.is_leader():
            return {}
        out = {core.id: (0.0, core.log.last_index)}
        for sid, pr in core.prs.items():
            if sid != core.id:
                out[sid] = ((core.ticks - pr.last_active) * node.tick_interval, pr.match)
        return out

    async def remove_peer(self, address: str = "", node_id: str = "") -> None:
        """`operator raft remove-peer`: UnknownPeer when no such server is a voter."""
        voters = self.node.voters()
        target = ""
        if node_id:
            target = node_id if node_id in voters else ""
        else:
            target = next((k for k, a in voters.items() if a == address), "")
        if not target:
            what = f"id {node_id!r}" if node_id else f"address {address!r}"
            raise UnknownPeer(f"{what} was not found in the Raft configuration")
        self.discovery.note_left(target)
        try:
            await self.discovery.remove(target, self.hold_timeout)
        except NoLeader:
            raise NoLeader() from None

    async def transfer_leadership(self, timeout: float = 5.0) -> bool:
        return await self.node.transfer_leadership(timeout)

    @property
    def stream_handler(self) -> StreamHandler | None:
        return self._stream_handler

    # Gossip hooks: the agent calls these from its member events (server members only).
    def note_server(self, node_id: str, name: str, addr: str) -> None:
        """A server member is alive at `addr` ("IP:server port")."""
        self.discovery.note_server(node_id, name, addr)

    def note_server_left(self, node_id: str) -> None:
        """A server member left gracefully: the leader removes it from the voters."""
        self.discovery.note_left(node_id)

    def use_gossip_discovery(self) -> None:
        """Gossip now reports the servers (with their real server ports, from member tags): stop
        dialling the join addresses, which name gossip ports and would be dialled in vain."""
        self.discovery.join_addrs = []

    def note_server_failed(self, node_id: str) -> None:
        """A server member failed (gossip): autopilot's dead-server cleanup removes it from the
        voters while fewer than half of them are dead; it is added back when it returns."""
        self.discovery.note_failed(node_id)

    def stats(self) -> dict[str, str]:
        node = self.node
        core = node.core
        if core is None:
            return {"state": "Follower"}
        last_contact = "0"
        if not node.is_leader():
            last_contact = (
                f"{(time.monotonic() - node.last_contact) * 1000:.3f}ms" if node.last_contact else "never"
            )
        voters = node.voters()
        latest = ", ".join(f"{{Suffrage:Voter ID:{k} Address:{a}}}" for k, a in sorted(voters.items()))
        snap = core.log.snapshot
        return {
            "applied_index": str(node.applied_index),
            "commit_index": str(core.log.committed),
            "fsm_pending": str(max(0, core.log.applied - node.applied_index)),
            "last_contact": last_contact,
            "last_log_index": str(core.log.last_index),
            "last_log_term": str(core.log.last_term),
            "last_snapshot_index": str(snap.index if snap else 0),
            "last_snapshot_term": str(snap.term if snap else 0),
            "latest_configuration": f"[{latest}]",
            "latest_configuration_index": str(core.log.last_config_index()),
            "num_peers": str(max(0, len(voters) - 1)),
            "protocol_version": "3",
            "protocol_version_max": "3",
            "protocol_version_min": "0",
            "snapshot_version_max": "1",
            "snapshot_version_min": "0",
            "state": core.role.value,
            "term": str(core.term),
        }


def _surely_not_appended(exc: Exception, leader_was_known: bool) -> bool:
    """May a failed write be tried again without risking it twice? Yes when the leader refused
    it or lost leadership before placing it, when the leader could not even be connected to, or
    when no leader was known to send it to."""
    if isinstance(exc, (NotLeader, LeadershipLost)):
        return True
    if isinstance(exc, ForwardFailed):
        return not exc.delivered
    return not leader_was_known
