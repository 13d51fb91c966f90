"""A default-deny agent, walked over every route of the route table and over DNS.

No token, an unknown token, and a token without rights get 403 (or, for the few routes Consul
leaves open, no protected data); the configured initial-management token is never refused.
"""

from __future__ import annotations

import json
import re
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from dnslib import QTYPE, RCODE, DNSRecord

from pyconsul.api.permissions import NEEDS, NONE, canonical
from pyconsul.api.routes import ROUTES
from tests.support.agents import AgentProcess, start_agent

ROOT = "3f0c1b0e-root-secret"
SECRET_VALUE = "TOPSECRET-VALUE"
SAMPLE = {"key": "secret/k", "service": "web", "node": "acl-agent", "id": "web", "name": "web", "state": "any",
          "type": "default", "address": "127.0.0.1", "path": "tokens", "kind": "service-defaults", "gateway": "web"}
# Routes that end or reshape the agent: walked without a token only.
_DISRUPTIVE = {"/v1/agent/leave", "/v1/agent/reload", "/v1/agent/force-leave/{node}", "/v1/snapshot",
               "/v1/operator/raft/peer", "/v1/operator/raft/transfer-leader", "/v1/agent/monitor",
               "/debug/pprof/profile"}  # (answers after its 30 s sampling window)


def _call(agent: AgentProcess, method: str, path: str, token: str | None, body: bytes | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(agent.base_url + path, data=body, method=method)
    if token is not None:
        req.add_header("X-Consul-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


@pytest.fixture(scope="module")
def deny_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    work = tmp_path_factory.mktemp("acl")
    conf = work / "acl.hcl"
    conf.write_text(f'acl {{\n enabled = true\n default_policy = "deny"\n tokens {{ initial_management = "{ROOT}" }}\n}}\n')
    agent = start_agent(work, f"-config-file={conf}", "-dev-allow-unenforced=acl.enabled",
                        "-dev-allow-unenforced=acl.default_policy", name="acl-agent")
    assert _call(agent, "PUT", "/v1/kv/secret/k", ROOT, SECRET_VALUE.encode())[0] == 200
    svc = json.dumps({"Name": "web", "Port": 80}).encode()
    assert _call(agent, "PUT", "/v1/agent/service/register", ROOT, svc)[0] == 200
    yield agent
    agent.stop()


def _path(route: str, **override: str) -> str:
    values = {**SAMPLE, **override}
    return re.sub(r"\{(\w+)(:[^}]*)?\}", lambda m: values[m.group(1)], route)


ROUTE_CASES = sorted({(m, canonical(p)) for m, p, _ in ROUTES})


@pytest.mark.parametrize("method,route", ROUTE_CASES)
def test_no_token_and_unknown_token_are_refused(deny_agent: AgentProcess, method: str, route: str) -> None:
    path = _path(route) + ("?recurse" if route == "/v1/kv/{key}" else "")
    body = b"{}" if method in ("PUT", "POST") else None
    for token, text in ((None, b"Permission denied"), ("not-a-real-secret", b"ACL not found")):
        status, reply = _call(deny_agent, method, path, token, body)
        assert SECRET_VALUE.encode() not in reply
        if NEEDS[(method, route)] == NONE:
            assert status != 403, (method, route, reply)
            continue
        assert status == 403, (method, route, status, reply)
        assert reply.startswith(text), reply


@pytest.mark.parametrize("method,route", [c for c in ROUTE_CASES if c[1] not in _DISRUPTIVE])
def test_the_management_token_is_never_refused(deny_agent: AgentProcess, method: str, route: str) -> None:
    body = b"{}" if method in ("PUT", "POST") else None
    # scratch names, so writes with the management token leave the seeded secret alone
    status, reply = _call(deny_agent, method, _path(route, key="scratch/k", id="scratch"), ROOT, body)
    assert status != 403, (method, route, reply)


def test_management_token_reads_what_anonymous_cannot(deny_agent: AgentProcess) -> None:
    status, reply = _call(deny_agent, "GET", "/v1/kv/secret/k?raw", ROOT)
    assert (status, reply) == (200, SECRET_VALUE.encode())
    status, reply = _call(deny_agent, "GET", "/v1/kv/secret/k?raw", None)
    assert status == 403
    assert reply == b"Permission denied: token with AccessorID '00000000-0000-0000-0000-000000000002' lacks permission 'key:read' on \"secret/k\""


def test_default_policy_header(deny_agent: AgentProcess) -> None:
    req = urllib.request.Request(deny_agent.base_url + "/v1/kv/secret/k", headers={"X-Consul-Token": ROOT})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.headers["X-Consul-Default-ACL-Policy"] == "deny"


def test_token_sources_in_consuls_order(deny_agent: AgentProcess) -> None:
    assert _call(deny_agent, "GET", f"/v1/kv/secret/k?raw&token={ROOT}", None)[0] == 200
    req = urllib.request.Request(deny_agent.base_url + "/v1/kv/secret/k?raw", headers={"Authorization": f"Bearer {ROOT}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.read() == SECRET_VALUE.encode()


def test_dns_with_default_deny_answers_nothing(deny_agent: AgentProcess) -> None:
    for name in ("web.service.consul", "acl-agent.node.consul", "consul.service.consul"):
        q = DNSRecord.question(name, "A")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(5)
            sock.sendto(q.pack(), (deny_agent.host, deny_agent.dns_port))
            reply = DNSRecord.parse(sock.recv(4096))
        assert reply.header.rcode == RCODE.NXDOMAIN and not reply.rr, (name, QTYPE[q.q.qtype])


def test_agent_refuses_to_start_with_acls_unless_allowed_for_development(tmp_path: Path) -> None:
    conf = tmp_path / "acl.hcl"
    conf.write_text('acl { enabled = true }\n')
    agent = start_agent(tmp_path, f"-config-file={conf}", wait=False)
    try:
        agent.proc.wait(timeout=30)
        assert agent.proc.returncode != 0
        assert "acl.enabled" in agent.log_path.read_text()
    finally:
        agent.stop()
