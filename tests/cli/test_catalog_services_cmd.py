"""`consul catalog ...` and `consul services register|deregister` against a real agent."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.cli.cli_run import Result, consul
from tests.support.agents import AgentProcess
from tests.support.wait import WaitTimeout, wait_until


def eventually(args: list[str], addr: str, pred: Callable[[Result], bool], timeout: float = 10.0) -> Result:
    """Agent registrations reach the catalog through anti-entropy, a moment later (as in Consul)."""
    seen: list[Result] = []

    def holds() -> bool:
        seen.append(consul(*args, addr=addr))
        return pred(seen[-1])

    try:
        wait_until(holds, timeout, what=f"consul {' '.join(args)}", interval=0.1)
    except WaitTimeout:
        pass  # the caller asserts on the last answer, which shows what was wrong
    return seen[-1]


def test_datacenters(shared_agent: AgentProcess) -> None:
    r = consul("catalog", "datacenters", addr=shared_agent.http_addr)
    assert (r.code, r.out) == (0, "dc1\n")


def test_nodes_table(shared_agent: AgentProcess) -> None:
    r = consul("catalog", "nodes", addr=shared_agent.http_addr)
    assert r.code == 0
    header, row = r.out.splitlines()
    assert header.split() == ["Node", "ID", "Address", "DC"]
    node_id = shared_agent.get_json("/v1/agent/self")["Config"]["NodeID"]
    assert row.split() == ["agent", node_id[:8], "127.0.0.1", "dc1"]
    # Columns line up: each header starts where its values start.
    assert header.index("Address") == row.index("127.0.0.1")
    r = consul("catalog", "nodes", "-detailed", addr=shared_agent.http_addr)
    header, row = r.out.splitlines()
    assert header.split()[:6] == ["Node", "ID", "Address", "DC", "TaggedAddresses", "Meta"]
    assert node_id in row and "lan=127.0.0.1" in row


def test_services_register_flags_tags_and_nodes_filter(shared_agent: AgentProcess) -> None:
    addr = shared_agent.http_addr
    r = consul("services", "register", "-name=web", "-id=web-1", "-port=8080", "-tag=v1", "-tag=blue",
               "-meta=team=core", addr=addr)
    assert (r.code, r.out) == (0, "Registered service: web\n")
    svc = shared_agent.get_json("/v1/agent/service/web-1")
    assert (svc["Service"], svc["Port"], svc["Tags"], svc["Meta"]) == ("web", 8080, ["v1", "blue"], {"team": "core"})
    r = eventually(["catalog", "services"], addr, lambda r: "web\n" in r.out)
    assert "web\n" in r.out and r.out.startswith("consul\n")
    r = consul("catalog", "services", "-tags", addr=addr)
    web_line = next(ln for ln in r.out.splitlines() if ln.startswith("web"))
    assert web_line.split() == ["web", "blue,v1"]
    r = consul("catalog", "nodes", "-service=web", addr=addr)
    assert r.out.splitlines()[1].split()[0] == "agent"
    r = consul("catalog", "services", "-node=agent", addr=addr)
    assert "web" in r.out.split()
    r = consul("services", "deregister", "-id=web-1", addr=addr)
    assert (r.code, r.out) == (0, "Deregistered service: web-1\n")
    r = eventually(["catalog", "services"], addr, lambda r: "web" not in r.out.split())
    assert "web" not in r.out.split()


def test_no_matches_message(shared_agent: AgentProcess) -> None:
    r = consul("catalog", "nodes", "-service=nothing-like-this", addr=shared_agent.http_addr)
    assert (r.code, r.out, r.err) == (0, "", "No nodes match the given query - try expanding your search.\n")
    r = consul("catalog", "services", "-node=no-such-node", addr=shared_agent.http_addr)
    assert (r.code, r.err) == (0, "No services match the given query - try expanding your search.\n")


def test_register_from_json_and_hcl_files(shared_agent: AgentProcess, tmp_path: Path) -> None:
    addr = shared_agent.http_addr
    web = tmp_path / "web.json"
    web.write_text(json.dumps({"service": {
        "name": "filesvc", "id": "filesvc-1", "port": 9000, "tags": ["primary"],
        "meta": {"Some_Key": "kept"},
        "check": {"id": "filesvc-ttl", "name": "ttl check", "ttl": "30s"},
    }}))
    db = tmp_path / "db.hcl"
    db.write_text('service {\n  name = "hcldb"\n  port = 5432\n  tags = ["pg"]\n'
                  '  meta {\n    version = "15"\n  }\n}\n')
    r = consul("services", "register", str(web), str(db), addr=addr)
    assert (r.code, r.out) == (0, "Registered service: filesvc\nRegistered service: hcldb\n"), r.err
    svc = shared_agent.get_json("/v1/agent/service/filesvc-1")
    assert (svc["Port"], svc["Tags"], svc["Meta"]) == (9000, ["primary"], {"Some_Key": "kept"})
    checks = shared_agent.get_json("/v1/agent/checks")
    assert "filesvc-ttl" in checks and checks["filesvc-ttl"]["ServiceID"] == "filesvc-1"
    hcl = shared_agent.get_json("/v1/agent/service/hcldb")
    assert (hcl["Port"], hcl["Tags"], hcl["Meta"]) == (5432, ["pg"], {"version": "15"})
    r = consul("services", "deregister", str(web), str(db), addr=addr)
    assert (r.code, r.out) == (0, "Deregistered service: filesvc-1\nDeregistered service: hcldb\n")


def test_register_argument_errors(tmp_path: Path) -> None:
    r = consul("services", "register")
    assert (r.code, r.err) == (1, "Service registration requires at least one argument or flags.\n")
    r = consul("services", "register", "-name=x", "file.json")
    assert (r.code, r.err) == (1, "Service registration requires arguments or -id, not both.\n")
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    r = consul("services", "register", str(bad))
    assert r.code == 1 and r.err.startswith("Error: Error parsing ")
    typo = tmp_path / "typo.json"
    typo.write_text('{"service": {"nme": "x"}}')
    r = consul("services", "register", str(typo))
    assert r.code == 1 and "invalid config key service.nme" in r.err
    r = consul("services", "deregister")
    assert (r.code, r.err) == (1, "Service deregistration requires at least one argument or -id.\n")
