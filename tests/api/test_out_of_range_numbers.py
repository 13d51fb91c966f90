"""Integers beyond 64 bits in a request body are a 400 naming the number on every write route
that takes JSON, never a 500 from a Raft command that could not carry them."""

from __future__ import annotations

import json

import pytest

from tests.support.agents import AgentProcess

BIG = 2**65

BODIES = [
    ("PUT", "/v1/catalog/register", {"Node": "n", "Address": "10.0.0.1", "Service": {"Service": "s", "Port": BIG}}),
    ("PUT", "/v1/catalog/register", {"Node": "n", "Address": "10.0.0.1",
                                     "Check": {"CheckID": "c", "Definition": {"IntervalDuration": BIG}}}),
    ("PUT", "/v1/agent/service/register", {"Name": "s", "Weights": {"Passing": BIG, "Warning": 1}}),
    ("PUT", "/v1/txn", [{"KV": {"Verb": "set", "Key": "a", "Value": "", "Flags": BIG}}]),
    ("PUT", "/v1/txn", [{"KV": {"Verb": "cas", "Key": "a", "Value": "", "Index": -BIG}}]),
    ("POST", "/v1/query", {"Name": "q", "Service": {"Service": "s", "Failover": {"NearestN": BIG}}}),
    ("PUT", "/v1/operator/autopilot/configuration", {"MaxTrailingLogs": BIG}),
    ("PUT", "/v1/session/create", {"TTL": "10s", "LockDelay": -BIG}),
]


@pytest.mark.parametrize("method,path,body", BODIES, ids=[f"{m} {p}" for m, p, _ in BODIES])
def test_a_number_beyond_64_bits_is_refused_with_a_400(shared_agent: AgentProcess, method: str, path: str,
                                                       body: object) -> None:
    status, _, reply = shared_agent.request(method, path, json.dumps(body).encode())
    assert status == 400, (status, reply)
    assert str(BIG) in reply.decode(), reply
    # and the agent goes on answering
    assert shared_agent.request("GET", "/v1/status/leader")[0] == 200


@pytest.mark.parametrize("path,body", [
    ("/v1/catalog/register", {"Node": "n", "Address": "10.0.0.1", "Service": {"Service": "s", "Weights": {"Passing": "a"}}}),
    ("/v1/agent/service/register", {"Name": "s", "Weights": {"Passing": 1, "Warning": [1]}}),
])
def test_weights_that_are_not_integers_are_a_400(shared_agent: AgentProcess, path: str, body: object) -> None:
    status, _, reply = shared_agent.request("PUT", path, json.dumps(body).encode())
    assert status == 400, (status, reply)
    assert b"Weights." in reply and b"of type int" in reply, reply
