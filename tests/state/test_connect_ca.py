"""The CA's replicated state: one initialisation, rotations by check-and-set, the serial counter."""

from __future__ import annotations

from pyconsul.fsm import commands as c
from pyconsul.fsm.machine import StateMachine
from pyconsul.state import watch
from pyconsul.state.connect_ca import CA_ROOTS
from pyconsul.state.store import StateStore
from tests.state.tables import Applied

CONFIG = {"Provider": "consul", "ClusterID": "abc", "Config": {"LeafCertTTL": "72h"}}


def root(rid: str, active: bool = True) -> dict[str, object]:
    return {"ID": rid, "Active": active, "RootCert": f"pem-{rid}"}


def test_only_the_first_initialisation_applies() -> None:
    a = Applied()
    assert a.ok(c.ConnectCAOp(verb="init", config=CONFIG, roots=[root("r1")])) is True
    assert a.ok(c.ConnectCAOp(verb="init", config={**CONFIG, "ClusterID": "other"}, roots=[root("r2")])) is False
    assert a.store.connect_ca.config is not None and a.store.connect_ca.config["ClusterID"] == "abc"
    assert [r["ID"] for r in a.store.connect_ca.roots] == ["r1"]


def test_rotation_needs_the_current_roots_index_and_keeps_unchanged_rows() -> None:
    a = Applied()
    a.ok(c.ConnectCAOp(verb="init", config=CONFIG, roots=[root("r1")]))
    stale = a.store.max_index(CA_ROOTS) - 1
    assert a.ok(c.ConnectCAOp(verb="set-roots", config=CONFIG, roots=[root("r2")], cas=stale)) is False
    woke = a.fired([watch.table(CA_ROOTS)], c.ConnectCAOp(
        verb="set-roots", config=CONFIG, roots=[root("r1"), root("r2")], cas=a.store.max_index(CA_ROOTS)))
    assert woke == {watch.table(CA_ROOTS)}
    r1, r2 = a.store.connect_ca.roots
    assert (r1["CreateIndex"], r1["ModifyIndex"]) == (1, 1)  # untouched by the rotation
    assert r2["CreateIndex"] == r2["ModifyIndex"] == a.index


def test_serials_count_up_and_survive_a_snapshot() -> None:
    a = Applied()
    assert [a.ok(c.ConnectCAOp(verb="next-serial")) for _ in range(3)] == [1, 2, 3]
    restored = StateMachine(StateStore())
    restored.restore(a.machine.snapshot())
    assert restored.apply(9, c.encode(c.ConnectCAOp(verb="next-serial"))) == 4
