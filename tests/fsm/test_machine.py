"""The state machine over the table store: commit/abort per command, snapshot and restore."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyconsul.fsm import commands as c
from pyconsul.fsm.machine import StateMachine
from pyconsul.state import watch
from pyconsul.state.errors import StateError
from pyconsul.state.store import StateStore
from tests.state.tables import Applied, kv_set, register


def test_a_refused_command_advances_last_applied_but_moves_no_index_and_wakes_nobody() -> None:
    a = Applied()
    a.ok(register("n1", "web", "web1"))
    woke: list[int] = []
    a.store.watches.subscribe([watch.nodes(), watch.node("ghost"), watch.sessions()], lambda: woke.append(1))
    before = a.store.indexes.as_dict()
    out = a.apply(c.SessionCreate(session={"ID": "s", "Node": "ghost"}))
    assert isinstance(out, StateError)
    assert a.store.indexes.as_dict() == before and woke == []
    assert a.machine.last_applied == 2 and a.store.txn.topics == frozenset()


def test_one_command_wakes_a_waiter_once_however_many_of_its_topics_it_touched() -> None:
    a = Applied()
    a.ok(register("n1", "web", "web1"))
    calls: list[int] = []
    a.store.watches.subscribe([watch.service("web"), watch.node("n1"), watch.check_state("any")],
                              lambda: calls.append(1))
    a.ok(register("n1", "web", "web1", "critical"))
    assert calls == [1] and len(a.store.watches) == 0


def test_unknown_commands_fail_loudly_and_leave_nothing_pending() -> None:
    a = Applied()
    with pytest.raises(c.UnknownCommand):
        a.machine.apply(1, msgpack.packb(["no-such-command", {}]))
    with pytest.raises(c.UnknownCommand):
        a.machine.apply_command(2, c.KVOp(verb="frobnicate", key="k"))
    assert a.store.txn.topics == frozenset()


def test_restore_refills_the_same_table_objects_and_wakes_every_waiter() -> None:
    a = Applied()
    a.ok(register("n1", "web", "web1"))
    a.ok(kv_set("k", b"1"))
    snap = a.machine.snapshot()
    catalog, kv = a.store.catalog, a.store.kv  # held by readers such as DNS
    a.ok(c.Deregister(node="n1"))
    a.ok(kv_set("k", b"2"))
    woke: list[int] = []
    a.store.watches.subscribe([watch.kv_key("unrelated")], lambda: woke.append(1))
    a.machine.restore(snap)
    assert woke == [1]
    assert catalog is a.store.catalog and kv is a.store.kv
    assert [e["Service"]["ID"] for e in catalog.check_service_nodes(None, "web")[1]] == ["web1"]
    assert kv.get(None, "k")[1]["Value"] == b"1"  # type: ignore[index]
    assert a.machine.last_applied == 2 and a.store.max_index("nodes") == 1


def test_restore_refuses_another_snapshot_version() -> None:
    store = StateStore()
    with pytest.raises(ValueError, match="unsupported snapshot version 9"):
        store.restore({"version": 9})


# ------------------------------------------------------------------ sessions and locks vs a model
NODES = ("n1", "n2")
sids = st.sampled_from(["s1", "s2", "s3"])
lock_keys = st.sampled_from(["l/a", "l/b", "x"])
lock_ops = st.one_of(
    st.tuples(st.just("create"), sids, st.sampled_from(NODES)),
    st.tuples(st.just("destroy"), sids),
    st.tuples(st.just("lock"), lock_keys, sids),
    st.tuples(st.just("unlock"), lock_keys, sids),
    st.tuples(st.just("set"), lock_keys),
    st.tuples(st.just("delete"), lock_keys),
    st.tuples(st.just("node-down"), st.sampled_from(NODES)),
    st.tuples(st.just("node-up"), st.sampled_from(NODES)),
    st.tuples(st.just("event"), st.sampled_from(["a", "b"])),
)


class LockModel:
    def __init__(self) -> None:
        self.nodes = set(NODES)
        self.sessions: dict[str, str] = {}  # id -> node
        self.keys: dict[str, str | None] = {}  # key -> holding session
        self.events = 0

    def _end(self, sid: str) -> None:
        del self.sessions[sid]
        for k, holder in self.keys.items():
            if holder == sid:
                self.keys[k] = None

    def apply(self, op: tuple[Any, ...]) -> Any:
        kind = op[0]
        if kind == "create":
            _, sid, node = op
            if sid in self.sessions or node not in self.nodes:
                return StateError
            self.sessions[sid] = node
            return sid
        if kind == "destroy":
            if op[1] not in self.sessions:
                return False
            self._end(op[1])
            return True
        if kind == "lock":
            _, key, sid = op
            if sid not in self.sessions:
                return StateError
            if self.keys.get(key) not in (None, sid):
                return False
            self.keys[key] = sid
            return True
        if kind == "unlock":
            _, key, sid = op
            if key not in self.keys or self.keys[key] != sid:
                return False
            self.keys[key] = None
            return True
        if kind == "set":
            self.keys.setdefault(op[1], None)
            return True
        if kind == "delete":
            self.keys.pop(op[1], None)
            return True
        if kind == "node-down":
            self.nodes.discard(op[1])
            for sid in [s for s, n in self.sessions.items() if n == op[1]]:
                self._end(sid)
            return True
        if kind == "node-up":
            self.nodes.add(op[1])
            return True
        self.events += 1
        return self.events  # the event's Lamport time


def lock_command(op: tuple[Any, ...], i: int) -> c.Command:
    kind = op[0]
    if kind == "create":
        return c.SessionCreate(session={"ID": op[1], "Node": op[2], "LockDelay": 0})
    if kind == "destroy":
        return c.SessionDestroy(session_id=op[1])
    if kind in ("lock", "unlock"):
        return c.KVOp(verb=kind, key=op[1], value=b"v", session=op[2])
    if kind == "set":
        return kv_set(op[1])
    if kind == "delete":
        return c.KVOp(verb="delete", key=op[1])
    if kind == "node-down":
        return c.Deregister(node=op[1])
    if kind == "node-up":
        return c.Register(node={"Node": op[1], "Address": "10.0.0.1"})
    return c.EventFire(event={"ID": f"e{i}", "Name": op[1]})


def observed(store: StateStore) -> tuple[Any, ...]:
    holders = {k: r.get("Session") for k, r in store.kv.rows.items()}
    # the per-session lock index always agrees with the rows
    assert {k: s for s, keys in store.kv.held_by.items() for k in keys} == {k: s for k, s in holders.items() if s}
    return (set(store.catalog.nodes_by_name), {s: r["Node"] for s, r in store.sessions.by_id.items()},
            holders, len(store.events.ring))


@settings(max_examples=150, deadline=None)
@given(st.lists(lock_ops, max_size=50), st.integers(0, 50))
def test_sessions_and_locks_match_a_model_and_survive_snapshot_restore_midway(
        ops: list[tuple[Any, ...]], cut: int) -> None:
    a = Applied()
    for n in NODES:
        a.ok(c.Register(node={"Node": n, "Address": "10.0.0.1"}))
    model = LockModel()
    replica: StateMachine | None = None
    for i, op in enumerate(ops):
        if i == cut:
            # A replica that joins from a snapshot here must end identical to the original.
            replica = StateMachine(StateStore(a.clock))
            replica.restore(a.machine.snapshot())
        cmd = lock_command(op, i)
        got = a.apply(cmd)
        if op[0] == "event":
            got = got["LTime"]
        want = model.apply(op)
        if want is StateError:
            assert isinstance(got, StateError), (op, got)
        else:
            assert got == want, op
        if replica is not None:
            out = replica.apply(a.index, c.encode(cmd))
            if op[0] == "event":
                out = out["LTime"]
            assert type(out) is type(got) and (isinstance(out, Exception) or out == got)
    assert observed(a.store) == (model.nodes, model.sessions, model.keys, model.events)
    restored = StateMachine(StateStore(a.clock))
    restored.restore(a.machine.snapshot())
    assert observed(restored.store) == observed(a.store)
    assert restored.snapshot() == a.machine.snapshot()
    if replica is not None:
        assert replica.snapshot() == a.machine.snapshot()
