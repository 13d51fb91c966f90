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

from pyconsul.api.acl_gate import NAMED_IN_HANDLER
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
    agent = start_agent(work, f"-config-file={conf}", name="acl-agent")
    assert _call(agent, "PUT", "/v1/kv/secret/k", ROOT, SECRET_VALUE.encode())[0] == 200
    svc = json.dumps({"Name": "web", "Port": 80}).encode()
    assert _call(agent, "PUT", "/v1/agent/service/register", ROOT, svc)[0] == 200
    yield agent
    agent.stop()


def _path(route: str, **override: str) -> str:
    values = {**SAMPLE, **override}
    return re.sub(r"\{(\w+)(:[^}]*)?\}", lambda m: values[m.group(1)], route)


ROUTE_CASES = sorted({(m, canonical(p)) for m, p, _ in ROUTES})


def _is_list(method: str, route: str) -> bool:
    """Lists answer with the readable rows (none here) instead of 403; a single KV read is refused."""
    return NEEDS[(method, route)].filtered


@pytest.mark.parametrize("method,route", ROUTE_CASES)
def test_no_token_and_unknown_token_are_refused(deny_agent: AgentProcess, method: str, route: str) -> None:
    path = _path(route) + ("?recurse" if route == "/v1/kv/{key}" else "")
    body = b"{}" if method in ("PUT", "POST") else None
    # an unknown secret is refused everywhere a token is read, lists included
    status, reply = _call(deny_agent, method, path, "not-a-real-secret", body)
    assert SECRET_VALUE.encode() not in reply
    if NEEDS[(method, route)] != NONE:
        assert (status, reply) == (403, b"ACL not found"), (method, route, status, reply)
    status, reply = _call(deny_agent, method, path, None, body)
    assert SECRET_VALUE.encode() not in reply
    if NEEDS[(method, route)] == NONE:
        assert status != 403, (method, route, reply)
    elif _is_list(method, route):
        # filtered to nothing: no seeded name, and no filtered header for the anonymous token
        assert status in (200, 404), (method, route, status, reply)
        for seeded in (b'"web"', b"secret/k", b'"acl-agent"'):
            assert seeded not in reply, (method, route, reply)
        assert reply.strip() in (b"", b"[]", b"{}", b"null"), (method, route, reply)
    elif route in NAMED_IN_HANDLER:
        # the body's or the stored object's name is checked: refused, or the request is bad
        assert status in (400, 403, 404) or reply == b"true", (method, route, status, reply)
        if status == 403:
            assert reply.startswith(b"Permission denied"), reply
    else:
        assert status == 403, (method, route, status, reply)
        assert reply.startswith(b"Permission denied"), reply


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


def test_a_secondary_with_acls_refuses_to_start_without_token_replication(tmp_path: Path) -> None:
    conf = tmp_path / "acl.hcl"
    conf.write_text('primary_datacenter = "dc9"\nacl {\n enabled = true\n}\n')
    agent = start_agent(tmp_path, f"-config-file={conf}", wait=False)
    try:
        agent.proc.wait(timeout=30)
        assert agent.proc.returncode != 0
        assert "need acl.enable_token_replication = true" in agent.log_path.read_text()
    finally:
        agent.stop()


def test_token_replication_in_the_primary_is_said_to_do_nothing(tmp_path: Path) -> None:
    conf = tmp_path / "acl.hcl"
    conf.write_text('acl {\n enabled = true\n enable_token_replication = true\n}\n')
    agent = start_agent(tmp_path, f"-config-file={conf}")
    try:
        assert "'acl.enable_token_replication'" in agent.log() and "this is the primary datacenter" in agent.log()
    finally:
        agent.stop()


WEB_ONLY_RULES = 'service "web" { policy = "read" }\nnode_prefix "" { policy = "read" }\n'
# names the web-only token must never see (another local service, another node's service, the
# servers' own "consul" service)
_HIDDEN_SERVICES = (b'"db"', b'"api"', b'"consul"')


def _token_for(agent: AgentProcess, name: str, rules: str) -> str:
    status, body = _call(agent, "PUT", "/v1/acl/policy", ROOT, json.dumps({"Name": name, "Rules": rules}).encode())
    assert status == 200, body
    status, body = _call(agent, "PUT", "/v1/acl/token", ROOT, json.dumps({"Policies": [{"Name": name}]}).encode())
    assert status == 200, body
    return str(json.loads(body)["SecretID"])


def _get(agent: AgentProcess, path: str, token: str) -> tuple[int, bytes, dict[str, str]]:
    req = urllib.request.Request(agent.base_url + path, headers={"X-Consul-Token": token})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read(), dict(err.headers)


@pytest.fixture(scope="module")
def web_token(deny_agent: AgentProcess) -> str:
    db = json.dumps({"Name": "db", "Port": 5432}).encode()
    assert _call(deny_agent, "PUT", "/v1/agent/service/register", ROOT, db)[0] == 200
    other = {"Node": "other-node", "Address": "10.0.0.9", "Service": {"Service": "api", "Port": 1}}
    assert _call(deny_agent, "PUT", "/v1/catalog/register", ROOT, json.dumps(other).encode())[0] == 200
    return _token_for(deny_agent, "web-only", WEB_ONLY_RULES)


LIST_ROUTES = sorted(route for method, route in ROUTE_CASES if method == "GET" and _is_list(method, route))


@pytest.mark.parametrize("route", LIST_ROUTES)
def test_a_web_token_sees_web_and_only_web_in_every_list(deny_agent: AgentProcess, web_token: str, route: str) -> None:
    path = _path(route) + ("?recurse" if route == "/v1/kv/{key}" else "")
    status, reply, _ = _get(deny_agent, path, web_token)
    assert status in (200, 404), (route, status, reply)
    assert SECRET_VALUE.encode() not in reply
    for hidden in _HIDDEN_SERVICES:
        if route == "/v1/agent/members" and hidden == b'"consul"':
            continue  # a server member's tags say role "consul": not a service
        assert hidden not in reply, (route, hidden, reply)


@pytest.mark.parametrize("path,names,dropped", [
    ("/v1/catalog/services", lambda v: set(v), True),
    ("/v1/agent/services", lambda v: {s["Service"] for s in v.values()}, True),
    ("/v1/catalog/service/web", lambda v: {r["ServiceName"] for r in v}, False),
    ("/v1/health/service/web", lambda v: {e["Service"]["Service"] for e in v}, False),
    ("/v1/internal/ui/services", lambda v: {s["Name"] for s in v}, True),
    ("/v1/catalog/node/acl-agent", lambda v: {s["Service"] for s in v["Services"].values()}, True),
    ("/v1/internal/ui/nodes", lambda v: {s["Service"] for n in v for s in n["Services"]}, True),
])
def test_the_web_token_lists_web_with_the_filtered_header(deny_agent: AgentProcess, web_token: str, path: str,
                                                          names: object, dropped: bool) -> None:
    status, reply, headers = _get(deny_agent, path, web_token)
    assert status == 200, reply
    assert names(json.loads(reply)) == {"web"}, reply  # type: ignore[operator]
    # the header only when rows were dropped
    assert headers.get("X-Consul-Results-Filtered-By-ACLs") == ("true" if dropped else None), (path, headers)


def test_a_blocking_list_is_filtered_again_when_it_wakes(deny_agent: AgentProcess, web_token: str) -> None:
    status, _, headers = _get(deny_agent, "/v1/catalog/services", web_token)
    index = int(headers["X-Consul-Index"])
    # a hidden service changes while the query waits: it wakes, and still shows web only
    late = json.dumps({"Node": "other-node", "Address": "10.0.0.9", "Service": {"Service": "late", "Port": 2}})
    import threading

    timer = threading.Timer(0.3, lambda: _call(deny_agent, "PUT", "/v1/catalog/register", ROOT, late.encode()))
    timer.start()
    try:
        status, reply, headers = _get(deny_agent, f"/v1/catalog/services?index={index}&wait=10s", web_token)
    finally:
        timer.join()
    assert status == 200 and int(headers["X-Consul-Index"]) > index
    assert set(json.loads(reply)) == {"web"}


def test_kv_recurse_keeps_readable_keys_and_a_single_key_is_refused(deny_agent: AgentProcess) -> None:
    assert _call(deny_agent, "PUT", "/v1/kv/app/visible", ROOT, b"v")[0] == 200
    assert _call(deny_agent, "PUT", "/v1/kv/app/hidden", ROOT, b"h")[0] == 200
    token = _token_for(deny_agent, "app-visible", 'key "app/visible" { policy = "read" }')
    status, reply, headers = _get(deny_agent, "/v1/kv/app/?recurse", token)
    assert status == 200 and [e["Key"] for e in json.loads(reply)] == ["app/visible"]
    assert headers.get("X-Consul-Results-Filtered-By-ACLs") == "true"
    status, reply, _ = _get(deny_agent, "/v1/kv/app/?keys", token)
    assert (status, json.loads(reply)) == (200, ["app/visible"])
    status, reply, _ = _get(deny_agent, "/v1/kv/app/hidden", token)
    assert status == 403 and b"lacks permission 'key:read' on \"app/hidden\"" in reply
    # everything filtered away: 404, as Consul answers it
    assert _get(deny_agent, "/v1/kv/secret/?recurse", token)[0] == 404
