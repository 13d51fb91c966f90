"""The autopilot configuration as replicated state: check-and-set, log replay and snapshots."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pyconsul.fsm import commands as c
from pyconsul.fsm.machine import StateMachine
from pyconsul.state.autopilot import DEFAULT_CONFIG
from pyconsul.state.store import StateStore

configs = st.fixed_dictionaries({
    "CleanupDeadServers": st.booleans(), "MaxTrailingLogs": st.integers(0, 10_000),
    "MinQuorum": st.integers(0, 7), "LastContactThreshold": st.sampled_from(["200ms", "1s", "0s"]),
})
writes = st.lists(st.tuples(configs, st.one_of(st.none(), st.integers(0, 12))), max_size=10)


def apply_all(ops: list[tuple[dict[str, object], int | None]]) -> tuple[StateMachine, list[object]]:
    machine = StateMachine(StateStore())
    results = [machine.apply(i + 1, c.encode(c.AutopilotSet(config=cfg, cas=cas))) for i, (cfg, cas) in enumerate(ops)]
    return machine, results


def test_defaults_before_any_write() -> None:
    row = StateStore().autopilot.get()
    assert row == {**DEFAULT_CONFIG, "CreateIndex": 0, "ModifyIndex": 0}


@given(writes)
def test_cas_applies_only_at_the_current_modify_index(ops: list[tuple[dict[str, object], int | None]]) -> None:
    machine, results = apply_all(ops)
    modify, create, last = 0, 0, None
    for i, ((cfg, cas), result) in enumerate(zip(ops, results, strict=True)):
        expected = cas is None or cas == modify
        assert result is expected
        if expected:
            modify, last = i + 1, cfg
            create = create or i + 1
    row = machine.store.autopilot.get()
    assert (row["CreateIndex"], row["ModifyIndex"]) == (create, modify)
    if last is not None:
        assert {k: row[k] for k in last} == last


@given(writes)
def test_snapshot_restores_the_same_configuration(ops: list[tuple[dict[str, object], int | None]]) -> None:
    machine, _ = apply_all(ops)
    copy = StateMachine(StateStore())
    copy.restore(machine.snapshot())
    assert copy.store.autopilot.get() == machine.store.autopilot.get()
    assert copy.store.max_index("autopilot") == machine.store.max_index("autopilot")
