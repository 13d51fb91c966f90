"""The WAN pool with gossip encryption: servers with the same key federate, a server with
another key cannot join."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from tests.support.agents import AgentProcess, start_agent
from tests.support.ports import free_port, loopback
from tests.support.wait import wait_until


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_encrypted_wan_pool_admits_only_the_same_key(tmp_path: Path) -> None:
    key, other = _key(), _key()
    wan = {name: free_port() for name in ("a", "b", "c")}
    a = start_agent(tmp_path, "-datacenter", "dc1", "-encrypt", key, host=loopback(41), name="a",
                    ports={"serf_wan": wan["a"]})
    b = start_agent(tmp_path, "-datacenter", "dc2", "-encrypt", key, host=loopback(42), name="b",
                    ports={"serf_wan": wan["b"]})
    c = start_agent(tmp_path, "-datacenter", "dc3", "-encrypt", other, host=loopback(43), name="c",
                    ports={"serf_wan": wan["c"]})
    try:
        def joined(agent_from: AgentProcess, to_host: str, port: int) -> int:
            return agent_from.request("PUT", f"/v1/agent/join/{to_host}:{port}?wan=1")[0]

        assert wait_until(lambda: joined(a, b.host, wan["b"]) == 200, 10)
        wait_until(lambda: json.loads(b.request("GET", "/v1/catalog/datacenters")[2]) == ["dc2", "dc1"], 10)
        assert joined(a, c.host, wan["c"]) == 500  # c cannot read a's push/pull
        assert "c.dc3" not in [m["Name"] for m in a.get_json("/v1/agent/members?wan=1")]
        assert a.request("PUT", "/v1/kv/across?dc=dc2", b"v")[0] == 200
        assert b.request("GET", "/v1/kv/across?raw")[2] == b"v"
    finally:
        for agent in (a, b, c):
            agent.stop()
