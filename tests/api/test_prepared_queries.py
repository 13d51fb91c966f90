"""Prepared queries over real HTTP against a dev agent: Consul's JSON shapes, status codes and
texts for create/list/read/update/delete, execute (health, tags with `!tag`, OnlyPassing, Limit,
Near), explain, templates (name_prefix_match with `${name.*}` and RE2 `${match(N)}`), and
definitions surviving a snapshot round trip."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.agents import AgentProcess


def call(agent: AgentProcess, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    status, _, raw = agent.request(method, path, body)
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode()


def register(a: AgentProcess, node: str, addr: str, svc: str, sid: str, tags: list[str],
             status: str = "passing") -> None:
    body = {"Node": node, "Address": addr,
            "Service": {"ID": sid, "Service": svc, "Tags": tags, "Port": 80},
            "Check": {"CheckID": f"chk-{sid}", "Name": "c", "Status": status, "ServiceID": sid}}
    assert call(a, "PUT", "/v1/catalog/register", body)[0] == 200


@pytest.fixture(scope="module")
def a(shared_agent: AgentProcess) -> AgentProcess:
    register(shared_agent, "pq-n1", "10.1.0.1", "pqweb", "w1", ["v1", "primary"])
    register(shared_agent, "pq-n2", "10.1.0.2", "pqweb", "w2", ["v1"], "warning")
    register(shared_agent, "pq-n3", "10.1.0.3", "pqweb", "w3", ["v2"], "critical")
    register(shared_agent, "pq-n1", "10.1.0.1", "geo-db-eu", "g1", ["eu", "primary"])
    return shared_agent


def nodes_of(result: dict[str, Any]) -> list[str]:
    return sorted(e["Node"]["Node"] for e in result["Nodes"])


def test_create_read_list_update_delete(a: AgentProcess) -> None:
    status, body = call(a, "POST", "/v1/query", {"Name": "pq-crud", "Service": {"Service": "pqweb"},
                                                 "DNS": {"TTL": "10s"}})
    assert status == 200 and set(body) == {"ID"}
    qid = body["ID"]
    status, rows = call(a, "GET", f"/v1/query/{qid}")
    assert status == 200 and len(rows) == 1
    row = rows[0]
    assert row["ID"] == qid and row["Name"] == "pq-crud" and row["DNS"] == {"TTL": "10s"}
    assert row["Service"]["Service"] == "pqweb" and row["Service"]["OnlyPassing"] is False
    assert row["Service"]["Failover"] == {"NearestN": 0, "Datacenters": None, "Targets": None}
    assert row["Template"] == {"Type": "", "Regexp": "", "RemoveEmptyTags": False}
    assert row["CreateIndex"] == row["ModifyIndex"] > 0
    assert qid in [r["ID"] for r in call(a, "GET", "/v1/query")[1]]

    status, body = call(a, "PUT", f"/v1/query/{qid}", {"Name": "pq-crud", "Service": {"Service": "pqweb",
                                                                                      "OnlyPassing": True}})
    assert (status, body) == (200, "")
    row2 = call(a, "GET", f"/v1/query/{qid}")[1][0]
    assert row2["Service"]["OnlyPassing"] is True and row2["CreateIndex"] == row["CreateIndex"]
    assert row2["ModifyIndex"] > row["ModifyIndex"]

    assert call(a, "DELETE", f"/v1/query/{qid}") == (200, "")
    assert call(a, "GET", f"/v1/query/{qid}") == (404, "Query not found")
    assert call(a, "GET", f"/v1/query/{qid}/execute") == (404, "Query not found")


def test_bad_definitions_are_refused_with_consuls_text(a: AgentProcess) -> None:
    assert call(a, "POST", "/v1/query", {"Name": "pq-bad"}) == (400, "Must provide a Service name to query")
    assert call(a, "POST", "/v1/query", {"Service": {"Service": "x", "Failover": {"NearestN": -1}}}) == (
        400, "Bad NearestN '-1', must be >= 0")
    assert call(a, "POST", "/v1/query", {"Template": {"Type": "nope"}, "Service": {"Service": "x"}}) == (
        400, "Bad Template.Type 'nope'")
    status, text = call(a, "POST", "/v1/query", {"Template": {"Type": "name_prefix_match", "Regexp": "("},
                                                 "Service": {"Service": "x"}})
    assert status == 400 and text.startswith("Bad Regexp")
    assert call(a, "POST", "/v1/query", [1])[0] == 400
    assert call(a, "POST", "/v1/query", {"Session": "no-such", "Service": {"Service": "x"}}) == (
        400, 'invalid session "no-such"')
    assert call(a, "POST", "/v1/query", {"Name": "pq-dup", "Service": {"Service": "x"}})[0] == 200
    assert call(a, "POST", "/v1/query", {"Name": "pq-dup", "Service": {"Service": "y"}}) == (
        400, 'name "pq-dup" aliases an existing query name')
    assert call(a, "PUT", "/v1/query/9e3a1a53-0000-0000-0000-000000000000", {"Service": {"Service": "x"}}) == (
        400, "Cannot modify non-existent prepared query: '9e3a1a53-0000-0000-0000-000000000000'")
    assert call(a, "DELETE", "/v1/query/9e3a1a53-0000-0000-0000-000000000000")[0] == 400
    assert call(a, "GET", "/v1/query/x/execute?limit=abc")[0] == 400
    assert call(a, "GET", "/v1/query?dc=elsewhere") == (500, "No path to datacenter")


def test_execute_filters_health_and_tags(a: AgentProcess) -> None:
    qid = call(a, "POST", "/v1/query", {"Name": "pq-exec", "Service": {"Service": "pqweb"}})[1]["ID"]
    status, result = call(a, "GET", f"/v1/query/{qid}/execute")
    assert status == 200
    assert set(result) >= {"Service", "Nodes", "DNS", "Datacenter", "Failovers"}
    assert result["Service"] == "pqweb" and result["Datacenter"] == "dc1" and result["Failovers"] == 0
    assert nodes_of(result) == ["pq-n1", "pq-n2"]  # the critical instance is left out
    assert set(result["Nodes"][0]) == {"Node", "Service", "Checks"}
    by_name = call(a, "GET", "/v1/query/pq-exec/execute")[1]
    assert nodes_of(by_name) == ["pq-n1", "pq-n2"]
    assert len(call(a, "GET", "/v1/query/pq-exec/execute?limit=1")[1]["Nodes"]) == 1

    call(a, "POST", "/v1/query", {"Name": "pq-passing", "Service": {"Service": "pqweb", "OnlyPassing": True}})
    assert nodes_of(call(a, "GET", "/v1/query/pq-passing/execute")[1]) == ["pq-n1"]
    call(a, "POST", "/v1/query", {"Name": "pq-notprimary", "Service": {"Service": "pqweb", "Tags": ["V1", "!primary"]}})
    assert nodes_of(call(a, "GET", "/v1/query/pq-notprimary/execute")[1]) == ["pq-n2"]
    call(a, "POST", "/v1/query", {"Name": "pq-ignore", "Service": {"Service": "pqweb",
                                                                   "IgnoreCheckIDs": ["chk-w3"]}})
    assert nodes_of(call(a, "GET", "/v1/query/pq-ignore/execute")[1]) == ["pq-n1", "pq-n2", "pq-n3"]
    # Failover names datacenters this agent has no path to: accepted, skipped, still local.
    call(a, "POST", "/v1/query", {"Name": "pq-fail", "Service": {"Service": "pqweb", "Failover": {
        "NearestN": 2, "Datacenters": ["dc2", "dc3"]}}})
    result = call(a, "GET", "/v1/query/pq-fail/execute")[1]
    assert result["Failovers"] == 0 and nodes_of(result) == ["pq-n1", "pq-n2"]


def test_templates_render_the_name_asked(a: AgentProcess) -> None:
    body = {"Name": "geo-db-", "Template": {"Type": "name_prefix_match",
                                            "Regexp": "^geo-db-(.*?)-([^\\-]+?)$"},
            "Service": {"Service": "geo-db-${match(1)}", "Tags": ["${match(2)}"]}}
    assert call(a, "POST", "/v1/query", body)[0] == 200
    status, result = call(a, "GET", "/v1/query/geo-db-eu-primary/execute")
    assert status == 200 and result["Service"] == "geo-db-eu" and nodes_of(result) == ["pq-n1"]
    status, explained = call(a, "GET", "/v1/query/geo-db-eu-primary/explain")
    assert status == 200
    assert explained["Query"]["Service"]["Service"] == "geo-db-eu"
    assert explained["Query"]["Service"]["Tags"] == ["primary"]
    assert explained["Query"]["Name"] == "geo-db-"
    # ${name.suffix} with the longest matching prefix winning over an empty catch-all.
    call(a, "POST", "/v1/query", {"Name": "", "Template": {"Type": "name_prefix_match"},
                                  "Service": {"Service": "${name.full}"}})
    assert call(a, "GET", "/v1/query/pqweb/execute")[1]["Service"] == "pqweb"
    call(a, "POST", "/v1/query", {"Name": "pq-suffix-", "Template": {"Type": "name_prefix_match"},
                                  "Service": {"Service": "${name.suffix}"}})
    assert nodes_of(call(a, "GET", "/v1/query/pq-suffix-pqweb/execute")[1]) == ["pq-n1", "pq-n2"]
    call(a, "POST", "/v1/query", {"Name": "pq-badvar-", "Template": {"Type": "name_prefix_match"},
                                  "Service": {"Service": "${nope}"}})
    status, text = call(a, "GET", "/v1/query/pq-badvar-x/execute")
    assert status == 400 and "unknown variable" in text


def test_definitions_survive_snapshot_restore(a: AgentProcess) -> None:
    qid = call(a, "POST", "/v1/query", {"Name": "pq-snap", "Service": {"Service": "pqweb"}})[1]["ID"]
    status, _, snap = a.request("GET", "/v1/snapshot")
    assert status == 200
    assert call(a, "DELETE", f"/v1/query/{qid}")[0] == 200
    assert a.request("PUT", "/v1/snapshot", snap)[0] == 200
    assert call(a, "GET", f"/v1/query/{qid}")[1][0]["Name"] == "pq-snap"


def test_a_query_tied_to_a_session_ends_with_it(a: AgentProcess) -> None:
    sid = call(a, "PUT", "/v1/session/create", {"Name": "pq-sess"})[1]["ID"]
    qid = call(a, "POST", "/v1/query", {"Name": "pq-sess", "Session": sid, "Service": {"Service": "pqweb"}})[1]["ID"]
    assert call(a, "GET", f"/v1/query/{qid}")[1][0]["Session"] == sid
    assert call(a, "PUT", f"/v1/session/destroy/{sid}")[0] == 200
    assert call(a, "GET", f"/v1/query/{qid}") == (404, "Query not found")


def test_reading_an_unknown_query_with_a_filter_is_404_not_500(a: AgentProcess) -> None:
    status, _ = call(a, "GET", "/v1/query/no-such-query?filter=Name%20%3D%3D%20x")
    assert status == 404
