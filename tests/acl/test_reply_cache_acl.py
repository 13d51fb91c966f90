"""Replies cached per token under ACLs: the same read by two tokens never shares an answer, and a
change to a token's permissions (policy update, role change, token delete) is seen by the very
next read, whether it is served by the fast path or the full one — never a stale allowed answer."""

from __future__ import annotations

import json
import socket
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.agents import AgentProcess, start_agent

ROOT = "0e6b2f8d-7a5c-4d3e-8f1b-6c7d8e9f0a1b"


def call(agent: AgentProcess, method: str, path: str, token: str | None = None,
         body: object = None) -> tuple[int, Any, dict[str, str]]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(agent.base_url + path, data=data, method=method)
    if token:
        req.add_header("X-Consul-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None, dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(), dict(err.headers)


def raw_get(agent: AgentProcess, path: str, headers: str) -> tuple[int, bytes, str]:
    """One GET on a fresh connection, bytes as sent (the fast path answers fresh connections)."""
    with socket.create_connection((agent.host, agent.http_port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    text = head.decode()
    return int(text.split()[1]), body, text


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    work = tmp_path_factory.mktemp("acl-cache")
    conf = work / "acl.hcl"
    conf.write_text(f'acl {{\n enabled = true\n default_policy = "deny"\n tokens {{ initial_management = "{ROOT}" }}\n}}\n')
    proc = start_agent(work, f"-config-file={conf}", name="acl-cache")
    for name in ("web", "db"):
        assert call(proc, "PUT", "/v1/agent/service/register", ROOT, {"Name": name, "Port": 80})[0] == 200
    yield proc
    proc.stop()


def _policy(agent: AgentProcess, name: str, rules: str) -> dict[str, Any]:
    status, body, _ = call(agent, "PUT", "/v1/acl/policy", ROOT, {"Name": name, "Rules": rules})
    assert status == 200, body
    return body


def _token(agent: AgentProcess, **links: Any) -> dict[str, Any]:
    status, body, _ = call(agent, "PUT", "/v1/acl/token", ROOT, links)
    assert status == 200, body
    return body


def _names(agent: AgentProcess, token: str, path: str = "/v1/health/service/web") -> Any:
    status, body, _ = call(agent, "GET", path, token)
    return status, body


def test_policy_update_and_token_delete_are_seen_by_the_next_read(agent: AgentProcess) -> None:
    pol = _policy(agent, "read-all", 'service_prefix "" { policy = "read" }\nnode_prefix "" { policy = "read" }')
    tok = _token(agent, Policies=[{"ID": pol["ID"]}])
    secret = tok["SecretID"]
    for _ in range(3):  # warm both caches
        status, body = _names(agent, secret)
        assert status == 200 and [e["Service"]["Service"] for e in body] == ["web"]
        status, body, _ = raw_get(agent, "/v1/health/service/web", f"X-Consul-Token: {secret}\r\n")
        assert status == 200 and b'"web"' in body

    # narrow the policy: the next read, on either path, answers nothing for web
    call(agent, "PUT", f"/v1/acl/policy/{pol['ID']}", ROOT,
         {"Name": "read-all", "Rules": 'service "db" { policy = "read" }\nnode_prefix "" { policy = "read" }'})
    status, body, headers = call(agent, "GET", "/v1/health/service/web", secret)
    assert (status, body) == (200, []) and headers.get("X-Consul-Results-Filtered-By-ACLs") == "true"
    status, body, head = raw_get(agent, "/v1/health/service/web", f"X-Consul-Token: {secret}\r\n")
    assert (status, body) == (200, b"[]") and "X-Consul-Results-Filtered-By-ACLs: true" in head
    status, body, _ = raw_get(agent, "/v1/catalog/services", f"Authorization: Bearer {secret}\r\n")
    assert status == 200 and json.loads(body) == {"db": []}

    # widen it again, then delete the token: the next read is refused
    call(agent, "PUT", f"/v1/acl/policy/{pol['ID']}", ROOT,
         {"Name": "read-all", "Rules": 'service_prefix "" { policy = "read" }\nnode_prefix "" { policy = "read" }'})
    for _ in range(2):
        status, body, _ = raw_get(agent, "/v1/health/service/web", f"X-Consul-Token: {secret}\r\n")
        assert status == 200 and b'"web"' in body
    assert call(agent, "DELETE", f"/v1/acl/token/{tok['AccessorID']}", ROOT)[0] == 200
    status, body, _ = raw_get(agent, "/v1/health/service/web", f"X-Consul-Token: {secret}\r\n")
    assert (status, body) == (403, b"ACL not found")
    assert _names(agent, secret) == (403, "ACL not found")


def test_two_tokens_never_share_a_reply(agent: AgentProcess) -> None:
    web = _token(agent, ServiceIdentities=[{"ServiceName": "web"}])["SecretID"]  # reads every service
    only_db = _token(agent, Policies=[{"ID": _policy(agent, "db-only", 'service "db" { policy = "read" }\n'
                                                                      'node_prefix "" { policy = "read" }')["ID"]}])
    for _ in range(3):
        status, body, _ = raw_get(agent, "/v1/catalog/services", f"X-Consul-Token: {web}\r\n")
        assert status == 200 and set(json.loads(body)) == {"consul", "web", "db"}
        status, body, head = raw_get(agent, "/v1/catalog/services", f"X-Consul-Token: {only_db['SecretID']}\r\n")
        assert status == 200 and json.loads(body) == {"db": []}
        assert "X-Consul-Default-ACL-Policy: deny" in head
        status, body, _ = raw_get(agent, "/v1/catalog/services", "")  # anonymous: denied every name
        assert status == 200 and json.loads(body) == {}

    # a role change reaches the token that holds it
    role_pol = _policy(agent, "web-read", 'service "web" { policy = "read" }')
    status, role, _ = call(agent, "PUT", "/v1/acl/role", ROOT, {"Name": "r1"})
    call(agent, "PUT", f"/v1/acl/token/{only_db['AccessorID']}", ROOT,
         {"Policies": [{"Name": "db-only"}], "Roles": [{"ID": role["ID"]}]})
    status, body, _ = raw_get(agent, "/v1/catalog/services", f"X-Consul-Token: {only_db['SecretID']}\r\n")
    assert json.loads(body) == {"db": []}
    call(agent, "PUT", f"/v1/acl/role/{role['ID']}", ROOT, {"Name": "r1", "Policies": [{"ID": role_pol["ID"]}]})
    status, body, _ = raw_get(agent, "/v1/catalog/services", f"X-Consul-Token: {only_db['SecretID']}\r\n")
    assert json.loads(body) == {"db": [], "web": []}
