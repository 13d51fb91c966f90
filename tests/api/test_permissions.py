"""Every route declares what it needs from a token; the token is read in Consul's order."""

from __future__ import annotations

import consul
import pytest
from aiohttp.test_utils import make_mocked_request

from pyconsul.api.params import request_token
from pyconsul.api.permissions import IN_HANDLER, NEEDS, NONE, OWN_NODE, Check, Need, canonical, static_check
from pyconsul.api.routes import ROUTES
from tests.support.agents import AgentProcess

ROUTE_KEYS = {(method, canonical(path)) for method, path, _ in ROUTES}


def test_every_route_declares_its_need() -> None:
    missing = sorted(ROUTE_KEYS - set(NEEDS))
    assert missing == [], f"routes without an ACL declaration in pyconsul/api/permissions.py: {missing}"


def test_no_declaration_outlives_its_route() -> None:
    assert sorted(set(NEEDS) - ROUTE_KEYS) == []


def test_only_routes_consul_leaves_open_need_nothing() -> None:
    open_routes = sorted(key for key, need in NEEDS.items() if need == NONE)
    assert open_routes == [
        ("GET", "/v1/acl/replication"),  # Consul: ACL required "none"
        ("GET", "/v1/agent/connect/ca/roots"), ("GET", "/v1/agent/version"), ("GET", "/v1/catalog/datacenters"),
        ("GET", "/v1/connect/ca/roots"), ("GET", "/v1/coordinate/datacenters"),
        ("GET", "/v1/status/leader"), ("GET", "/v1/status/peers"),
    ]


def test_writes_need_write_and_accesses_are_known() -> None:
    for (method, path), need in NEEDS.items():
        if need.resource:
            assert need.access in ("read", "write"), path
        # POST /v1/discovery-chain only reads (its body holds overrides), as in Consul.
        if method != "GET" and need.resource and path not in ("/v1/snapshot", "/v1/discovery-chain/{service}"):
            assert need.access == "write", (method, path)


def test_static_checks() -> None:
    assert static_check(Need("key", "write", "{key}"), {"key": "a/b"}, "n1") == Check("key", "write", "a/b")
    assert static_check(Need("agent", "read", OWN_NODE), {}, "n1") == Check("agent", "read", "n1")
    assert static_check(Need("operator", "write"), {}, "n1") == Check("operator", "write", None)
    assert static_check(Need("service", "write", IN_HANDLER), {}, "n1") is None
    assert static_check(Need("node", "read", filtered=True), {}, "n1") is None
    assert static_check(NONE, {}, "n1") is None


@pytest.mark.parametrize("query,headers,expected", [
    ("?token=q", {"X-Consul-Token": "h", "Authorization": "Bearer b"}, "q"),
    ("", {"X-Consul-Token": "h", "Authorization": "Bearer b"}, "h"),
    ("", {"Authorization": "Bearer b extra"}, "b"),
    ("", {"Authorization": "bearer lower"}, "lower"),
    ("", {"Authorization": "Basic abc"}, ""),
    ("", {}, ""),
])
def test_token_order(query: str, headers: dict[str, str], expected: str) -> None:
    assert request_token(make_mocked_request("GET", "/v1/kv/x" + query, headers=headers)) == expected


@pytest.mark.parametrize("method,path", [
    ("PUT", "/v1/acl/bootstrap"), ("GET", "/v1/acl/tokens"), ("PUT", "/v1/acl/token"),
    ("GET", "/v1/acl/token/self"), ("PUT", "/v1/acl/policy"), ("GET", "/v1/acl/policy/name/a/b"),
    ("DELETE", "/v1/acl/role/00000000-0000-0000-0000-000000000009"), ("POST", "/v1/acl/login"),
])
def test_acl_endpoints_say_acls_are_disabled(shared_agent: AgentProcess, method: str, path: str) -> None:
    status, _, body = shared_agent.request(method, path, {} if method != "GET" else None)
    assert (status, body) == (401, b"ACL support disabled")


def test_py_consul_sees_acl_disabled(shared_agent: AgentProcess) -> None:
    cli = consul.Consul(host=shared_agent.host, port=shared_agent.http_port)
    with pytest.raises(consul.ACLDisabled, match="ACL support disabled"):
        cli.acl.token.list()
    with pytest.raises(consul.ACLDisabled):
        cli.acl.policy.create(name="p", rules='key_prefix "" { policy = "read" }')
