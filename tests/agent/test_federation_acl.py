"""ACL replication between two real datacenters, WAN-joined: dc2 (secondary, token
replication on) copies dc1's policies, roles and global tokens, so a token made in dc1 works in
dc2, and stops working there once deleted in dc1; dc2's policy writes are answered by dc1; a
token dc2 makes as local stays dc2's own; `/v1/acl/replication` reports Consul's status.

Addresses come from this worker's leased loopback /24 (tests/support/ports.py): dc1 on .91,
dc2 on .95."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.agents import AgentProcess, start_agent
from tests.support.ports import free_port, loopback
from tests.support.wait import wait_until

ROOT = "6d3b5f3e-0000-4000-8000-00000000r00t".replace("r00t", "0001")
ACL = '''acl {{
  enabled = true
  default_policy = "deny"
  enable_token_replication = {replicate}
  tokens {{
    initial_management = "{root}"
    agent = "{root}"
    replication = "{root}"
  }}
}}
primary_datacenter = "dc1"
'''


@dataclass
class Pair:
    p1: AgentProcess
    q1: AgentProcess


def _server(tmp: Path, name: str, host: str, dc: str, wan: int, replicate: bool, *extra: str) -> AgentProcess:
    conf = tmp / f"{name}.hcl"
    conf.write_text(ACL.format(root=ROOT, replicate="true" if replicate else "false"))
    return start_agent(tmp / name, "-server", "-bootstrap", "-datacenter", dc, "-data-dir", str(tmp / name / "data"),
                       "-config-file", str(conf), *extra, dev=False, name=name, host=host,
                       ports={"serf_wan": wan}, wait=False)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    tmp = tmp_path_factory.mktemp("acl-repl")
    wan1, wan2 = free_port(), free_port()
    started: list[AgentProcess] = []
    try:
        p1 = _server(tmp, "p1", loopback(91), "dc1", wan1, False)
        started.append(p1)
        q1 = _server(tmp, "q1", loopback(95), "dc2", wan2, True, "-retry-join-wan", f"{p1.host}:{wan1}",
                     "-retry-interval-wan", "1s")
        started.append(q1)
        for a in started:
            a.wait_ready(timeout=60)
        wait_until(lambda: _call(q1, "GET", "/v1/catalog/datacenters")[1] == ["dc2", "dc1"], 30, "dc2 to know dc1")
        yield Pair(p1, q1)
    finally:
        for a in reversed(started):
            a.stop()


def _call(agent: AgentProcess, method: str, path: str, body: Any = None, token: str = ROOT) -> tuple[int, Any]:
    import urllib.error
    import urllib.request

    data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
    req = urllib.request.Request(agent.base_url + path, data=data, method=method, headers={"X-Consul-Token": token})
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            raw = resp.read()
            status = resp.status
    except urllib.error.HTTPError as err:
        raw, status = err.read(), err.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def test_a_token_made_in_the_primary_works_in_the_secondary_until_deleted(pair: Pair) -> None:
    p1, q1 = pair.p1, pair.q1
    status, policy = _call(p1, "PUT", "/v1/acl/policy", {"Name": "kv-read", "Rules": 'key_prefix "" { policy = "read" }'})
    assert status == 200, policy
    status, role = _call(p1, "PUT", "/v1/acl/role", {"Name": "readers", "Policies": [{"ID": policy["ID"]}]})
    assert status == 200, role
    status, token = _call(p1, "PUT", "/v1/acl/token", {"Description": "reader", "Roles": [{"ID": role["ID"]}]})
    assert status == 200, token
    assert _call(q1, "PUT", "/v1/kv/repl/k", b"v")[0] == 200

    def replicated() -> bool:
        names = {p["Name"] for p in _call(q1, "GET", "/v1/acl/policies")[1]}
        return "kv-read" in names and _call(q1, "GET", f"/v1/acl/token/{token['AccessorID']}")[0] == 200

    wait_until(replicated, 30, "dc1's policy, role and token in dc2")
    got = _call(q1, "GET", f"/v1/acl/policy/{policy['ID']}")[1]
    assert got["Rules"] == policy["Rules"] and got["Hash"] == policy["Hash"]
    assert [r["Name"] for r in _call(q1, "GET", "/v1/acl/roles")[1]] == ["readers"]
    # The token resolves in dc2 with the replicated role and policy: it reads, and may not write.
    secret = token["SecretID"]
    assert _call(q1, "GET", "/v1/kv/repl/k?raw", token=secret) == (200, "v")
    assert _call(q1, "PUT", "/v1/kv/repl/k", b"w", token=secret)[0] == 403

    status, repl = _call(q1, "GET", "/v1/acl/replication", token="")
    assert status == 200
    assert {k: repl[k] for k in ("Enabled", "Running", "SourceDatacenter", "ReplicationType")} == {
        "Enabled": True, "Running": True, "SourceDatacenter": "dc1", "ReplicationType": "tokens"}
    assert repl["ReplicatedIndex"] > 0 and repl["ReplicatedTokenIndex"] > 0
    # (rounds before the WAN join failed with "No path to datacenter": Consul keeps the last error)
    assert repl["LastSuccess"] != "0001-01-01T00:00:00Z" and repl["LastSuccess"] >= repl["LastError"]
    primary = _call(p1, "GET", "/v1/acl/replication", token="")[1]
    assert (primary["Enabled"], primary["Running"], primary["SourceDatacenter"]) == (False, False, "")

    assert _call(p1, "DELETE", f"/v1/acl/token/{token['AccessorID']}")[0] == 200
    # The leader replicating it forgets its cached identities at once.
    wait_until(lambda: _call(q1, "GET", "/v1/kv/repl/k?raw", token=secret)[0] == 403, 10,
               "the deleted token to stop working in dc2")


def test_secondary_writes_what_the_primary_owns_there_and_keeps_its_local_tokens(pair: Pair) -> None:
    p1, q1 = pair.p1, pair.q1
    status, made = _call(q1, "PUT", "/v1/acl/policy", {"Name": "from-dc2", "Rules": 'node_prefix "" { policy = "read" }'})
    assert status == 200, made
    assert _call(p1, "GET", f"/v1/acl/policy/{made['ID']}")[1]["Name"] == "from-dc2"  # it lives in dc1
    wait_until(lambda: _call(q1, "GET", f"/v1/acl/policy/{made['ID']}")[0] == 200, 30, "from-dc2 back in dc2")
    status, local = _call(q1, "PUT", "/v1/acl/token", {"Description": "dc2 only", "Local": True,
                                                       "Policies": [{"ID": made["ID"]}]})
    assert status == 200 and local["Local"] is True, local
    assert _call(p1, "GET", f"/v1/acl/token/{local['AccessorID']}")[0] != 200  # not in dc1
    # Replication rounds keep running (every second) and leave it alone.
    before = _call(q1, "GET", "/v1/acl/replication", token="")[1]["LastSuccess"]
    wait_until(lambda: _call(q1, "GET", "/v1/acl/replication", token="")[1]["LastSuccess"] != before, 30,
               "another replication round")
    assert _call(q1, "GET", f"/v1/acl/token/{local['AccessorID']}")[0] == 200
    assert _call(q1, "PUT", "/v1/acl/bootstrap") == (401, "ACL support disabled")


def test_with_acls_the_secondary_ca_and_config_entries_follow_the_primary(pair: Pair) -> None:
    """The replication token (here the management token) signs dc2's intermediate request and
    reads dc1's config entries; without a token the roots stay readable."""
    def active(agent: AgentProcess) -> str:
        status, body = _call(agent, "GET", "/v1/connect/ca/roots", token="")
        return str(body.get("ActiveRootID") or "") if status == 200 else ""

    wait_until(lambda: active(pair.q1) and active(pair.q1) == active(pair.p1), 30, "dc2's CA to follow dc1's root")
    status, body = _call(pair.p1, "PUT", "/v1/config", {"Kind": "service-defaults", "Name": "acl-web",
                                                         "Protocol": "http"})
    assert status == 200, body
    wait_until(lambda: _call(pair.q1, "GET", "/v1/config/service-defaults/acl-web")[0] == 200, 30,
               "dc1's entry in dc2")
    assert _call(pair.q1, "GET", "/v1/config/service-defaults/acl-web", token="")[0] == 403
