"""Writes whose names come from the body or the stored object are checked on those names: a
token that may write the service web registers web, and nothing else, through every door."""

from __future__ import annotations

import base64
import json
import urllib.request
from collections.abc import Iterator

import pytest

from tests.support.agents import AgentProcess, start_agent

ROOT = "5b1e-named-root"
RULES = '''
service "web" { policy = "write" }
node_prefix "" { policy = "read" }
key "app/mine" { policy = "write" }
session "named-agent" { policy = "write" }
'''


def _call(agent: AgentProcess, method: str, path: str, token: str, body: object = None) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(agent.base_url + path, data=data, method=method, headers={"X-Consul-Token": token})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    work = tmp_path_factory.mktemp("named")
    conf = work / "acl.hcl"
    conf.write_text(f'acl {{\n enabled = true\n default_policy = "deny"\n tokens {{ initial_management = "{ROOT}" }}\n}}\n')
    proc = start_agent(work, f"-config-file={conf}", name="named-agent")
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def web_writer(agent: AgentProcess) -> str:
    assert _call(agent, "PUT", "/v1/acl/policy", ROOT, {"Name": "web-writer", "Rules": RULES})[0] == 200
    status, body = _call(agent, "PUT", "/v1/acl/token", ROOT, {"Policies": [{"Name": "web-writer"}]})
    assert status == 200, body
    return str(json.loads(body)["SecretID"])


def _denied(reply: tuple[int, bytes], permission: str, name: str) -> bool:
    status, body = reply
    return status == 403 and body.endswith(f"lacks permission '{permission}' on \"{name}\"".encode())


def test_agent_service_register_checks_the_service_name(agent: AgentProcess, web_writer: str) -> None:
    assert _call(agent, "PUT", "/v1/agent/service/register", web_writer, {"Name": "web", "Port": 80})[0] == 200
    assert _denied(_call(agent, "PUT", "/v1/agent/service/register", web_writer, {"Name": "db", "Port": 1}),
                   "service:write", "db")
    assert _call(agent, "PUT", "/v1/agent/service/register", ROOT, {"Name": "db", "Port": 1})[0] == 200
    assert _denied(_call(agent, "PUT", "/v1/agent/service/deregister/db", web_writer), "service:write", "db")
    assert _call(agent, "PUT", "/v1/agent/service/maintenance/web?enable=true", web_writer)[0] == 200
    assert _call(agent, "PUT", "/v1/agent/service/maintenance/web?enable=false", web_writer)[0] == 200
    # a node check needs node:write on this node
    assert _denied(_call(agent, "PUT", "/v1/agent/check/register", web_writer, {"Name": "n", "TTL": "10s"}),
                   "node:write", "named-agent")
    check = {"Name": "web-ttl", "ServiceID": "web", "TTL": "10s"}
    assert _call(agent, "PUT", "/v1/agent/check/register", web_writer, check)[0] == 200
    assert _call(agent, "PUT", "/v1/agent/check/pass/web-ttl", web_writer)[0] == 200


def test_catalog_register_checks_node_and_service(agent: AgentProcess, web_writer: str) -> None:
    reg = {"Node": "far-node", "Address": "10.1.1.1", "Service": {"Service": "web", "Port": 80}}
    assert _denied(_call(agent, "PUT", "/v1/catalog/register", web_writer, reg), "node:write", "far-node")
    assert _call(agent, "PUT", "/v1/catalog/register", ROOT, reg)[0] == 200
    # the node exists with these details: re-posting them with the service needs no node:write
    assert _call(agent, "PUT", "/v1/catalog/register", web_writer, reg)[0] == 200
    moved = {**reg, "Address": "10.1.1.2"}
    assert _denied(_call(agent, "PUT", "/v1/catalog/register", web_writer, moved), "node:write", "far-node")
    other = {**reg, "Service": {"Service": "api", "Port": 1}}
    assert _denied(_call(agent, "PUT", "/v1/catalog/register", web_writer, other), "service:write", "api")
    assert _call(agent, "PUT", "/v1/catalog/register", ROOT, other)[0] == 200
    assert _denied(_call(agent, "PUT", "/v1/catalog/deregister", web_writer, {"Node": "far-node", "ServiceID": "api"}),
                   "service:write", "api")
    assert _call(agent, "PUT", "/v1/catalog/deregister", web_writer, {"Node": "far-node", "ServiceID": "web"})[0] == 200
    assert _denied(_call(agent, "PUT", "/v1/catalog/deregister", web_writer, {"Node": "far-node"}),
                   "node:write", "far-node")


def test_txn_checks_each_key(agent: AgentProcess, web_writer: str) -> None:
    value = base64.b64encode(b"v").decode()
    mine = [{"KV": {"Verb": "set", "Key": "app/mine", "Value": value}}]
    assert _call(agent, "PUT", "/v1/txn", web_writer, mine)[0] == 200
    both = [*mine, {"KV": {"Verb": "set", "Key": "app/other", "Value": value}}]
    assert _denied(_call(agent, "PUT", "/v1/txn", web_writer, both), "key:write", "app/other")
    status, _ = _call(agent, "GET", "/v1/kv/app/other", ROOT)
    assert status == 404  # nothing of the refused transaction was applied


def test_session_create_checks_the_node(agent: AgentProcess, web_writer: str) -> None:
    status, body = _call(agent, "PUT", "/v1/session/create", web_writer, {"Name": "s"})
    assert status == 200, body
    sid = json.loads(body)["ID"]
    assert _denied(_call(agent, "PUT", "/v1/session/create", web_writer, {"Node": "far-node"}),
                   "session:write", "far-node")
    assert _call(agent, "PUT", f"/v1/session/renew/{sid}", web_writer)[0] == 200
    assert _call(agent, "PUT", f"/v1/session/destroy/{sid}", web_writer)[0] == 200
