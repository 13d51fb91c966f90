"""Config entries under ACLs, kind by kind, as Consul's CanRead/CanWrite have them
(`pyconsul.entries.access`): service-defaults and the discovery-chain kinds on the entry's
service (a chain entry also needs service:read on each service it sends traffic to),
service-intentions on the destination's intentions, proxy-defaults readable by anyone and written
with mesh (or operator) write, gateways read on their service and written with mesh write.
Lists keep only what the token may read and say so in X-Consul-Results-Filtered-By-ACLs."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.agents import AgentProcess, start_agent

ROOT = "c3-config-root"
POLICIES = {
    "web-owner": 'service "web" { policy = "write" }\nservice "db" { policy = "read" }',
    "web-intentions": 'service "web" { policy = "read" intentions = "write" }',
    "mesh-writer": 'mesh = "write"',
    "operator-writer": 'operator = "write"',
    "nothing": 'node_prefix "" { policy = "read" }',
}


def call(agent: AgentProcess, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any, dict[str, str]]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(agent.base_url + path, data=data, method=method, headers={"X-Consul-Token": token})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, raw, headers = resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as err:
        status, raw, headers = err.code, err.read(), dict(err.headers)
    try:
        return status, json.loads(raw), headers
    except ValueError:
        return status, raw.decode(), headers


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    work = tmp_path_factory.mktemp("config-acl")
    conf = work / "acl.hcl"
    conf.write_text(f'acl {{\n enabled = true\n default_policy = "deny"\n tokens {{ initial_management = "{ROOT}" }}\n}}\n')
    proc = start_agent(work, f"-config-file={conf}", name="config-acl")
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def tokens(agent: AgentProcess) -> dict[str, str]:
    out = {}
    for name, rules in POLICIES.items():
        assert call(agent, "PUT", "/v1/acl/policy", ROOT, {"Name": name, "Rules": rules})[0] == 200
        status, body, _ = call(agent, "PUT", "/v1/acl/token", ROOT, {"Policies": [{"Name": name}]})
        assert status == 200, body
        out[name] = body["SecretID"]
    return out


def denied(reply: tuple[int, Any, dict[str, str]], permission: str, name: str | None) -> bool:
    status, body, _ = reply
    tail = f"lacks permission '{permission}'" + (f' on "{name}"' if name is not None else "")
    return status == 403 and isinstance(body, str) and body.endswith(tail)


def put(agent: AgentProcess, token: str, entry: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
    return call(agent, "PUT", "/v1/config", token, entry)


@pytest.mark.parametrize("kind, extra", [
    ("service-defaults", {"Protocol": "http"}),
    ("service-resolver", {"ConnectTimeout": "5s"}),
    ("service-router", {"Routes": [{"Match": {"HTTP": {"PathPrefix": "/a"}}}]}),
    ("service-splitter", {"Splits": [{"Weight": 100}]}),
])
def test_service_kinds_need_service_write_on_the_name(agent: AgentProcess, tokens: dict[str, str], kind: str,
                                                      extra: dict[str, Any]) -> None:
    owner = tokens["web-owner"]
    if kind != "service-defaults":  # routers and splitters need an http service under them
        assert put(agent, ROOT, {"Kind": "service-defaults", "Name": "web", "Protocol": "http"})[0] == 200
    assert put(agent, owner, {"Kind": kind, "Name": "web", **extra})[:2] == (200, True)
    assert denied(put(agent, owner, {"Kind": kind, "Name": "db", **extra}), "service:write", "db")
    assert denied(put(agent, tokens["mesh-writer"], {"Kind": kind, "Name": "web", **extra}), "service:write", "web")
    assert call(agent, "GET", f"/v1/config/{kind}/web", owner)[0] == 200
    assert denied(call(agent, "GET", f"/v1/config/{kind}/web", tokens["nothing"]), "service:read", "web")
    assert denied(call(agent, "DELETE", f"/v1/config/{kind}/web", tokens["nothing"]), "service:write", "web")
    assert call(agent, "DELETE", f"/v1/config/{kind}/web", owner)[0] == 200


def test_chain_entries_need_read_on_the_services_they_send_traffic_to(agent: AgentProcess,
                                                                      tokens: dict[str, str]) -> None:
    owner = tokens["web-owner"]
    assert put(agent, ROOT, {"Kind": "service-defaults", "Name": "web", "Protocol": "http"})[0] == 200
    for name in ("db", "cache"):
        assert put(agent, ROOT, {"Kind": "service-defaults", "Name": name, "Protocol": "http"})[0] == 200
    try:
        # db is readable to this token, cache is not
        assert put(agent, owner, {"Kind": "service-resolver", "Name": "web", "Redirect": {"Service": "db"}})[0] == 200
        assert denied(put(agent, owner, {"Kind": "service-resolver", "Name": "web",
                                         "Redirect": {"Service": "cache"}}), "service:read", "cache")
        assert denied(put(agent, owner, {"Kind": "service-resolver", "Name": "web",
                                         "Failover": {"*": {"Service": "cache"}}}), "service:read", "cache")
        call(agent, "DELETE", "/v1/config/service-resolver/web", ROOT)
        assert denied(put(agent, owner, {"Kind": "service-splitter", "Name": "web", "Splits": [
            {"Weight": 50}, {"Weight": 50, "Service": "cache"}]}), "service:read", "cache")
        assert put(agent, owner, {"Kind": "service-splitter", "Name": "web", "Splits": [
            {"Weight": 50}, {"Weight": 50, "Service": "db"}]})[0] == 200
        call(agent, "DELETE", "/v1/config/service-splitter/web", ROOT)
        assert denied(put(agent, owner, {"Kind": "service-router", "Name": "web", "Routes": [
            {"Match": {"HTTP": {"PathPrefix": "/c"}}, "Destination": {"Service": "cache"}}]}), "service:read", "cache")
    finally:
        for kind in ("service-router", "service-splitter", "service-resolver"):
            call(agent, "DELETE", f"/v1/config/{kind}/web", ROOT)


def test_service_intentions_need_intentions_write_on_the_destination(agent: AgentProcess,
                                                                     tokens: dict[str, str]) -> None:
    entry = {"Kind": "service-intentions", "Name": "web", "Sources": [{"Name": "api", "Action": "allow"}]}
    writer = tokens["web-intentions"]
    assert denied(put(agent, tokens["web-owner"], entry), "intentions:write", "web")
    assert put(agent, writer, entry)[:2] == (200, True)
    assert denied(put(agent, writer, {**entry, "Name": "db"}), "intentions:write", "db")
    assert call(agent, "GET", "/v1/config/service-intentions/web", writer)[0] == 200
    assert denied(call(agent, "GET", "/v1/config/service-intentions/web", tokens["nothing"]), "intentions:read", "web")
    assert call(agent, "DELETE", "/v1/config/service-intentions/web", writer)[0] == 200


@pytest.mark.parametrize("writer", ["mesh-writer", "operator-writer"])
def test_proxy_defaults_are_read_by_anyone_and_written_with_mesh_write(agent: AgentProcess, tokens: dict[str, str],
                                                                       writer: str) -> None:
    entry = {"Kind": "proxy-defaults", "Name": "global", "Config": {"protocol": "http"}}
    assert denied(put(agent, tokens["web-owner"], entry), "mesh:write", None)
    assert put(agent, tokens[writer], entry)[:2] == (200, True)
    status, body, _ = call(agent, "GET", "/v1/config/proxy-defaults/global", tokens["nothing"])
    assert status == 200 and body["Config"] == {"protocol": "http"}
    assert denied(call(agent, "DELETE", "/v1/config/proxy-defaults/global", tokens["web-owner"]), "mesh:write", None)
    assert call(agent, "DELETE", "/v1/config/proxy-defaults/global", tokens[writer])[0] == 200


@pytest.mark.parametrize("kind, body", [
    ("ingress-gateway", {"Listeners": [{"Port": 8080, "Protocol": "tcp", "Services": [{"Name": "db"}]}]}),
    ("terminating-gateway", {"Services": [{"Name": "db"}]}),
])
def test_gateways_are_written_with_mesh_write_and_read_on_their_service(agent: AgentProcess, tokens: dict[str, str],
                                                                        kind: str, body: dict[str, Any]) -> None:
    entry = {"Kind": kind, "Name": "web", **body}
    assert denied(put(agent, tokens["web-owner"], entry), "mesh:write", None)
    assert put(agent, tokens["mesh-writer"], entry)[:2] == (200, True)
    assert call(agent, "GET", f"/v1/config/{kind}/web", tokens["web-owner"])[0] == 200
    assert denied(call(agent, "GET", f"/v1/config/{kind}/web", tokens["mesh-writer"]), "service:read", "web")
    assert call(agent, "DELETE", f"/v1/config/{kind}/web", tokens["mesh-writer"])[0] == 200


def test_lists_keep_what_the_token_may_read(agent: AgentProcess, tokens: dict[str, str]) -> None:
    for name in ("web", "db", "secret"):
        assert put(agent, ROOT, {"Kind": "service-defaults", "Name": name, "Protocol": "tcp"})[0] == 200
    try:
        status, rows, headers = call(agent, "GET", "/v1/config/service-defaults", tokens["web-owner"])
        assert status == 200 and sorted(r["Name"] for r in rows) == ["db", "web"]
        assert headers.get("X-Consul-Results-Filtered-By-ACLs") == "true"
        status, rows, headers = call(agent, "GET", "/v1/config/service-defaults", ROOT)
        assert {"web", "db", "secret"} <= {r["Name"] for r in rows} and "X-Consul-Results-Filtered-By-ACLs" not in headers
        assert call(agent, "GET", "/v1/config/service-defaults", tokens["nothing"])[1] == []
    finally:
        for name in ("web", "db", "secret"):
            call(agent, "DELETE", f"/v1/config/service-defaults/{name}", ROOT)


def test_intention_check_needs_service_read_on_the_destination(agent: AgentProcess, tokens: dict[str, str]) -> None:
    path = "/v1/connect/intentions/check?source=api&destination=web"
    assert call(agent, "GET", path, tokens["web-owner"])[:2] == (200, {"Allowed": False})  # default deny
    assert denied(call(agent, "GET", path, tokens["mesh-writer"]), "service:read", "web")
