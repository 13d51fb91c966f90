"""Catalog table: rows, indexes and the watch topics each write fires."""

from __future__ import annotations

from pyconsul.fsm import commands as c
from pyconsul.state import watch
from pyconsul.state.errors import StateError
from pyconsul.state.watch import WatchSet
from tests.state.tables import Applied, node_check, register

ALL_SERVICES = [watch.service("web"), watch.service("db"), watch.service("api")]
STATES = [watch.check_state(s) for s in ("passing", "warning", "critical", "any")]


def test_register_writes_rows_and_indexes_read_back_with_their_index() -> None:
    a = Applied()
    a.ok(register("n1", "web", "web1"))
    cat = a.store.catalog
    idx, node = cat.get_node(None, "n1")
    assert idx == 1 and node is not None and node["Address"] == "10.0.0.1"
    assert (node["CreateIndex"], node["ModifyIndex"]) == (1, 1)
    idx, svcs = cat.node_services(None, "n1")
    assert idx == 1 and [s["ID"] for s in svcs] == ["web1"]
    idx, entries = cat.check_service_nodes(None, "web")
    assert idx == 1 and [(e["Node"]["Node"], e["Service"]["ID"], [ch["CheckID"] for ch in e["Checks"]])
                         for e in entries] == [("n1", "web1", ["chk-web1"])]
    assert entries[0]["Checks"][0]["ServiceName"] == "web"
    assert cat.services(None) == (1, {"web": []})
    assert a.store.max_index("nodes", "services", "checks") == 1 and cat.service_index("web") == 1


def test_unchanged_reregistration_moves_no_index_and_wakes_nobody() -> None:
    a = Applied()
    a.ok(register("n1", "web", "web1"))
    before = a.store.indexes.as_dict()
    topics = ALL_SERVICES + STATES + [watch.nodes(), watch.node("n1"), watch.services()]
    assert a.fired(topics, register("n1", "web", "web1")) == set()
    assert a.store.indexes.as_dict() == before
    assert a.store.catalog.get_node(None, "n1")[1]["ModifyIndex"] == 1  # type: ignore[index]


def test_a_write_to_service_a_fires_a_and_not_b() -> None:
    a = Applied()
    a.ok(register("n1", "web", "web1"))
    a.ok(register("n2", "db", "db1"))
    got = a.fired(ALL_SERVICES + [watch.node("n1"), watch.node("n2")], register("n1", "web", "web1", "critical"))
    assert got == {watch.service("web"), watch.node("n1")}
    assert a.store.catalog.service_index("web") == 3 and a.store.catalog.service_index("db") == 2


def test_check_status_change_fires_old_new_and_any_state_topics_only() -> None:
    a = Applied()
    a.ok(register("n1", "web", "web1", "passing"))
    got = a.fired(STATES, register("n1", "web", "web1", "critical"))
    assert got == {watch.check_state("passing"), watch.check_state("critical"), watch.check_state("any")}
    idx, rows = a.store.catalog.checks_in_state(None, "critical")
    assert idx == 2 and [r["CheckID"] for r in rows] == ["chk-web1"]
    assert a.store.catalog.checks_in_state(None, "passing")[1] == []


def test_node_level_check_and_node_update_move_every_service_on_that_node_only() -> None:
    a = Applied()
    a.ok(register("n1", "web", "web1"))
    a.ok(register("n1", "api", "api1"))
    a.ok(register("n2", "db", "db1"))
    assert a.fired(ALL_SERVICES, node_check("n1", "serfHealth", "critical")) == {
        watch.service("web"), watch.service("api")}
    # A new node address is embedded in every catalog/health answer of its services.
    got = a.fired(ALL_SERVICES + [watch.nodes()], c.Register(node={"Node": "n1", "Address": "10.0.0.9"}))
    assert got == {watch.service("web"), watch.service("api"), watch.nodes()}
    cat = a.store.catalog
    assert cat.service_index("web") == cat.service_index("api") == 5 and cat.service_index("db") == 3
    # Node checks come first in a health entry.
    entry = cat.check_service_nodes(None, "web")[1][0]
    assert [ch["CheckID"] for ch in entry["Checks"]] == ["serfHealth", "chk-web1"]


def test_deleting_a_service_removes_its_checks_and_keeps_its_index_moving() -> None:
    a = Applied()
    a.ok(register("n1", "web", "web1"))
    a.ok(register("n1", "db", "db1"))
    got = a.fired(ALL_SERVICES + [watch.services(), watch.node("n1"), watch.nodes()],
                  c.Deregister(node="n1", service_id="web1"))
    assert got == {watch.service("web"), watch.services(), watch.node("n1")}
    cat = a.store.catalog
    assert cat.check_service_nodes(None, "web") == (3, [])  # no row left, yet the index moved
    assert [ch["CheckID"] for ch in cat.node_checks(None, "n1")[1]] == ["chk-db1"]
    assert cat.services(None) == (3, {"db": []})


def test_deleting_a_node_cascades_to_its_services_and_checks() -> None:
    a = Applied()
    a.ok(register("n1", "web", "web1"))
    a.ok(register("n2", "web", "web2"))
    a.ok(c.Deregister(node="n1"))
    cat = a.store.catalog
    assert cat.get_node(None, "n1") == (3, None)
    assert [e["Node"]["Node"] for e in cat.check_service_nodes(None, "web")[1]] == ["n2"]
    assert cat.checks_in_state(None, "any")[1][0]["Node"] == "n2"
    assert "n1" not in cat.services_by_node and "n1" not in cat.checks_by_node
    assert a.apply(c.Deregister(node="n1")) is True and a.store.max_index("nodes") == 3  # no-op


def test_renaming_a_service_id_moves_it_between_service_names() -> None:
    a = Applied()
    a.ok(register("n1", "web", "x"))
    got = a.fired(ALL_SERVICES, register("n1", "api", "x"))
    assert got == {watch.service("web"), watch.service("api")}
    cat = a.store.catalog
    assert cat.check_service_nodes(None, "web")[1] == []
    assert [e["Service"]["Service"] for e in cat.check_service_nodes(None, "api")[1]] == ["api"]
    assert cat.node_checks(None, "n1")[1][0]["ServiceName"] == "api"


def test_tags_filter_and_service_checks() -> None:
    a = Applied()
    a.ok(register("n1", "web", "web1", tags=["v1", "primary"]))
    a.ok(register("n2", "web", "web2", tags=["v2"]))
    cat = a.store.catalog
    assert [e["Service"]["ID"] for e in cat.check_service_nodes(None, "web", ["v1"])[1]] == ["web1"]
    assert [ch["CheckID"] for ch in cat.service_checks(None, "web")[1]] == ["chk-web1", "chk-web2"]
    assert cat.services(None)[1] == {"web": ["v1", "primary", "v2"]}


def test_refused_registrations_change_nothing() -> None:
    a = Applied()
    a.ok(register("n1", "web", "web1"))
    before = (a.store.indexes.as_dict(), a.store.snapshot()["services"])
    bad = [
        c.Register(node={"Node": "n2"}),  # no address
        c.Register(node={"Node": ""}),
        c.Register(node={"Node": "n1", "Address": "10.0.0.1"}, checks=[{"CheckID": "x", "ServiceID": "nope"}]),
        c.Register(node={"Node": "n1", "Address": "10.0.0.1"}, checks=[{"CheckID": "x", "Status": "sad"}]),
        c.Register(node={"Node": "n1", "Address": "10.0.0.1"}, service={"ID": "s"}),
    ]
    errors = [a.apply(cmd) for cmd in bad]
    assert all(isinstance(e, StateError) for e in errors), errors
    assert [str(e) for e in errors] == [
        "Must provide address", "Must provide node", "Missing service registration for ServiceID 'nope'",
        "Invalid check status: 'sad'", "Must provide service name"]
    assert (a.store.indexes.as_dict(), a.store.snapshot()["services"]) == before
    assert a.store.last_index == 6  # a refused command is still applied (as a no-op)


def test_read_topics_are_the_ones_the_writes_fire() -> None:
    a = Applied()
    a.ok(register("n1", "web", "web1"))
    cat = a.store.catalog
    reads = {
        "nodes": lambda ws: cat.nodes(ws),
        "node": lambda ws: cat.get_node(ws, "n1"),
        "node_services": lambda ws: cat.node_services(ws, "n1"),
        "node_checks": lambda ws: cat.node_checks(ws, "n1"),
        "services": lambda ws: cat.services(ws),
        "health": lambda ws: cat.check_service_nodes(ws, "web"),
        "service_checks": lambda ws: cat.service_checks(ws, "web"),
        "state": lambda ws: cat.checks_in_state(ws, "any"),
    }
    recorded = {}
    for name, read in reads.items():
        ws = WatchSet()
        read(ws)
        recorded[name] = ws.topics
    assert recorded == {
        "nodes": {watch.nodes()}, "node": {watch.node("n1")}, "node_services": {watch.node("n1")},
        "node_checks": {watch.node("n1")}, "services": {watch.services()},
        "health": {watch.service("web")}, "service_checks": {watch.service("web")},
        "state": {watch.check_state("any")},
    }
