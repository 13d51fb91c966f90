"""A client agent with ACLs: its anti-entropy writes carry the agent token, requests to its own
agent endpoints resolve against the servers, and tokens set through /v1/agent/token persist."""

from __future__ import annotations

import json
import os
import stat
import urllib.request
from pathlib import Path

from tests.support.agents import AgentProcess, start_agent
from tests.support.ports import loopback
from tests.support.wait import wait_until

SERVER_HOST, CLIENT_HOST = loopback(51), loopback(52)
ROOT = "0c1a55e5-root"
AGENT_SECRET = "8a2e9c1d-0000-4000-8000-00000000a9e1"
AGENT_RULES = 'node "cli" { policy = "write" }\nservice_prefix "" { policy = "write" }\n'


def _acl_file(path: Path, extra: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'acl {{\n enabled = true\n default_policy = "deny"\n {extra}\n}}\n')
    return path


def _call(agent: AgentProcess, method: str, path: str, token: str | None, body: object = None) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(agent.base_url + path, data=data, method=method)
    if token:
        req.add_header("X-Consul-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _token(server: AgentProcess, name: str, rules: str, secret: str = "") -> str:
    assert _call(server, "PUT", "/v1/acl/policy", ROOT, {"Name": name, "Rules": rules})[0] == 200
    body: dict[str, object] = {"Policies": [{"Name": name}]}
    if secret:
        body["SecretID"] = secret
    status, reply = _call(server, "PUT", "/v1/acl/token", ROOT, body)
    assert status == 200, reply
    return str(json.loads(reply)["SecretID"])


def _catalog_services(server: AgentProcess, node: str) -> set[str]:
    status, reply = _call(server, "GET", f"/v1/catalog/node/{node}", ROOT)
    data = json.loads(reply) if status == 200 else None
    return {s["Service"] for s in (data or {}).get("Services", {}).values()}


def test_client_agent_tokens(tmp_path: Path) -> None:
    server_conf = _acl_file(tmp_path / "s" / "acl.hcl", f'tokens {{ initial_management = "{ROOT}" }}')
    server = start_agent(tmp_path / "s", "-server", "-bootstrap", "-data-dir", str(tmp_path / "s" / "data"),
                         f"-config-file={server_conf}", dev=False, name="srv", host=SERVER_HOST)
    client = None
    try:
        _token(server, "cli-agent", AGENT_RULES, AGENT_SECRET)
        edge_reader = _token(server, "edge-read", 'service "edge" { policy = "read" }')
        nothing = _token(server, "nothing", 'key "unused" { policy = "read" }')
        client_conf = _acl_file(tmp_path / "c" / "acl.hcl",
                                f'enable_token_persistence = true\n tokens {{ agent = "{AGENT_SECRET}" }}')
        data_dir = tmp_path / "c" / "data"
        client = start_agent(tmp_path / "c", "-data-dir", str(data_dir), "-retry-join",
                             f"{SERVER_HOST}:{server.serf_lan_port}", "-retry-interval", "1s",
                             f"-config-file={client_conf}", dev=False, name="cli", host=CLIENT_HOST)
        # The client registers itself with its agent token (default deny: anonymous could not).
        assert wait_until(lambda: _call(server, "GET", "/v1/catalog/node/cli", ROOT)[1] not in (b"null", b""), 15)

        # Its agent endpoints resolve tokens against the servers: refused, then allowed.
        edge = {"Name": "edge", "Port": 4444}
        status, reply = _call(client, "PUT", "/v1/agent/service/register", nothing, edge)
        assert status == 403 and b"lacks permission 'service:write' on \"edge\"" in reply, reply
        assert _call(client, "PUT", "/v1/agent/service/register", "not-a-secret", edge) == (403, b"ACL not found")
        assert _call(client, "PUT", "/v1/agent/service/register", ROOT, edge)[0] == 200
        assert _call(client, "PUT", "/v1/agent/service/register", ROOT, {"Name": "hidden", "Port": 1})[0] == 200
        # Anti-entropy puts them in the catalog with the agent token.
        assert wait_until(lambda: {"edge", "hidden"} <= _catalog_services(server, "cli"), 15)
        status, reply = _call(client, "GET", "/v1/agent/services", edge_reader)
        assert status == 200 and {s["Service"] for s in json.loads(reply).values()} == {"edge"}

        # A default token set through the API is written 0600 and survives a restart.
        assert _call(client, "PUT", "/v1/agent/token/default", ROOT, {"Token": edge_reader})[0] == 200
        tokens_file = data_dir / "acl-tokens.json"
        assert json.loads(tokens_file.read_text()) == {"default": edge_reader}
        assert stat.S_IMODE(os.stat(tokens_file).st_mode) == 0o600
        client.restart()
        status, reply = _call(client, "GET", "/v1/agent/services", None)  # no token: the default one
        assert status == 200 and {s["Service"] for s in json.loads(reply).values()} == {"edge"}

        # An agent token without the right: the refused sync is logged, and nothing reaches the catalog.
        assert _call(client, "PUT", "/v1/agent/token/agent", ROOT, {"Token": nothing})[0] == 200
        assert _call(client, "PUT", "/v1/agent/service/register", ROOT, {"Name": "late", "Port": 2})[0] == 200
        assert wait_until(lambda: "catalog sync refused" in client.log(), 15)
        assert "late" not in _catalog_services(server, "cli")
    finally:
        if client is not None:
            client.stop()
        server.stop()
