"""Network coordinates over real HTTP and the CLI: Consul's JSON shapes for /v1/coordinate/*,
`?near=` ordering on catalog and health reads and in prepared queries, and `pyconsul rtt`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.agents import AgentProcess, start_agent
from tests.support.ports import loopbacks
from tests.support.wait import wait_until

ROOT = Path(__file__).resolve().parents[2]


def call(agent: AgentProcess, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    status, _, raw = agent.request(method, path, body)
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode()


def at(x: float) -> dict[str, Any]:
    """A coordinate x seconds from the origin along the first axis."""
    return {"Vec": [x] + [0.0] * 7, "Error": 0.2, "Adjustment": 0.0, "Height": 1e-5}


def self_name(a: AgentProcess) -> str:
    return str(call(a, "GET", "/v1/agent/self")[1]["Config"]["NodeName"])


@pytest.fixture(scope="module")
def a(shared_agent: AgentProcess) -> AgentProcess:
    me = self_name(shared_agent)
    # The agent lists itself at the origin soon after start, as Consul's does.
    assert wait_until(lambda: any(r["Node"] == me for r in call(shared_agent, "GET", "/v1/coordinate/nodes")[1]))
    for i, x in ((1, 0.050), (2, 0.010), (3, 0.030)):
        body = {"Node": f"co-n{i}", "Address": f"10.3.0.{i}",
                "Service": {"ID": "cweb", "Service": "cweb", "Port": 80},
                "Check": {"CheckID": "cweb-ok", "Name": "ok", "Status": "passing", "ServiceID": "cweb"}}
        assert call(shared_agent, "PUT", "/v1/catalog/register", body)[0] == 200
        assert call(shared_agent, "PUT", "/v1/coordinate/update", {"Node": f"co-n{i}", "Coord": at(x)}) == (200, "")
    assert call(shared_agent, "PUT", "/v1/coordinate/update", {"Node": me, "Coord": at(0.0)})[0] == 200
    return shared_agent


def test_coordinate_reads_have_consuls_shapes(a: AgentProcess) -> None:
    status, headers, raw = a.request("GET", "/v1/coordinate/nodes")
    assert status == 200 and int(headers["X-Consul-Index"]) > 0
    rows = {r["Node"]: r for r in json.loads(raw)}
    assert set(rows["co-n1"]) == {"Node", "Segment", "Coord"} and rows["co-n1"]["Segment"] == ""
    assert set(rows["co-n1"]["Coord"]) == {"Vec", "Error", "Adjustment", "Height"}
    assert rows["co-n1"]["Coord"]["Vec"][0] == 0.050
    assert call(a, "GET", "/v1/coordinate/node/co-n2")[1] == [{"Node": "co-n2", "Segment": "", "Coord": at(0.010)}]
    assert call(a, "GET", "/v1/coordinate/node/nobody") == (404, "")
    [dc] = call(a, "GET", "/v1/coordinate/datacenters")[1]
    assert dc["Datacenter"] == "dc1" and dc["AreaID"] == "wan"
    assert [c["Node"] for c in dc["Coordinates"]] == [f"{self_name(a)}.dc1"]


def test_bad_updates_are_refused(a: AgentProcess) -> None:
    assert call(a, "PUT", "/v1/coordinate/update", {"Node": "co-n1", "Coord": {"Vec": [1.0]}}) == (
        400, "invalid coordinate")
    assert call(a, "PUT", "/v1/coordinate/update", {"Node": "co-n1", "Coord": {**at(0), "Error": "x"}})[0] == 400
    assert call(a, "PUT", "/v1/coordinate/update", [1])[0] == 400
    assert call(a, "PUT", "/v1/coordinate/update", None)[0] == 400
    # A node the catalog does not know is skipped, as in Consul.
    assert call(a, "PUT", "/v1/coordinate/update", {"Node": "co-ghost", "Coord": at(0.1)})[0] == 200
    assert call(a, "GET", "/v1/coordinate/node/co-ghost")[0] == 404


def test_near_orders_catalog_and_health_reads(a: AgentProcess) -> None:
    nearest_first = ["co-n2", "co-n3", "co-n1"]
    rows = call(a, "GET", "/v1/catalog/service/cweb?near=_agent")[1]
    assert [r["Node"] for r in rows] == nearest_first
    rows = call(a, "GET", "/v1/health/service/cweb?near=_agent")[1]
    assert [r["Node"]["Node"] for r in rows] == nearest_first
    rows = call(a, "GET", "/v1/health/checks/cweb?near=co-n1")[1]
    assert [r["Node"] for r in rows] == ["co-n1", "co-n3", "co-n2"]
    names = [r["Node"] for r in call(a, "GET", "/v1/catalog/nodes?near=co-n1")[1]]
    assert names[:3] == ["co-n1", "co-n3", "co-n2"]
    # No coordinate for the source: Consul's order (by name) is kept.
    rows = call(a, "GET", "/v1/catalog/service/cweb?near=co-nobody")[1]
    assert [r["Node"] for r in rows] == ["co-n1", "co-n2", "co-n3"]


def test_prepared_query_near(a: AgentProcess) -> None:
    assert call(a, "POST", "/v1/query", {"Name": "co-near", "Service": {"Service": "cweb", "Near": "_agent"}})[0] == 200
    for _ in range(5):  # shuffled first, then sorted: the order is the same every time
        result = call(a, "GET", "/v1/query/co-near/execute")[1]
        assert [e["Node"]["Node"] for e in result["Nodes"]] == ["co-n2", "co-n3", "co-n1"]
    result = call(a, "GET", "/v1/query/co-near/execute?near=co-n1&limit=2")[1]
    assert [e["Node"]["Node"] for e in result["Nodes"]] == ["co-n1", "co-n3"]


def rtt_cli(a: AgentProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CONSUL_HTTP_ADDR": a.http_addr}
    return subprocess.run([sys.executable, "-m", "pyconsul", "rtt", *args], capture_output=True, text=True,
                          env=env, timeout=30)


def test_rtt_command(a: AgentProcess) -> None:
    out = rtt_cli(a, "co-n1", "co-n2")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "Estimated co-n1 <-> co-n2 rtt: 40.020 ms (using LAN coordinates)"
    out = rtt_cli(a, "co-n3")  # the second node is the agent's own
    assert out.stdout.strip() == f"Estimated co-n3 <-> {self_name(a)} rtt: 30.020 ms (using LAN coordinates)"
    out = rtt_cli(a, "nobody")
    assert out.returncode == 1 and 'Could not find a coordinate for node "nobody"' in out.stderr
    out = rtt_cli(a)
    assert out.returncode == 1 and "One or two node names must be specified" in out.stderr
    out = rtt_cli(a, "a", "b", "c")
    assert out.returncode == 1 and "Too many node names specified" in out.stderr


def test_joined_agents_learn_coordinates_from_gossip_probes(tmp_path: Path) -> None:
    """Two real agents: each sends its coordinate; the probe RTTs between them move it off the
    origin (Error drops below the 1.5 every node starts with)."""
    server_host, client_host = loopbacks(2, first=51)
    server = start_agent(tmp_path / "s", "-server", "-bootstrap", "-data-dir", str(tmp_path / "s" / "data"),
                         dev=False, name="co-s", host=server_host)
    try:
        client = start_agent(tmp_path / "c", "-data-dir", str(tmp_path / "c" / "data"), "-retry-join",
                             f"{server_host}:{server.serf_lan_port}", "-retry-interval", "1s", dev=False,
                             name="co-c", host=client_host)
        try:
            def learned() -> bool:
                rows = {r["Node"]: r["Coord"] for r in call(server, "GET", "/v1/coordinate/nodes")[1]}
                return set(rows) >= {"co-s", "co-c"} and all(c["Error"] < 1.5 for c in rows.values())

            assert wait_until(learned, timeout=60), call(server, "GET", "/v1/coordinate/nodes")
        finally:
            client.stop()
    finally:
        server.stop()
