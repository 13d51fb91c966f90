"""Config entries as replicated state: set, check-and-set, delete, wake-ups and snapshots."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pyconsul.fsm import commands as c
from pyconsul.fsm.machine import StateMachine
from pyconsul.state import watch
from pyconsul.state.config_entries import CONFIG_ENTRIES
from pyconsul.state.store import StateStore
from pyconsul.state.watch import WatchSet
from tests.state.tables import Applied


def entry(kind: str = "service-defaults", name: str = "web", **fields: object) -> dict[str, object]:
    return {"Kind": kind, "Name": name, **fields}


def test_set_keeps_create_index_and_moves_modify_index() -> None:
    a = Applied()
    assert a.ok(c.ConfigEntryOp(verb="set", entry=entry(Protocol="http"))) is True
    assert a.ok(c.ConfigEntryOp(verb="set", entry=entry(Protocol="tcp"))) is True
    idx, row = a.store.config_entries.get(None, "service-defaults", "web")
    assert row == {"Kind": "service-defaults", "Name": "web", "Protocol": "tcp", "CreateIndex": 1, "ModifyIndex": 2}
    assert idx == 2


def test_cas_zero_only_creates_and_a_stale_cas_writes_nothing() -> None:
    a = Applied()
    assert a.ok(c.ConfigEntryOp(verb="cas", entry=entry(Protocol="http"), index=0)) is True
    assert a.ok(c.ConfigEntryOp(verb="cas", entry=entry(Protocol="grpc"), index=0)) is False
    assert a.ok(c.ConfigEntryOp(verb="cas", entry=entry(Protocol="grpc"), index=7)) is False
    assert a.store.config_entries.get(None, "service-defaults", "web")[1]["Protocol"] == "http"
    assert a.store.max_index(CONFIG_ENTRIES) == 1  # refused writes move no index
    assert a.ok(c.ConfigEntryOp(verb="cas", entry=entry(Protocol="grpc"), index=1)) is True
    assert a.store.config_entries.get(None, "service-defaults", "web")[1]["ModifyIndex"] == 4


def test_delete_cas_needs_the_current_modify_index() -> None:
    a = Applied()
    a.ok(c.ConfigEntryOp(verb="set", entry=entry()))
    assert a.ok(c.ConfigEntryOp(verb="delete-cas", entry=entry(), index=0)) is False
    assert a.ok(c.ConfigEntryOp(verb="delete-cas", entry=entry(), index=9)) is False
    assert a.ok(c.ConfigEntryOp(verb="delete-cas", entry=entry(), index=1)) is True
    assert a.store.config_entries.get(None, "service-defaults", "web")[1] is None
    assert a.ok(c.ConfigEntryOp(verb="delete", entry=entry())) is True  # absent: still fine


def test_list_by_kind_is_ordered_by_name() -> None:
    a = Applied()
    for name in ("web", "api", "db"):
        a.ok(c.ConfigEntryOp(verb="set", entry=entry(name=name)))
    a.ok(c.ConfigEntryOp(verb="set", entry=entry(kind="proxy-defaults", name="global")))
    _, rows = a.store.config_entries.list(None, "service-defaults")
    assert [r["Name"] for r in rows] == ["api", "db", "web"]
    _, every = a.store.config_entries.list(None)
    assert [(r["Kind"], r["Name"]) for r in every][0] == ("proxy-defaults", "global")


def test_a_write_wakes_its_entry_and_kind_but_not_other_kinds() -> None:
    a = Applied()
    topics = [watch.config_entry("service-intentions", "db"), watch.config_kind("service-intentions"),
              watch.config_kind("service-defaults"), watch.config_entry("service-intentions", "web")]
    woke = a.fired(topics, c.ConfigEntryOp(verb="set", entry=entry("service-intentions", "db", Sources=[])))
    assert woke == {watch.config_entry("service-intentions", "db"), watch.config_kind("service-intentions")}


def test_a_read_registers_the_topic_a_write_fires() -> None:
    a = Applied()
    ws = WatchSet()
    a.store.config_entries.get(ws, "service-intentions", "db")
    woken: list[bool] = []
    a.store.watches.subscribe(ws.topics, lambda: woken.append(True))
    a.ok(c.ConfigEntryOp(verb="set", entry=entry("service-intentions", "db", Sources=[])))
    assert woken == [True]


def test_unknown_verb_fails_loudly() -> None:
    a = Applied()
    try:
        a.apply(c.ConfigEntryOp(verb="upsert", entry=entry()))
    except c.UnknownCommand:
        return
    raise AssertionError("an unknown verb must not be applied silently")


ops = st.lists(st.tuples(st.sampled_from(["set", "cas", "delete", "delete-cas"]),
                         st.sampled_from(["a", "b"]), st.integers(0, 6)), max_size=12)


@given(ops)
def test_snapshot_round_trip_gives_the_same_store(script: list[tuple[str, str, int]]) -> None:
    machine = StateMachine(StateStore())
    for i, (verb, name, cas) in enumerate(script):
        machine.apply(i + 1, c.encode(c.ConfigEntryOp(verb=verb, entry=entry(name=name, N=i), index=cas)))
    restored = StateMachine(StateStore())
    restored.restore(machine.snapshot())
    assert restored.store.config_entries.list(None) == machine.store.config_entries.list(None)
    assert restored.snapshot() == machine.snapshot()
