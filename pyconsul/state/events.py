"""User events (event fire / event list): a bounded ring of the most recent events."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from pyconsul.state.watch import WatchSet

if TYPE_CHECKING:
    from pyconsul.state.store import StateStore

Row = dict[str, Any]

MAX_EVENTS = 256


class EventTables:
    def __init__(self) -> None:
        self.events: deque[Row] = deque(maxlen=MAX_EVENTS)
        self.event_ltime = 0

    def event_fire(self: StateStore, idx: int, event: Row) -> Row:
        self.event_ltime += 1
        row: Row = {
            "ID": event["ID"],
            "Name": event.get("Name", ""),
            "Payload": event.get("Payload"),
            "NodeFilter": event.get("NodeFilter", "") or "",
            "ServiceFilter": event.get("ServiceFilter", "") or "",
            "TagFilter": event.get("TagFilter", "") or "",
            "Version": 1,
            "LTime": self.event_ltime,
        }
        self.events.append(row)
        self._bump(idx, "events")
        self._touch(("events",))
        return row

    def event_list(self: StateStore, ws: WatchSet | None, name: str = "") -> tuple[int, list[Row]]:
        if ws is not None:
            ws.add(("events",))
        rows = [e for e in self.events if not name or e["Name"] == name]
        return self.max_index("events"), rows

    def _event_snapshot(self) -> dict[str, Any]:
        return {"events": list(self.events), "event_ltime": self.event_ltime}

    def _event_restore(self, snap: dict[str, Any]) -> None:
        self.events.extend(snap.get("events", []))
        self.event_ltime = int(snap.get("event_ltime", 0))
