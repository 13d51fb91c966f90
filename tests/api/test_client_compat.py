"""Differences real clients hit, each against a real agent and Consul's documented answer: check
durations as numbers, tagged-address and locality spelling, empty KV values, unknown datacenters
and peers, and ?filter on the catalog's node reads."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyconsul.api.validate import go_duration_text
from tests.support.agents import AgentProcess

NS = 1_000_000_000


def put(agent: AgentProcess, path: str, body: Any) -> tuple[int, bytes]:
    status, _, data = agent.request("PUT", path, body)
    return status, data


# ---- 2. durations as numbers (Go clients marshal time.Duration as nanoseconds)

def test_check_durations_given_as_nanoseconds(shared_agent: AgentProcess) -> None:
    status, body = put(shared_agent, "/v1/agent/check/register", {
        "Name": "ns-ttl", "TTL": 15 * NS, "DeregisterCriticalServiceAfter": 90 * NS,
    })
    assert status == 200, body
    status, body = put(shared_agent, "/v1/agent/service/register", {
        "Name": "ns-svc", "Port": 1,
        "Check": {"TCP": "127.0.0.1:1", "Interval": 10 * NS, "Timeout": 1_500_000_000},
    })
    assert status == 200, body
    checks = shared_agent.get_json("/v1/agent/checks")
    assert checks["ns-ttl"]["Type"] == "ttl"
    tcp = checks["service:ns-svc"]
    assert (tcp["Interval"], tcp["Timeout"]) == ("10s", "1.5s")
    # A zero number is still "no interval": Consul's validation text, not a decode error.
    status, body = put(shared_agent, "/v1/agent/check/register",
                       {"Name": "ns-zero", "TCP": "127.0.0.1:1", "Interval": 0})
    assert status == 400 and b"Interval must be > 0" in body


@given(st.integers(min_value=-(2**62), max_value=2**62))
@settings(max_examples=300, deadline=None)
def test_go_duration_text_parses_back_to_the_same_nanoseconds(ns: int) -> None:
    from pyconsul.durations import parse_duration

    text = go_duration_text(ns)
    assert abs(parse_duration(text) * NS - ns) <= max(1, abs(ns) * 1e-15)


def test_go_duration_text_matches_go() -> None:
    assert [go_duration_text(n) for n in (0, 1, 1500, 2_000_000, 90 * NS, 3600 * NS, 3723 * NS + 1, -NS)] == [
        "0s", "1ns", "1.5µs", "2ms", "1m30s", "1h0m0s", "1h2m3.000000001s", "-1s"]


# ---- 3. tagged addresses in Consul's spelling; services keep their Locality

def test_tagged_addresses_are_normalised_and_locality_kept(shared_agent: AgentProcess) -> None:
    status, body = put(shared_agent, "/v1/agent/service/register", {
        "Name": "tagged", "Port": 80,
        "TaggedAddresses": {"lan": {"address": "10.0.0.1", "port": 81}, "wan": {"Address": "1.2.3.4", "PORT": 82}},
        "Locality": {"region": "eu-west", "Zone": "a"},
    })
    assert status == 200, body
    want = {"lan": {"Address": "10.0.0.1", "Port": 81}, "wan": {"Address": "1.2.3.4", "Port": 82}}
    locality = {"Region": "eu-west", "Zone": "a"}
    svc = shared_agent.get_json("/v1/agent/services")["tagged"]
    assert svc["TaggedAddresses"] == want and svc["Locality"] == locality
    assert shared_agent.get_json("/v1/agent/service/tagged")["Locality"] == locality
    # The catalog sees it once anti-entropy has synced (dev agents register synchronously).
    inst = shared_agent.get_json("/v1/catalog/service/tagged")
    assert inst[0]["ServiceTaggedAddresses"] == want and inst[0]["ServiceLocality"] == locality
    health = shared_agent.get_json("/v1/health/service/tagged")
    assert health[0]["Service"]["Locality"] == locality
    # Without a Locality there is none in the answer (Consul omits the empty pointer).
    put(shared_agent, "/v1/agent/service/register", {"Name": "plain", "Port": 80})
    assert "Locality" not in shared_agent.get_json("/v1/agent/services")["plain"]
    assert "ServiceLocality" not in shared_agent.get_json("/v1/catalog/service/plain")[0]


def test_tagged_address_of_the_wrong_type_is_a_decode_error(shared_agent: AgentProcess) -> None:
    status, body = put(shared_agent, "/v1/agent/service/register",
                       {"Name": "badtag", "TaggedAddresses": {"lan": "10.0.0.1"}})
    assert status == 400 and body.startswith(b"Request decode failed: json: cannot unmarshal string")


# ---- 4. an empty PUT body is no value

def test_empty_kv_value_reads_back_null(shared_agent: AgentProcess) -> None:
    status, body = put(shared_agent, "/v1/kv/empty/a", b"")
    assert (status, body) == (200, b"true")
    put(shared_agent, "/v1/kv/empty/b", b"x")
    [row] = shared_agent.get_json("/v1/kv/empty/a")
    assert row["Value"] is None
    rows = shared_agent.get_json("/v1/kv/empty/?recurse")
    assert [(r["Key"], r["Value"]) for r in rows] == [("empty/a", None), ("empty/b", "eA==")]
    status, headers, raw = shared_agent.request("GET", "/v1/kv/empty/a?raw")
    assert (status, raw) == (200, b"")


# ---- 5. an unknown ?dc= is Consul's RPC error on every endpoint that takes dc

DC_GETS = [
    "/v1/catalog/nodes", "/v1/catalog/services", "/v1/catalog/service/consul", "/v1/catalog/node/x",
    "/v1/catalog/node-services/x", "/v1/health/node/x", "/v1/health/checks/x", "/v1/health/service/x",
    "/v1/health/state/any", "/v1/kv/x", "/v1/kv/?recurse", "/v1/session/list", "/v1/session/info/x",
    "/v1/session/node/x", "/v1/status/leader", "/v1/status/peers", "/v1/coordinate/nodes",
    "/v1/operator/raft/configuration",
]


@pytest.mark.parametrize("path", DC_GETS)
def test_unknown_dc_on_reads(shared_agent: AgentProcess, path: str) -> None:
    sep = "&" if "?" in path else "?"
    status, _, body = shared_agent.request("GET", f"{path}{sep}dc=nowhere")
    assert (status, body) == (500, b"No path to datacenter")


def test_unknown_dc_on_writes_and_in_bodies(shared_agent: AgentProcess) -> None:
    node = {"Node": "dcnode", "Address": "10.9.9.9"}
    for path, body in [
        ("/v1/catalog/register?dc=nowhere", node), ("/v1/catalog/deregister?dc=nowhere", {"Node": "dcnode"}),
        ("/v1/kv/dc-key?dc=nowhere", b"v"), ("/v1/txn?dc=nowhere", []), ("/v1/session/create?dc=nowhere", {}),
        ("/v1/event/fire/dc-ev?dc=nowhere", b""),
        # Consul takes a body's Datacenter when the query names none.
        ("/v1/catalog/register", {**node, "Datacenter": "nowhere"}),
        ("/v1/catalog/deregister", {"Node": "dcnode", "Datacenter": "nowhere"}),
    ]:
        status, data = put(shared_agent, path, body)
        assert (status, data) == (500, b"No path to datacenter"), path
    assert shared_agent.get_json("/v1/catalog/node/dcnode") is None
    assert shared_agent.request("GET", "/v1/kv/dc-key")[0] == 404
    # Our own datacenter, by query or body, is the local answer.
    assert put(shared_agent, "/v1/catalog/register?dc=dc1", {**node, "Datacenter": "dc1"}) == (200, b"true")
    assert shared_agent.get_json("/v1/catalog/node/dcnode?dc=dc1")["Node"]["Address"] == "10.9.9.9"


def test_agent_endpoints_ignore_dc(shared_agent: AgentProcess) -> None:
    """The agent endpoints answer for this agent; Consul reads no dc there."""
    for path in ("/v1/agent/self", "/v1/agent/members", "/v1/agent/services", "/v1/agent/checks",
                 "/v1/catalog/datacenters", "/v1/event/list"):
        status, _, body = shared_agent.request("GET", path + "?dc=nowhere")
        assert status == 200, (path, body)


# ---- 7. ?peer= names a cluster peer; there are none, so nothing local leaks out

@pytest.mark.parametrize("path,empty", [
    ("/v1/catalog/nodes", []), ("/v1/catalog/services", {}), ("/v1/catalog/service/consul", []),
    ("/v1/catalog/node/{node}", None), ("/v1/catalog/node-services/{node}", None),
    ("/v1/health/node/{node}", []), ("/v1/health/checks/peer-svc", []), ("/v1/health/service/peer-svc", []),
    ("/v1/health/state/any", []),
])
def test_unknown_peer_sees_no_local_data(shared_agent: AgentProcess, path: str, empty: Any) -> None:
    put(shared_agent, "/v1/agent/service/register", {"Name": "peer-svc", "Check": {"TTL": "1m"}})
    node = shared_agent.get_json("/v1/agent/self")["Config"]["NodeName"]
    path = path.format(node=node)
    local = shared_agent.get_json(path)
    assert local  # the local answer is not empty, so an empty peer answer means something
    sep = "&" if "?" in path else "?"
    status, headers, body = shared_agent.request("GET", f"{path}{sep}peer=no-such-peer")
    assert status == 200 and json.loads(body) == empty
    assert int(headers["X-Consul-Index"]) > 0


# ---- 9. ?filter on the catalog's per-node reads, with NodeService's selectors

def test_filter_on_node_services_and_node(shared_agent: AgentProcess) -> None:
    put(shared_agent, "/v1/agent/service/register", {"Name": "flt-a", "Port": 1, "Tags": ["x"]})
    put(shared_agent, "/v1/agent/service/register", {"Name": "flt-b", "Port": 2, "Tags": ["y"]})
    node = shared_agent.get_json("/v1/agent/self")["Config"]["NodeName"]
    listed = shared_agent.get_json(f"/v1/catalog/node-services/{node}?filter=" + "x%20in%20Tags")
    assert [s["Service"] for s in listed["Services"]] == ["flt-a"]
    keyed = shared_agent.get_json(f"/v1/catalog/node/{node}?filter=" + 'Service%20%3D%3D%20"flt-b"')
    assert list(keyed["Services"]) == ["flt-b"]
    assert keyed["Node"]["Node"] == node  # the node itself is not filtered
    status, _, body = shared_agent.request("GET", f"/v1/catalog/node-services/{node}?filter=ServiceName==x")
    assert status == 400 and body == b'Failed to create boolean expression evaluator: Selector "ServiceName" is not valid'
    # catalog/services filters the service instances (ServiceNode selectors).
    svcs = shared_agent.get_json("/v1/catalog/services?filter=" + 'ServiceName%20%3D%3D%20"flt-a"')
    assert svcs == {"flt-a": ["x"]}
