"""Operator and agent-extra endpoints over real HTTP: Consul's status codes, bodies and errors."""

from __future__ import annotations

import json
from typing import Any

from tests.support.agents import AgentProcess
from tests.support.wait import wait_until


def call(agent: AgentProcess, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    status, _, raw = agent.request(method, path, body)
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode()


def test_local_service_health_follows_its_checks(shared_agent: AgentProcess) -> None:
    a = shared_agent
    assert call(a, "PUT", "/v1/agent/service/register",
                {"Name": "lb", "ID": "lb1", "Check": {"CheckID": "lb-ttl", "TTL": "30s"}})[0] == 200
    assert call(a, "PUT", "/v1/agent/service/register", {"Name": "lb", "ID": "lb2"})[0] == 200
    status, body = call(a, "GET", "/v1/agent/health/service/id/lb1")
    assert status == 503 and body["AggregatedStatus"] == "critical"  # a new TTL check starts critical
    assert body["Service"]["ID"] == "lb1" and [c["CheckID"] for c in body["Checks"]] == ["lb-ttl"]
    for verb, code, text in (("warn", 429, "warning"), ("pass", 200, "passing")):
        call(a, "PUT", f"/v1/agent/check/{verb}/lb-ttl")
        assert call(a, "GET", "/v1/agent/health/service/id/lb1")[0] == code
        assert call(a, "GET", "/v1/agent/health/service/id/lb1?format=text") == (code, text)
    # By name: every instance, the status code of the worst one.
    status, rows = call(a, "GET", "/v1/agent/health/service/name/lb")
    assert status == 200 and [r["Service"]["ID"] for r in rows] == ["lb1", "lb2"]
    call(a, "PUT", "/v1/agent/service/maintenance/lb2?enable=true")
    status, rows = call(a, "GET", "/v1/agent/health/service/name/lb")
    assert status == 503 and [r["AggregatedStatus"] for r in rows] == ["passing", "maintenance"]
    assert call(a, "GET", "/v1/agent/health/service/id/nope") == (
        404, {"AggregatedStatus": "critical", "Service": None, "Checks": None})
    assert call(a, "GET", "/v1/agent/health/service/id/nope?format=text") == (404, "ServiceId nope not found")
    assert call(a, "GET", "/v1/agent/health/service/name/nope") == (404, [])
    assert call(a, "GET", "/v1/agent/health/service/name/nope?format=text") == (404, "ServiceName nope Not Found")


def test_agent_version_and_tokens(shared_agent: AgentProcess) -> None:
    status, body = call(shared_agent, "GET", "/v1/agent/version")
    assert status == 200 and set(body) == {"SHA", "BuildDate", "HumanVersion", "FIPS"}
    assert body["HumanVersion"] == call(shared_agent, "GET", "/v1/agent/self")[1]["Config"]["Version"]
    assert call(shared_agent, "PUT", "/v1/agent/token/default", {"Token": "x"}) == (401, "ACL support disabled")


def test_autopilot_configuration_put_replaces_the_whole_config(shared_agent: AgentProcess) -> None:
    a = shared_agent
    assert call(a, "PUT", "/v1/operator/autopilot/configuration", {"MaxTrailingLogs": 9}) == (200, True)
    _, cfg = call(a, "GET", "/v1/operator/autopilot/configuration")
    # Fields left out of the body take Go's zero values, as in Consul.
    assert (cfg["MaxTrailingLogs"], cfg["CleanupDeadServers"], cfg["LastContactThreshold"]) == (9, False, "0s")
    assert call(a, "PUT", "/v1/operator/autopilot/configuration?cas=1", {"MaxTrailingLogs": 1}) == (200, False)
    assert call(a, "PUT", f"/v1/operator/autopilot/configuration?cas={cfg['ModifyIndex']}",
                {"MaxTrailingLogs": 2, "LastContactThreshold": 1_500_000_000}) == (200, True)
    assert call(a, "GET", "/v1/operator/autopilot/configuration")[1]["LastContactThreshold"] == "1.5s"
    # Out of Go's ranges (uint64 counts, int64 nanoseconds) is a 400 like any other bad field.
    for bad in ({"MaxTrailingLogs": "x"}, {"LastContactThreshold": "soon"}, [1], {"MaxTrailingLogs": 2**64},
                {"MinQuorum": -1}, {"LastContactThreshold": 10**30}):
        status, text = call(a, "PUT", "/v1/operator/autopilot/configuration", bad)
        assert status == 400 and text.startswith("Error parsing autopilot config"), (bad, text)
    assert call(a, "PUT", "/v1/operator/autopilot/configuration?cas=x", {})[0] == 400
    assert call(a, "PUT", f"/v1/operator/autopilot/configuration?cas={2**64}", {}) == (
        400, f'Error parsing cas value: strconv.ParseUint: parsing "{2**64}": value out of range')
    assert call(a, "PUT", "/v1/operator/autopilot/configuration?cas=-1", {})[0] == 400


def test_operator_reads_on_a_single_server(shared_agent: AgentProcess) -> None:
    a = shared_agent
    status, health = wait_until(lambda: (got := call(a, "GET", "/v1/operator/autopilot/health"))[0] == 200 and got,
                                what="a healthy autopilot view")
    assert status == 200 and health["Healthy"] and len(health["Servers"]) == 1
    _, state = call(a, "GET", "/v1/operator/autopilot/state")
    assert state["Voters"] == [state["Leader"]] and state["Servers"][state["Leader"]]["Status"] == "leader"
    status, usage = call(a, "GET", "/v1/operator/usage")
    assert status == 200 and usage["Usage"]["dc1"]["Nodes"] == 1 and usage["KnownLeader"] is True
    assert call(a, "POST", "/v1/operator/raft/transfer-leader") == (500, "cannot find peer")
    assert call(a, "GET", "/v1/operator/keyring") == (500, "Keyring is empty (encryption not enabled)")
