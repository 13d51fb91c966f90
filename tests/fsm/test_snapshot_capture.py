"""A snapshot captured between two applies is the state as of that moment, however many commands
apply before it is serialised (which runs in another thread while the loop goes on)."""

from __future__ import annotations

import msgpack
from hypothesis import given, settings
from hypothesis import strategies as st

from pyconsul.fsm import commands as c
from pyconsul.fsm.machine import StateMachine
from pyconsul.state.store import StateStore
from tests.state.tables import Applied, kv_set, node_check, register

# (kind, node or key number, status or value number)
ops = st.tuples(st.sampled_from(["register", "check", "deregister", "kv", "kv-delete"]),
                st.integers(0, 6), st.integers(0, 2))
STATUS = ("passing", "warning", "critical")


def command(op: tuple[str, int, int]) -> c.Command:
    kind, n, v = op
    if kind == "register":
        return register(f"n{n}", f"svc{v}", f"svc{v}-{n}", STATUS[v])
    if kind == "check":
        return node_check(f"n{n}", "alive", STATUS[v])
    if kind == "deregister":
        return c.Deregister(node=f"n{n}")
    if kind == "kv":
        return kv_set(f"k/{n}", str(v).encode())
    return c.KVOp(verb="delete", key=f"k/{n}")


def state_of(data: bytes) -> StateStore:
    machine = StateMachine(StateStore())
    machine.restore(data)
    return machine.store


@settings(max_examples=60, deadline=None)
@given(st.lists(ops, max_size=30), st.lists(ops, min_size=1, max_size=30))
def test_capture_serialises_the_state_as_of_capture_not_of_serialisation(
        before: list[tuple[str, int, int]], after: list[tuple[str, int, int]]) -> None:
    a = Applied()
    for op in before:
        a.apply(command(op))
    expected = msgpack.packb(a.store.snapshot(), use_bin_type=True)  # the one-shot encoding, as before
    *steps, serialise = a.machine.capture_steps(every=3)  # in steps, as the Raft driver takes it
    assert all(step is None for step in steps) and callable(serialise)
    for op in after:  # these apply while the capture waits for its thread
        a.apply(command(op))
    got = serialise()
    assert got == expected  # byte for byte: old snapshots and new ones are the same format
    assert state_of(got).snapshot() == state_of(expected).snapshot()
    assert a.machine.snapshot() == msgpack.packb(a.store.snapshot(), use_bin_type=True)
