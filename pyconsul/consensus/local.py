"""LocalConsensus: the in-memory command log of a `-dev` agent (one server, nothing on disk).

Commands are numbered and applied in order at once. Servers with a data directory use Raft
(`pyconsul.consensus.raft.RaftConsensus`), which makes every write durable before it is applied.
As in Consul `-dev`, this server is the only voter and always the leader.
"""

from __future__ import annotations

import logging
from typing import Any

from pyconsul.consensus.errors import UnknownPeer
from pyconsul.consensus.protocol import LeaderStatus, StreamHandler
from pyconsul.fsm import commands
from pyconsul.fsm.machine import StateMachine

log = logging.getLogger("pyconsul.consensus.local")


class LocalConsensus:
    def __init__(
        self, machine: StateMachine, advertise_addr: str = "127.0.0.1:8300", *, node_id: str = "", node_name: str = ""
    ) -> None:
        self.machine = machine
        self.advertise_addr = advertise_addr
        self.node_id = node_id
        self.node_name = node_name
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
        return LeaderStatus(True, self.advertise_addr, 0, True, leader_reads=True)

    def peers(self) -> list[str]:
        return [self.advertise_addr]

    def configuration(self) -> list[dict[str, Any]]:
        return [{
            "ID": self.node_id,
            "Node": self.node_name,
            "Address": self.advertise_addr,
            "Leader": True,
            "Voter": True,
            "ProtocolVersion": "3",
            "LastIndex": self.machine.store.last_index,
        }]

    def replication(self) -> dict[str, tuple[float, int]]:
        return {self.node_id: (0.0, self.machine.store.last_index)}

    async def remove_peer(self, address: str = "", node_id: str = "") -> None:
        # The only voter is this server, which a -dev agent cannot remove from itself.
        what = f"id {node_id!r}" if node_id else f"address {address!r}"
        raise UnknownPeer(f"{what} was not found in the Raft configuration")

    async def transfer_leadership(self, timeout: float = 5.0) -> bool:
        return False  # no other voter to take over

    async def drain(self, timeout: float) -> None:
        return None  # every request is answered at once: nothing is ever held

    async def leave(self) -> None:
        return None

    def stats(self) -> dict[str, str]:
        idx = str(self.last_index)
        return {"state": "Leader", "term": "1", "last_log_index": idx, "commit_index": idx,
                "applied_index": idx, "last_snapshot_index": "0", "num_peers": "0", "protocol_version": "3"}

    @property
    def stream_handler(self) -> StreamHandler | None:
        return None  # the server port carries only forwarded HTTP

    def note_server(self, node_id: str, name: str, addr: str) -> None:
        return None

    def note_server_failed(self, node_id: str) -> None:
        return None

    def note_server_left(self, node_id: str) -> None:
        return None

    def use_gossip_discovery(self) -> None:
        return None
