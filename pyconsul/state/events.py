"""User events (event fire / event list): a bounded ring of the most recent events.

Watch topic: watch.events().
"""

from __future__ import annotations

from collections import deque
from typing import Any

from pyconsul.state import watch
from pyconsul.state.txn import IndexTable, WriteTxn
from pyconsul.state.watch import WatchSet

Row = dict[str, Any]

MAX_EVENTS = 256
EVENTS = "events"


class EventTable:
    def __init__(self, txn: WriteTxn, indexes: IndexTable) -> None:
        self.txn = txn
        self.indexes = indexes
        self.clear()

    def clear(self) -> None:
        self.ring: deque[Row] = deque(maxlen=MAX_EVENTS)
        self.ltime = 0

    def fire(self, idx: int, event: Row) -> Row:
        self.ltime += 1
        row: Row = {
            "ID": event["ID"],
            "Name": event.get("Name", ""),
            "Payload": event.get("Payload"),
            "NodeFilter": event.get("NodeFilter", "") or "",
            "ServiceFilter": event.get("ServiceFilter", "") or "",
            "TagFilter": event.get("TagFilter", "") or "",
            "Version": 1,
            "LTime": self.ltime,
        }
        self.ring.append(row)
        self.txn.bump(idx, EVENTS)
        self.txn.touch(watch.events())
        return row

    def list(self, ws: WatchSet | None, name: str = "") -> tuple[int, list[Row]]:
        if ws is not None:
            ws.add(watch.events())
        rows = [e for e in self.ring if not name or e["Name"] == name]
        return self.indexes.get(EVENTS), rows

    def snapshot(self) -> dict[str, Any]:
        return {"events": list(self.ring), "event_ltime": self.ltime}

    def restore(self, snap: dict[str, Any]) -> None:
        self.clear()
        self.ring.extend(snap.get("events", []))
        self.ltime = int(snap.get("event_ltime", 0))
