"""LocalConsensus: the in-memory command log of a `-dev` agent (one server, nothing on disk).

Commands are numbered and applied in order at once. Servers with a data directory use Raft
(`pyconsul.raft.consensus.RaftConsensus`), which makes every write durable before it is applied.
"""

from __future__ import annotations

import logging
from typing import Any

from pyconsul.consensus import LeaderStatus
from pyconsul.fsm import commands
from pyconsul.fsm.machine import StateMachine

log = logging.getLogger("pyconsul.local_log")


class LocalConsensus:
    def __init__(self, machine: StateMachine, advertise_addr: str = "127.0.0.1:8300") -> None:
        self.machine = machine
        self.advertise_addr = advertise_addr
        self.last_index = 0

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def apply(self, command: commands.Command) -> Any:
        self.last_index += 1
        return self.machine.apply(self.last_index, commands.encode(command))

    async def restore_snapshot(self, data: bytes) -> None:
        """Replace the store with a `consul snapshot save` state; later writes get higher indexes."""
        try:
            self.machine.restore(data)
        except Exception as exc:
            raise ValueError(f"invalid snapshot: {exc}") from exc
        self.last_index = max(self.last_index, self.machine.store.last_index) + 1
        self.machine.store.last_index = self.last_index

    async def barrier(self, consistent: bool) -> None:
        return None

    def leader_status(self) -> LeaderStatus:
        return LeaderStatus(True, self.advertise_addr, 0, True)

    def peers(self) -> list[str]:
        return [self.advertise_addr]

    def stats(self) -> dict[str, str]:
        idx = str(self.last_index)
        return {"state": "Leader", "term": "1", "last_log_index": idx, "commit_index": idx,
                "applied_index": idx, "last_snapshot_index": "0", "num_peers": "0", "protocol_version": "3"}
