"""Client agents as real processes: they join through gossip, forward reads and writes to the
server, keep their services in the catalog while they live, and drop out when they fail or leave."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.agents import AgentProcess, start_agent
from tests.support.ports import loopback
from tests.support.wait import wait_until

# This worker's own addresses, so parallel runs of this test cannot meet.
SERVER_HOST, CLIENT_HOST = loopback(31), loopback(32)


def _serf_status(agent: AgentProcess, node: str) -> str:
    status, _, body = agent.request("GET", f"/v1/health/node/{node}")
    checks = json.loads(body) if status == 200 else []
    return next((c["Status"] for c in checks if c["CheckID"] == "serfHealth"), "")


def test_client_joins_forwards_and_fails_over_to_critical(tmp_path: Path) -> None:
    server = start_agent(tmp_path / "s", "-server", "-bootstrap", "-data-dir", str(tmp_path / "s" / "data"),
                         dev=False, name="srv", host=SERVER_HOST)
    join = f"{SERVER_HOST}:{server.serf_lan_port}"
    client_args = ("-data-dir", str(tmp_path / "c" / "data"), "-retry-join", join, "-retry-interval", "1s")
    client = start_agent(tmp_path / "c", *client_args, dev=False, name="cli", host=CLIENT_HOST)
    try:
        # Membership: both agents see both members, with the right roles.
        def both_alive() -> bool:
            members = client.get_json("/v1/agent/members")
            return sorted((m["Name"], m["Tags"]["role"], m["Status"]) for m in members) == [
                ("cli", "node", 1), ("srv", "consul", 1)]
        assert wait_until(both_alive, 10)
        # A service registered on the client reaches the catalog on the server.
        status, _, body = client.request("PUT", "/v1/agent/service/register", {"Name": "edge", "Port": 4444})
        assert status == 200, body
        assert wait_until(lambda: server.get_json("/v1/catalog/service/edge") != [], 5)
        assert wait_until(lambda: _serf_status(server, "cli") == "passing", 10)
        # Reads and writes through the client are answered by the server.
        assert client.request("PUT", "/v1/kv/from-client", b"v")[0] == 200
        assert server.request("GET", "/v1/kv/from-client?raw")[2] == b"v"
        assert client.get_json("/v1/catalog/service/edge")[0]["ServicePort"] == 4444
        # kill -9 the client: its node goes critical, so its service leaves healthy answers.
        client.kill9()
        assert wait_until(lambda: _serf_status(server, "cli") == "critical", 20)
        assert server.get_json("/v1/health/service/edge?passing") == []
        # Restarted, it is healthy again with its service.
        client.restart()  # same ports, data dir and flags
        assert wait_until(lambda: len(server.get_json("/v1/health/service/edge?passing")) == 1, 20)
        # A graceful leave removes the node and its services from the catalog.
        assert client.request("PUT", "/v1/agent/leave")[0] == 200
        assert wait_until(lambda: server.get_json("/v1/catalog/service/edge") == [], 15)
        members = {m["Name"]: m["Status"] for m in server.get_json("/v1/agent/members")}
        assert members["cli"] == 3  # left
    finally:
        client.stop()
        server.stop()
