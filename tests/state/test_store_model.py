"""Model-based tests: random command sequences against the store and a plain-dict model."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pyconsul.fsm import commands as c
from pyconsul.fsm.machine import StateMachine
from pyconsul.state.store import StateStore

keys = st.sampled_from(["a", "a/b", "a/c", "a/b/d", "b", "ab", "c/x"])
values = st.binary(max_size=8)
nodes = st.sampled_from(["n1", "n2", "n3"])
svc_names = st.sampled_from(["web", "db", "cache"])
statuses = st.sampled_from(["passing", "warning", "critical"])

kv_ops = st.one_of(
    st.tuples(st.just("set"), keys, values),
    st.tuples(st.just("delete"), keys),
    st.tuples(st.just("delete-tree"), st.sampled_from(["a", "a/", "b", ""])),
    st.tuples(st.just("cas"), keys, values, st.integers(0, 30)),
)
cat_ops = st.one_of(
    st.tuples(st.just("register"), nodes, svc_names, st.integers(1, 3), statuses),
    st.tuples(st.just("deregister-svc"), nodes, svc_names, st.integers(1, 3)),
    st.tuples(st.just("deregister-node"), nodes),
)


class Model:
    def __init__(self) -> None:
        self.kv: dict[str, tuple[bytes, int]] = {}  # key -> (value, modify index)
        self.instances: dict[tuple[str, str], tuple[str, str]] = {}  # (node, id) -> (name, status)
        self.nodes: set[str] = set()

    def apply(self, idx: int, op: tuple[Any, ...]) -> Any:
        kind = op[0]
        if kind == "set":
            self.kv[op[1]] = (op[2], idx)
            return True
        if kind == "delete":
            self.kv.pop(op[1], None)
            return True
        if kind == "delete-tree":
            for k in [k for k in self.kv if k.startswith(op[1])]:
                del self.kv[k]
            return True
        if kind == "cas":
            _, key, value, cas = op
            cur = self.kv.get(key)
            if (cas == 0 and cur is None) or (cur is not None and cur[1] == cas):
                self.kv[key] = (value, idx)
                return True
            return False
        if kind == "register":
            _, node, name, n, status = op
            self.nodes.add(node)
            self.instances[(node, f"{name}-{n}")] = (name, status)
            return True
        if kind == "deregister-svc":
            self.instances.pop((op[1], f"{op[2]}-{op[3]}"), None)
            return True
        if kind == "deregister-node":
            self.nodes.discard(op[1])
            for k in [k for k in self.instances if k[0] == op[1]]:
                del self.instances[k]
            return True
        raise AssertionError(kind)


def to_command(op: tuple[Any, ...]) -> c.Command:
    kind = op[0]
    if kind == "set":
        return c.KVOp(verb="set", key=op[1], value=op[2])
    if kind == "delete":
        return c.KVOp(verb="delete", key=op[1])
    if kind == "delete-tree":
        return c.KVOp(verb="delete-tree", key=op[1])
    if kind == "cas":
        return c.KVOp(verb="cas", key=op[1], value=op[2], index=op[3])
    if kind == "register":
        _, node, name, n, status = op
        sid = f"{name}-{n}"
        return c.Register(
            node={"Node": node, "Address": "10.0.0.1"},
            service={"ID": sid, "Service": name, "Port": 80 + n},
            checks=[{"CheckID": f"chk-{sid}", "Name": "c", "Status": status, "ServiceID": sid}],
        )
    if kind == "deregister-svc":
        return c.Deregister(node=op[1], service_id=f"{op[2]}-{op[3]}")
    return c.Deregister(node=op[1])


def check_equal(store: StateStore, model: Model) -> None:
    assert {k: (r["Value"], r["ModifyIndex"]) for k, r in store.kv.rows.items()} == model.kv
    assert set(store.catalog.nodes_by_name) == model.nodes
    got = {}
    for name in ("web", "db", "cache"):
        _, rows = store.catalog.check_service_nodes(None, name)
        for r in rows:
            status = next(ch["Status"] for ch in r["Checks"] if ch["ServiceID"])
            got[(r["Node"]["Node"], r["Service"]["ID"])] = (name, status)
    assert got == model.instances


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(kv_ops, cat_ops), max_size=60))
def test_store_matches_model_and_snapshot_roundtrips(ops: list[tuple[Any, ...]]) -> None:
    store = StateStore()
    machine = StateMachine(store)
    model = Model()
    for i, op in enumerate(ops, start=1):
        # Encoding through msgpack is part of what replicas do.
        result = machine.apply(i, c.encode(to_command(op)))
        assert result == model.apply(i, op), op
    check_equal(store, model)
    restored = StateStore()
    StateMachine(restored).restore(machine.snapshot())
    check_equal(restored, model)
    assert StateMachine(restored).snapshot() == machine.snapshot()


@settings(max_examples=100, deadline=None)
@given(st.lists(kv_ops, max_size=40), st.sampled_from(["a", "a/", "b", "c", ""]))
def test_recurse_index_moves_on_any_change_under_prefix(ops: list[tuple[Any, ...]], prefix: str) -> None:
    """A ?recurse reader's index grows whenever a key under its prefix changes (deletes too)."""
    store = StateStore()
    machine = StateMachine(store)
    for i, op in enumerate(ops, start=1):
        before = dict(store.kv.rows)
        idx_before, _ = store.kv.get_tree(None, prefix)
        machine.apply(i, c.encode(to_command(op)))
        idx_after, _ = store.kv.get_tree(None, prefix)
        changed = {k for k in set(before) | set(store.kv.rows) if before.get(k) is not store.kv.rows.get(k)}
        if any(k.startswith(prefix) for k in changed):
            assert idx_after == i
        elif any(k.startswith(prefix) for k in list(store.kv.rows) + list(store.kv.tombstones)):
            # Unrelated writes never move the index of a prefix that has entries or tombstones
            # (an empty prefix reports the table index, as Consul does).
            assert idx_after == idx_before


def test_unknown_command_fails_loudly() -> None:
    import msgpack
    import pytest

    machine = StateMachine(StateStore())
    with pytest.raises(c.UnknownCommand):
        machine.apply(1, msgpack.packb(["no-such-command", {}]))
    with pytest.raises(c.UnknownCommand):
        machine.apply(1, b"\xc1garbage")


def test_failed_registration_changes_nothing() -> None:
    store = StateStore()
    machine = StateMachine(store)
    bad = c.Register(node={"Node": "n1", "Address": "1.1.1.1"},
                     checks=[{"CheckID": "x", "Name": "x", "ServiceID": "missing"}])
    result = machine.apply(1, c.encode(bad))
    assert isinstance(result, Exception) and "missing" in str(result)
    assert store.catalog.nodes_by_name == {} and store.max_index("nodes") == 0
