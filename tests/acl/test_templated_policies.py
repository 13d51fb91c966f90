"""Templated policies on a real default-deny agent: the catalog endpoints, preview, tokens and roles
carrying `TemplatedPolicies` enforced like identities; and the initial-management and anonymous
tokens the leader writes into the state (token/self, the token list, a restart)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import consul
import pytest

from tests.support.agents import AgentProcess, start_agent
from tests.support.wait import wait_until

ROOT = "6a2d8b4f-3c1e-4f9a-8b7d-2e3f4a5b6c7d"


def call(agent: AgentProcess, method: str, path: str, token: str | None = None, body: object = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(agent.base_url + path, data=data, method=method)
    if token:
        req.add_header("X-Consul-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def _start(work: Path) -> AgentProcess:
    conf = work / "acl.hcl"
    conf.write_text(f'acl {{\n enabled = true\n default_policy = "deny"\n tokens {{ initial_management = "{ROOT}" }}\n}}\n')
    return start_agent(work, "-server", "-bootstrap", "-data-dir", str(work / "data"), f"-config-file={conf}",
                       dev=False, name="acl-tpl")


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Any:
    proc = _start(tmp_path_factory.mktemp("acl-tpl"))
    yield proc
    proc.stop()


def test_catalog_read_and_preview(agent: AgentProcess) -> None:
    cli = consul.Consul(host=agent.host, port=agent.http_port, token=ROOT)
    listed = cli.acl.templated_policies.list()
    assert {"builtin/service", "builtin/node", "builtin/dns", "builtin/nomad-server", "builtin/api-gateway",
            "builtin/nomad-client"} <= set(listed)
    svc = cli.acl.templated_policies.read("builtin/service")
    assert svc["TemplateName"] == "builtin/service" and '"required": ["name"]' in svc["Schema"]
    assert 'service "{{.Name}}-sidecar-proxy"' in svc["Template"]
    assert listed["builtin/dns"]["Schema"] == ""
    preview = cli.acl.templated_policies.preview("builtin/service", {"Name": "api"})
    assert preview["Description"] == "synthetic policy generated from templated policy: builtin/service"
    assert 'service "api" {\n\tpolicy = "write"\n}' in preview["Rules"] and preview["Name"].startswith("synthetic-policy-")
    status, body = call(agent, "POST", "/v1/acl/templated-policy/preview/builtin/service", ROOT, {})
    assert status == 400 and "name is required" in body, body
    status, body = call(agent, "GET", "/v1/acl/templated-policy/name/builtin/nope", ROOT)
    assert (status, body) == (400, "Invalid templated policy Name: builtin/nope")
    assert call(agent, "GET", "/v1/acl/templated-policies")[0] == 403


def test_token_and_role_templated_policies_are_enforced(agent: AgentProcess) -> None:
    status, tok = call(agent, "PUT", "/v1/acl/token", ROOT, {"TemplatedPolicies": [
        {"TemplateName": "builtin/service", "TemplateVariables": {"Name": "web"}}]})
    assert status == 200, tok
    assert tok["TemplatedPolicies"] == [{"TemplateName": "builtin/service", "TemplateVariables": {"Name": "web"}}]
    secret = tok["SecretID"]
    assert call(agent, "PUT", "/v1/agent/service/register", secret, {"Name": "web", "Port": 80})[0] == 200
    assert call(agent, "PUT", "/v1/agent/service/register", secret, {"Name": "web-sidecar-proxy", "Port": 81,
                                                                      "Kind": "connect-proxy",
                                                                      "Proxy": {"DestinationServiceName": "web"}})[0] == 200
    assert call(agent, "PUT", "/v1/agent/service/register", secret, {"Name": "db", "Port": 82})[0] == 403
    assert call(agent, "GET", "/v1/catalog/services", secret)[0] == 200
    assert call(agent, "GET", "/v1/kv/x", secret)[0] == 403

    status, body = call(agent, "PUT", "/v1/acl/token", ROOT, {"TemplatedPolicies": [{"TemplateName": "builtin/nope"}]})
    assert (status, body) == (400, "templated policy with an invalid templated name: builtin/nope for this token")
    status, body = call(agent, "PUT", "/v1/acl/token", ROOT, {"TemplatedPolicies": [{"TemplateName": "builtin/node"}]})
    assert status == 400 and body.startswith("encountered templated policy variable validation error: ") \
        and "name is required" in body, body

    status, role = call(agent, "PUT", "/v1/acl/role", ROOT, {"Name": "dns-role", "TemplatedPolicies": [
        {"TemplateName": "builtin/dns"}]})
    assert status == 200 and role["TemplatedPolicies"] == [{"TemplateName": "builtin/dns"}], role
    status, tok = call(agent, "PUT", "/v1/acl/token", ROOT, {"Roles": [{"Name": "dns-role"}]})
    assert status == 200
    assert call(agent, "GET", "/v1/catalog/nodes", tok["SecretID"])[0] == 200
    assert call(agent, "PUT", "/v1/agent/service/register", tok["SecretID"], {"Name": "x", "Port": 1})[0] == 403


def test_leader_writes_initial_management_and_anonymous_tokens(tmp_path: Path) -> None:
    agent = _start(tmp_path)
    try:
        # the leader writes it just after it leads: wait for that write
        wait_until(lambda: call(agent, "GET", "/v1/acl/token/self", ROOT)[0] == 200, timeout=20)
        status, me = call(agent, "GET", "/v1/acl/token/self", ROOT)
        assert status == 200 and me["SecretID"] == ROOT and me["Description"] == "Initial Management Token", me
        assert me["Policies"] == [{"ID": "00000000-0000-0000-0000-000000000001", "Name": "global-management"}]
        listed = {t["AccessorID"]: t for t in call(agent, "GET", "/v1/acl/tokens", ROOT)[1]}
        assert listed["00000000-0000-0000-0000-000000000002"]["Description"] == "Anonymous Token"
        assert me["AccessorID"] in listed
        # the initial-management token counts as the bootstrap
        status, body = call(agent, "PUT", "/v1/acl/bootstrap")
        assert status == 403 and "ACL bootstrap no longer allowed" in body
        agent.restart()
        wait_until(lambda: call(agent, "GET", "/v1/acl/token/self", ROOT)[0] == 200, timeout=20)
        again = call(agent, "GET", "/v1/acl/token/self", ROOT)[1]
        assert again["AccessorID"] == me["AccessorID"] and again["CreateIndex"] == me["CreateIndex"]
    finally:
        agent.stop()
