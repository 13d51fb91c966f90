"""The seam between the HTTP/DNS views and how writes are made durable.

Every write is a typed command (`pyconsul.fsm.commands`) handed to a `Consensus`: `LocalConsensus`
(`-dev`) applies it in memory, `RaftConsensus` makes it durable on a quorum first, and a client
agent's `RemoteConsensus` sends it to a server. It is applied by the deterministic
`pyconsul.fsm.machine.StateMachine` to the `StateStore`, and `apply` returns what the machine
returned for it.

Every implementation answers every method: what one cannot do it answers in the defined way
written below (as a single `-dev` server or a client agent shows it in Consul), so callers never
probe for capabilities.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pyconsul.fsm.commands import Command

# A connection on the server port that is not HTTP (Raft's own protocol).
StreamHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass(frozen=True)
class LeaderStatus:
    known_leader: bool
    leader_addr: str  # "IP:port" of the server RPC port, "" when unknown
    last_contact_ms: int  # 0 on the leader itself
    is_leader: bool
    # A default-mode read may be answered from local state right now: the leader holds its lease,
    # has committed an entry of its own term and applied everything committed (Raft's barrier,
    # without the round trip). Right after a failover a new leader is not there yet.
    leader_reads: bool = False


class Consensus(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def apply(self, command: Command) -> Any:
        """Make `command` durable (and replicated), apply it, return the state machine's result.

        Raises a `ConsensusError` (`NoLeader` when no leader can accept writes)."""

    async def barrier(self, consistent: bool) -> None:
        """Before a default-mode read (consistent=False: leader lease) or a `?consistent` read
        (consistent=True: confirm leadership with a quorum). Raises NoLeader. A client agent's
        reads go to the servers, so its barrier returns at once."""

    def leader_status(self) -> LeaderStatus: ...

    def peers(self) -> list[str]:
        """Server RPC addresses ("IP:8300") of the voting members; [] on a client agent."""

    def configuration(self) -> list[dict[str, Any]]:
        """`/v1/operator/raft/configuration` Servers, as Consul shows them (`-dev`: itself, the
        single voter and leader; a client agent: [])."""

    def replication(self) -> dict[str, tuple[float, int]]:
        """On the leader, what autopilot health judges servers by: server ID → (seconds since the
        leader last heard from it, the last log index it holds); the leader itself is (0, its
        last index). Anywhere else: {} (health then goes by gossip alone)."""

    async def remove_peer(self, address: str = "", node_id: str = "") -> None:
        """`operator raft remove-peer`: raises `UnknownPeer` when no such server is a voter (on
        `-dev` and client agents no server can be removed)."""

    async def transfer_leadership(self, timeout: float = 5.0) -> bool:
        """Leader only: hand leadership to another voter; True once it has (False where there is
        no other voter)."""

    async def leave(self) -> None:
        """A graceful leave: take this server out of the voters before stopping (a no-op where
        there are no other voters)."""

    async def drain(self, timeout: float) -> None:
        """After a graceful leave (out of the voters and the gossip pool): return once no write
        or read barrier is held here any more, or after `timeout` (performance.leave_drain_time),
        so requests in flight get their answers before the listeners close. At once where
        nothing is ever held (-dev, client agents)."""

    async def restore_snapshot(self, data: bytes) -> None:
        """Replace the whole state with a `snapshot save` image (ValueError if it is unusable)."""

    def stats(self) -> dict[str, str]:
        """The `raft` section of `consul info` / agent/self Stats ({} on a client agent)."""

    @property
    def stream_handler(self) -> StreamHandler | None:
        """The handler for non-HTTP connections on the agent's shared server port, or None when
        nothing but HTTP is served there."""

    # Gossip hooks: the agent calls these from its server-member events (no-ops but for Raft).
    def note_server(self, node_id: str, name: str, addr: str) -> None:
        """A server member is alive at `addr` ("IP:server port")."""

    def note_server_failed(self, node_id: str) -> None:
        """A server member failed: autopilot may remove it from the voters."""

    def note_server_left(self, node_id: str) -> None:
        """A server member left gracefully: the leader removes it from the voters."""

    def use_gossip_discovery(self) -> None:
        """Gossip now reports the servers: stop dialling the join addresses for them."""

