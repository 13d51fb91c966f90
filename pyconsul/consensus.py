"""The seam between the HTTP/DNS views and how writes are made durable.

Every write is a typed command (`pyconsul.fsm.commands`) handed to a `Consensus`:
`pyconsul.local_log.LocalConsensus` (`-dev`) applies it in memory, `RaftConsensus` makes it durable
on a quorum first, and a client agent's `RemoteConsensus` sends it to a server. It is applied by the
deterministic `pyconsul.fsm.machine.StateMachine` to the `StateStore`, and `apply` returns what the
machine returned for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from pyconsul.fsm.commands import Command


class NoLeaderError(Exception):
    """No cluster leader is known; Consul answers 500 'No cluster leader'."""

    def __init__(self, message: str = "No cluster leader") -> None:
        super().__init__(message)


@dataclass(frozen=True)
class LeaderStatus:
    known_leader: bool
    leader_addr: str  # "IP:port" of the server RPC port, "" when unknown
    last_contact_ms: int  # 0 on the leader itself
    is_leader: bool


class Consensus(Protocol):
    async def apply(self, command: Command) -> Any:
        """Make `command` durable (and replicated), apply it, return the state machine's result.

        Raises NoLeaderError when no leader can accept writes.
        """

    async def barrier(self, consistent: bool) -> None:
        """Before a default-mode read (consistent=False: leader lease) or a `?consistent` read
        (consistent=True: confirm leadership with a quorum). Raises NoLeaderError."""

    def leader_status(self) -> LeaderStatus: ...

    def peers(self) -> list[str]:
        """Server RPC addresses ("IP:8300") of the voting members."""

    def stats(self) -> dict[str, str]:
        """The `raft` section of `consul info` / agent/self Stats."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...
