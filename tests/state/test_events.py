"""Event table: a bounded ring with a Lamport time, one topic."""

from __future__ import annotations

from pyconsul.fsm import commands as c
from pyconsul.state import watch
from pyconsul.state.events import MAX_EVENTS
from tests.state.tables import Applied


def fire(name: str, i: int) -> c.EventFire:
    return c.EventFire(event={"ID": f"id-{i}", "Name": name, "Payload": b"p"})


def test_fire_and_list_by_name() -> None:
    a = Applied()
    assert a.fired([watch.events(), watch.sessions()], fire("deploy", 1)) == {watch.events()}
    a.ok(fire("other", 2))
    events = a.store.events
    idx, rows = events.list(None)
    assert idx == 2 and [(r["Name"], r["LTime"]) for r in rows] == [("deploy", 1), ("other", 2)]
    assert [r["ID"] for r in events.list(None, "deploy")[1]] == ["id-1"]


def test_the_ring_keeps_only_the_newest_events() -> None:
    a = Applied()
    for i in range(MAX_EVENTS + 5):
        a.ok(fire("e", i))
    rows = a.store.events.list(None)[1]
    assert len(rows) == MAX_EVENTS and rows[0]["ID"] == "id-5" and rows[-1]["LTime"] == MAX_EVENTS + 5
