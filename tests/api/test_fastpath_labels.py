"""Replies the fast path sends say how they were read: a `?stale` read is labelled stale, with
what this server knows of the leader, exactly as the full path labels it."""

from __future__ import annotations

import pytest

from tests.support.agents import AgentProcess

LABELS = ("X-Consul-Effective-Consistency", "X-Consul-KnownLeader", "X-Consul-LastContact", "X-Consul-Index")


@pytest.mark.parametrize("path", ["/v1/catalog/services", "/v1/health/service/consul"])
def test_stale_reads_are_labelled_stale_on_both_paths(shared_agent: AgentProcess, path: str) -> None:
    for _ in range(3):  # the first read fills the reply cache; the later ones take the fast path
        status, headers, body = shared_agent.request("GET", path)
        assert status == 200
        assert headers["X-Consul-Effective-Consistency"] == "leader"
    default_body = body
    for query in ("?stale", "?stale=", "?dc=dc1&stale"):
        for _ in range(3):
            status, headers, body = shared_agent.request("GET", path + query)
            assert status == 200 and body == default_body
            assert headers["X-Consul-Effective-Consistency"] == "stale", (query, headers)
            assert headers["X-Consul-KnownLeader"] == "true" and headers["X-Consul-LastContact"] == "0"
