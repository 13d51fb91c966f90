"""Updates waiting to ride piggyback on outgoing packets, each sent a bounded number of times.

A newer update about a node replaces any queued older one (only the latest matters). Updates
sent fewest times go first, so fresh news spreads before stale news is repeated; an update is
dropped after `retransmit_limit(mult, n)` sends, which spreads it in O(log n) rounds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyconsul.gossip.messages import Message, encode_message


@dataclass
class _Queued:
    key: str
    msg: Message
    size: int
    transmits: int
    order: int  # tie-break: newer first


class BroadcastQueue:
    def __init__(self, limit: Callable[[], int]) -> None:
        self._limit = limit  # current retransmit limit (depends on cluster size)
        self._items: dict[str, _Queued] = {}
        self._order = 0

    def __len__(self) -> int:
        return len(self._items)

    def queue(self, key: str, msg: Message) -> None:
        self._order += 1
        self._items[key] = _Queued(key, msg, len(encode_message(msg)), 0, self._order)

    def drop(self, key: str) -> None:
        self._items.pop(key, None)

    def take(self, budget: int, per_message_overhead: int = 2) -> list[Message]:
        """Messages fitting in `budget` bytes; each taken message counts one transmission."""
        if not self._items:
            return []
        limit = self._limit()
        out: list[Message] = []
        used = 0
        for item in sorted(self._items.values(), key=lambda q: (q.transmits, -q.order)):
            cost = item.size + per_message_overhead
            if used + cost > budget:
                continue
            used += cost
            out.append(item.msg)
            item.transmits += 1
            if item.transmits >= limit:
                del self._items[item.key]
        return out
