"""What one member knows about another: status, incarnation, address and tags."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum


class NodeStatus(IntEnum):
    ALIVE = 0
    SUSPECT = 1
    DEAD = 2  # failed: stopped answering probes
    LEFT = 3  # left gracefully (or was force-left)

    @property
    def gone(self) -> bool:
        return self in (NodeStatus.DEAD, NodeStatus.LEFT)


@dataclass
class NodeState:
    name: str
    addr: str
    port: int
    tags: dict[str, str] = field(default_factory=dict)
    incarnation: int = 0
    status: NodeStatus = NodeStatus.ALIVE
    status_since: float = 0.0  # monotonic time of the last status change

    @property
    def address(self) -> tuple[str, int]:
        return (self.addr, self.port)

    def copy(self) -> NodeState:
        return NodeState(
            self.name, self.addr, self.port, dict(self.tags), self.incarnation, self.status, self.status_since
        )
