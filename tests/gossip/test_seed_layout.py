"""Seed 001's layout as real processes: 3 servers and 2 clients on 127.0.0.1-.5.

`consul members` on any agent lists all five with Consul's columns; a client killed with -9 shows
as failed everywhere (and as left after `force-leave`), one that leaves shows as left.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.agents import AgentProcess, start_agent
from tests.support.ports import free_port
from tests.support.wait import wait_until

HOSTS = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]
# Faster than Consul's LAN defaults so failure detection fits a test; same protocol.
FAST_GOSSIP = {"gossip_lan": {"probe_interval": "200ms", "probe_timeout": "100ms", "gossip_interval": "50ms",
                              "suspicion_mult": 4}}


def members_cli(agent: AgentProcess, *flags: str) -> tuple[int, list[list[str]]]:
    proc = subprocess.run([sys.executable, "-m", "pyconsul", "members", "-http-addr", agent.http_addr, *flags],
                          capture_output=True, text=True, timeout=30)
    return proc.returncode, [line.split() for line in proc.stdout.splitlines()]


def statuses(agent: AgentProcess) -> dict[str, int]:
    try:
        return {m["Name"]: m["Status"] for m in agent.get_json("/v1/agent/members")}
    except (OSError, AssertionError, json.JSONDecodeError):
        return {}


@pytest.fixture
def layout(tmp_path: Path) -> Iterator[dict[str, AgentProcess]]:
    # Every agent uses the same serf and server ports, as the seed's machines all use 8301/8300;
    # an allocated port is free on every address.
    serf, server = free_port(), free_port()
    ports = {h: {"http": free_port(), "dns": free_port(), "server": server, "serf_lan": serf}
             for h in HOSTS}
    servers = [f"{h}:{ports[h]['serf_lan']}" for h in HOSTS[:3]]
    conf = tmp_path / "gossip.json"
    conf.write_text(json.dumps(FAST_GOSSIP))
    agents: dict[str, AgentProcess] = {}
    try:
        for i, host in enumerate(HOSTS):
            role = ["-server", "-bootstrap-expect", "3"] if i < 3 else []
            joins = [a for s in servers if not s.startswith(host + ":") for a in ("-retry-join", s)]
            agents[host] = start_agent(
                tmp_path / host, *role, *joins, "-retry-interval", "1s", "-data-dir", str(tmp_path / host / "data"),
                "-config-file", str(conf), dev=False, name=host, host=host, ports=ports[host], wait=False)
        for a in agents.values():
            a.wait_ready(need_leader=False)
        yield agents
    finally:
        for a in agents.values():
            a.stop()


def test_members_lists_the_five_machines_and_follows_failure_and_leave(layout: dict[str, AgentProcess]) -> None:
    everyone = dict.fromkeys(HOSTS, 1)
    assert wait_until(lambda: all(statuses(a) == everyone for a in layout.values()), 30), {
        h: statuses(a) for h, a in layout.items()}

    rc, rows = members_cli(layout["127.0.0.4"])
    assert rc == 0
    assert rows[0] == ["Node", "Address", "Status", "Type", "Build", "Protocol", "DC", "Partition", "Segment"]
    assert [(r[0], r[1].split(":")[0], r[2], r[3], r[5], r[6], r[7], r[8]) for r in rows[1:]] == [
        (h, h, "alive", "server" if i < 3 else "client", "2", "dc1", "default", "<all>" if i < 3 else "<default>")
        for i, h in enumerate(HOSTS)]
    assert rows[1][1] == f"127.0.0.1:{layout['127.0.0.1'].serf_lan_port}"

    layout["127.0.0.5"].kill9()
    failed = {**everyone, "127.0.0.5": 4}
    assert wait_until(lambda: all(statuses(layout[h]) == failed for h in HOSTS[:4]), 30)
    only_failed = [["127.0.0.5", f"127.0.0.5:{layout['127.0.0.5'].serf_lan_port}", "failed"]]
    assert wait_until(lambda: [r[:3] for r in members_cli(layout["127.0.0.1"], "-status", "failed")[1][1:]] == only_failed, 10)

    # force-leave turns the failed client into "left" on every member
    proc = subprocess.run([sys.executable, "-m", "pyconsul", "force-leave", "-http-addr", layout["127.0.0.2"].http_addr,
                           "127.0.0.5"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    forced = {**everyone, "127.0.0.5": 3}
    assert wait_until(lambda: all(statuses(layout[h]) == forced for h in HOSTS[:4]), 30)

    assert layout["127.0.0.4"].request("PUT", "/v1/agent/leave")[0] == 200
    left = {**forced, "127.0.0.4": 3}
    assert wait_until(lambda: all(statuses(layout[h]) == left for h in HOSTS[:3]), 30)
    assert wait_until(lambda: [r[0] for r in members_cli(layout["127.0.0.2"], "-status", "alive")[1][1:]] == HOSTS[:3], 10)


def test_client_keeps_serving_through_the_loss_of_a_server(layout: dict[str, AgentProcess]) -> None:
    everyone = dict.fromkeys(HOSTS, 1)
    assert wait_until(lambda: all(statuses(a) == everyone for a in layout.values()), 30)
    client = layout["127.0.0.4"]
    status, _, body = client.request("PUT", "/v1/agent/service/register", {"Name": "mysql", "Port": 3306})
    assert status == 200, body

    def in_catalog(via: AgentProcess) -> bool:
        status, _, body = via.request("GET", "/v1/catalog/service/mysql")
        return status == 200 and [s["Node"] for s in json.loads(body)] == ["127.0.0.4"]

    assert wait_until(lambda: in_catalog(client), 30)
    leader = layout["127.0.0.1"].get_json("/v1/status/leader")
    victim = next(h for h in HOSTS[:3] if leader.startswith(h + ":"))
    layout[victim].kill9()
    # The client's own view keeps working, reads fail over to a live server, and once the two
    # remaining servers elect a leader, writes through the client work again.
    assert "mysql" in {s["Service"] for s in client.get_json("/v1/agent/services").values()}
    assert wait_until(lambda: in_catalog(client), 30)
    assert wait_until(lambda: client.request("PUT", "/v1/kv/after-failover", b"ok")[0] == 200, 30)
    other = next(h for h in HOSTS[:3] if h != victim)
    assert wait_until(lambda: in_catalog(layout[other]), 30)
