"""Membership against a 3-agent cluster on 127.0.0.1-3 (one server, two clients), as Consul's own
client harnesses run it: a killed member moves from failed to left, a live member that is
force-left shows `leaving` until it refutes and is alive again, agent/self's Member is the agent's
own agent/members entry, and ?wan lists the servers as <node>.<dc>."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.agents import AgentProcess, start_agent

ALIVE, LEAVING, LEFT, FAILED = 1, 2, 3, 4


def statuses(agent: AgentProcess) -> dict[str, int]:
    return {m["Name"]: m["Status"] for m in agent.get_json("/v1/agent/members")}


def wait_for(what: str, probe: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[AgentProcess]]:
    server = start_agent(tmp_path / "n1", "-server", "-bootstrap", "-data-dir", str(tmp_path / "n1/data"),
                         host="127.0.0.1", dev=False, name="node1")
    agents = [server]
    try:
        join = f"127.0.0.1:{server.serf_lan_port}"
        for i in (2, 3):
            agents.append(start_agent(tmp_path / f"n{i}", "-data-dir", str(tmp_path / f"n{i}/data"),
                                      "-retry-join", join, host=f"127.0.0.{i}", dev=False, name=f"node{i}"))
        wait_for("three alive members", lambda: statuses(server) == {"node1": ALIVE, "node2": ALIVE, "node3": ALIVE})
        yield agents
    finally:
        for a in agents:
            a.stop()


def test_force_leave_of_a_killed_node_makes_it_left(cluster: list[AgentProcess]) -> None:
    server, node2, node3 = cluster
    node3.kill9()
    wait_for("node3 failed", lambda: statuses(server)["node3"] == FAILED)
    status, _, body = server.request("PUT", "/v1/agent/force-leave/node3")
    assert status == 200, body
    # Consul marks a failed member left at once on the agent that forces it, and the intent spreads.
    assert statuses(server)["node3"] == LEFT
    wait_for("node2 sees node3 left", lambda: statuses(node2).get("node3") == LEFT, timeout=10)
    assert statuses(server)["node3"] == LEFT


def test_force_leave_of_a_live_node_shows_leaving_until_it_refutes(cluster: list[AgentProcess]) -> None:
    server, node2, _ = cluster
    # Paused, node2 cannot refute yet: what the others show meanwhile does not race its answer.
    node2.signal(signal.SIGSTOP)
    try:
        status, _, body = server.request("PUT", "/v1/agent/force-leave/node2")
        assert status == 200, body
        assert statuses(server)["node2"] == LEAVING
    finally:
        node2.signal(signal.SIGCONT)
    wait_for("node2 alive again", lambda: statuses(server)["node2"] == ALIVE, timeout=15)
    assert node2.alive()


def test_self_member_and_wan_members(cluster: list[AgentProcess]) -> None:
    server, node2, _ = cluster
    for agent in (server, node2):
        me = agent.get_json("/v1/agent/self")["Member"]
        entry = next(m for m in agent.get_json("/v1/agent/members") if m["Name"] == me["Name"])
        assert me == entry
    # The WAN pool: servers only, as <node>.<dc>, on the WAN gossip port.
    wan = server.get_json("/v1/agent/members?wan")
    assert [(m["Name"], m["Addr"], m["Status"], m["Tags"]["role"]) for m in wan] == [
        ("node1.dc1", "127.0.0.1", ALIVE, "consul")]
    lan_tags = server.get_json("/v1/agent/self")["Member"]["Tags"]
    assert wan[0]["Port"] == int(lan_tags["wan_join_port"]) and "wan_join_port" not in wan[0]["Tags"]
    assert node2.get_json("/v1/agent/members?wan=true") == []
