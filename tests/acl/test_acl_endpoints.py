"""ACL endpoints on a real default-deny agent: bootstrap once, policies and tokens through
py-consul and raw HTTP, and the token's rules enforced on the next request."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import consul
import pytest

from tests.support.agents import AgentProcess, start_agent


def _call(agent: AgentProcess, method: str, path: str, token: str | None = None, body: object = None) -> tuple[int, bytes]:
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(agent.base_url + path, data=data, method=method)
    if token:
        req.add_header("X-Consul-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


@pytest.fixture(scope="module")
def deny_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    work = tmp_path_factory.mktemp("acl-ep")
    conf = work / "acl.hcl"
    conf.write_text('acl {\n enabled = true\n default_policy = "deny"\n}\n')
    agent = start_agent(work, f"-config-file={conf}", name="acl-ep")
    yield agent
    agent.stop()


def test_bootstrap_policy_token_flow(deny_agent: AgentProcess) -> None:
    status, body = _call(deny_agent, "PUT", "/v1/acl/bootstrap")
    assert status == 200, body
    boot = json.loads(body)
    assert boot["Description"] == "Bootstrap Token (Global Management)" and boot["ID"] == boot["SecretID"]
    assert boot["Policies"] == [{"ID": "00000000-0000-0000-0000-000000000001", "Name": "global-management"}]
    root = boot["SecretID"]

    status, body = _call(deny_agent, "PUT", "/v1/acl/bootstrap")
    assert status == 403
    assert re.fullmatch(rb"Permission denied: ACL bootstrap no longer allowed \(reset index: \d+\)", body), body

    cli = consul.Consul(host=deny_agent.host, port=deny_agent.http_port, token=root)
    # py-consul JSON-encodes the rules dict itself, as its users pass it
    policy = cli.acl.policy.create(name="app-read", rules={"key_prefix": {"app/": {"policy": "read"}}})
    assert policy["Name"] == "app-read" and "Hash" in policy
    status, body = _call(deny_agent, "PUT", "/v1/acl/policy", root, {"Name": "bad", "Rules": 'key "x" { policy = "rw" }'})
    assert status == 400 and body.startswith(b"Failed to parse ACL rules: "), body
    status, body = _call(deny_agent, "PUT", "/v1/acl/token", root, {"Description": "app", "Policies": [{"Name": "app-read"}]})
    assert status == 200, body
    app = json.loads(body)
    assert app["Policies"] == [{"ID": policy["ID"], "Name": "app-read"}]

    assert _call(deny_agent, "PUT", "/v1/kv/app/config", root, b"v1")[0] == 200
    assert _call(deny_agent, "PUT", "/v1/kv/other/secret", root, b"s")[0] == 200
    assert _call(deny_agent, "GET", "/v1/kv/app/config?raw", app["SecretID"]) == (200, b"v1")
    status, body = _call(deny_agent, "GET", "/v1/kv/other/secret?raw", app["SecretID"])
    assert status == 403 and f"AccessorID '{app['AccessorID']}'".encode() in body
    assert _call(deny_agent, "PUT", "/v1/kv/app/config", app["SecretID"], b"x")[0] == 403

    status, body = _call(deny_agent, "GET", "/v1/acl/token/self", app["SecretID"])
    assert status == 200 and json.loads(body)["AccessorID"] == app["AccessorID"]
    assert _call(deny_agent, "GET", "/v1/acl/tokens", app["SecretID"])[0] == 403
    tokens = json.loads(_call(deny_agent, "GET", "/v1/acl/tokens", root)[1])
    assert {t["AccessorID"] for t in tokens} >= {boot["AccessorID"], app["AccessorID"]}
    assert [t["AccessorID"] for t in json.loads(_call(deny_agent, "GET", f"/v1/acl/tokens?policy={policy['ID']}", root)[1])] == [app["AccessorID"]]

    assert _call(deny_agent, "DELETE", f"/v1/acl/token/{app['AccessorID']}", root) == (200, b"true")
    assert _call(deny_agent, "GET", "/v1/kv/app/config?raw", app["SecretID"]) == (403, b"ACL not found")
    assert _call(deny_agent, "DELETE", f"/v1/acl/policy/{policy['ID']}", root) == (200, b"true")
    assert cli.acl.policy.read(policy["ID"]) is None


def test_tokens_and_the_bootstrap_mark_survive_a_restart(tmp_path: Path) -> None:
    work = tmp_path
    conf = work / "acl.hcl"
    conf.write_text('acl {\n enabled = true\n default_policy = "deny"\n}\n')
    data = work / "data"
    flags = ("-server", "-bootstrap", "-data-dir", str(data), f"-config-file={conf}")
    first = start_agent(work, *flags, dev=False, name="acl-persist")
    ports = {"http": first.http_port, "dns": first.dns_port, "server": first.server_port, "serf_lan": first.serf_lan_port}
    try:
        status, body = _call(first, "PUT", "/v1/acl/bootstrap")
        assert status == 200, body
        root = json.loads(body)["SecretID"]
        assert _call(first, "PUT", "/v1/kv/kept", root, b"yes")[0] == 200
    finally:
        first.stop()
    second = start_agent(work, *flags, dev=False, name="acl-persist", ports=ports)
    try:
        assert _call(second, "GET", "/v1/kv/kept?raw", root) == (200, b"yes")
        assert _call(second, "GET", "/v1/kv/kept?raw")[0] == 403
        assert _call(second, "PUT", "/v1/acl/bootstrap")[0] == 403
    finally:
        second.stop()


def test_agent_default_token_serves_requests_without_a_token(tmp_path: Path) -> None:
    root = "initial-root-secret"
    conf = tmp_path / "acl.hcl"
    conf.write_text(f'acl {{\n enabled = true\n default_policy = "deny"\n tokens {{ initial_management = "{root}" }}\n}}\n')
    deny_agent = start_agent(tmp_path, f"-config-file={conf}", name="acl-default")
    try:
        _default_token_flow(deny_agent, root)
    finally:
        deny_agent.stop()


def _default_token_flow(deny_agent: AgentProcess, root: str) -> None:
    _call(deny_agent, "PUT", "/v1/kv/pub/x", root, b"hello")
    _call(deny_agent, "PUT", "/v1/acl/policy", root, {"Name": "pub", "Rules": 'key_prefix "pub/" { policy = "read" }'})
    reader = json.loads(_call(deny_agent, "PUT", "/v1/acl/token", root, {"Policies": [{"Name": "pub"}]})[1])
    assert _call(deny_agent, "GET", "/v1/kv/pub/x?raw")[0] == 403
    assert _call(deny_agent, "PUT", "/v1/agent/token/default", None, {"Token": reader["SecretID"]})[0] == 403
    assert _call(deny_agent, "PUT", "/v1/agent/token/default", root, {"Token": reader["SecretID"]}) == (200, b"")
    assert _call(deny_agent, "GET", "/v1/kv/pub/x?raw") == (200, b"hello")
    assert _call(deny_agent, "PUT", "/v1/agent/token/bogus", root, {"Token": "x"}) == (404, b'Token "bogus" is unknown')
