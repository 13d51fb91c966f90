"""The catalog follows gossip: reconcile commands applied to a real state store."""

from __future__ import annotations

from pyconsul.clock import FakeClock
from pyconsul.fsm.commands import Command, Register
from pyconsul.fsm.machine import StateMachine
from pyconsul.gossip.membership import Member
from pyconsul.gossip.reconcile import reconcile_all, reconcile_member
from pyconsul.state.store import StateStore


class Catalog:
    def __init__(self) -> None:
        self.store = StateStore(FakeClock())
        self.machine = StateMachine(self.store)
        self.index = 0

    def apply(self, cmds: list[Command]) -> int:
        for cmd in cmds:
            self.index += 1
            self.machine.apply_command(self.index, cmd)
        return len(cmds)

    def serf_status(self, node: str) -> str | None:
        checks = self.store.catalog.node_checks(None, node)[1]
        return next((c["Status"] for c in checks if c["CheckID"] == "serfHealth"), None)

    def passing_instances(self, service: str) -> list[str]:
        """Nodes `health/service/<name>?passing` would return."""
        rows = self.store.catalog.check_service_nodes(None, service)[1]
        return [r["Node"]["Node"] for r in rows if all(c["Status"] == "passing" for c in r["Checks"])]


def member(name: str, status: str, role: str = "node", addr: str = "10.0.0.8") -> Member:
    tags = {"role": role, "dc": "dc1", "id": f"id-{name}"}
    if role == "consul":
        tags["port"] = "8300"
    return Member(name, addr, 8301, tags, status)


def test_alive_member_is_registered_once_with_passing_serf_health() -> None:
    cat = Catalog()
    assert cat.apply(reconcile_member(member("c1", "alive"), cat.store.catalog, "dc1")) == 1
    assert cat.store.catalog.get_node(None, "c1")[1]["Address"] == "10.0.0.8"
    assert cat.serf_status("c1") == "passing"
    assert reconcile_member(member("c1", "alive"), cat.store.catalog, "dc1") == []  # already in agreement


def test_server_member_gets_the_consul_service() -> None:
    cat = Catalog()
    cat.apply(reconcile_member(member("s1", "alive", role="consul", addr="10.0.0.3"), cat.store.catalog, "dc1"))
    services = cat.store.catalog.node_services(None, "s1")[1]
    assert [(s["Service"], s["Port"]) for s in services] == [("consul", 8300)]


def test_failed_member_turns_critical_and_recovers_when_alive_again() -> None:
    cat = Catalog()
    cat.apply(reconcile_member(member("c1", "alive"), cat.store.catalog, "dc1"))
    cat.apply([Register(node={"Node": "c1", "Address": "10.0.0.8"}, skip_node_update=True,
                        service={"ID": "web1", "Service": "web", "Port": 80, "Tags": []})])
    assert cat.passing_instances("web") == ["c1"]
    cat.apply(reconcile_member(member("c1", "failed"), cat.store.catalog, "dc1"))
    assert cat.serf_status("c1") == "critical"
    assert cat.passing_instances("web") == []
    assert cat.store.catalog.get_node(None, "c1")[1] is not None  # still listed, just unhealthy
    assert reconcile_member(member("c1", "failed"), cat.store.catalog, "dc1") == []
    cat.apply(reconcile_member(member("c1", "alive"), cat.store.catalog, "dc1"))
    assert cat.serf_status("c1") == "passing"
    assert cat.passing_instances("web") == ["c1"]


def test_left_member_is_deregistered_and_unknown_serf_nodes_are_reaped() -> None:
    cat = Catalog()
    for name in ("c1", "c2", "s1"):
        cat.apply(reconcile_member(member(name, "alive"), cat.store.catalog, "dc1"))
    cat.apply(reconcile_member(member("c1", "left"), cat.store.catalog, "dc1"))
    assert cat.store.catalog.get_node(None, "c1")[1] is None
    # c2 was reaped from gossip: only s1 remains a member
    cat.apply(reconcile_all([member("s1", "alive")], cat.store.catalog, "dc1", local_node="s1"))
    assert [n["Node"] for n in cat.store.catalog.nodes(None)[1]] == ["s1"]


def test_members_of_another_datacenter_are_left_alone() -> None:
    cat = Catalog()
    other = Member("w1", "10.1.0.1", 8302, {"role": "consul", "dc": "dc2", "port": "8300"}, "alive")
    assert reconcile_member(other, cat.store.catalog, "dc1") == []
