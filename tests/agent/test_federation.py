"""Two datacenters as real processes, WAN-joined: each side's client agent reads and writes the
other datacenter through its servers, blocking queries wait across the link, DNS answers for
the other datacenter, and a datacenter whose server is down fails fast and recovers."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.resolver
import pytest

from tests.support.agents import AgentProcess, start_agent
from tests.support.ports import free_port
from tests.support.wait import wait_until

DC1_SERVER, DC1_CLIENT = "127.82.0.1", "127.82.0.2"
DC2_SERVER, DC2_CLIENT = "127.82.1.1", "127.82.1.2"
RPC_TIMEOUT = 7.0  # performance.rpc_hold_timeout, Consul's default


@dataclass
class Federation:
    s1: AgentProcess
    c1: AgentProcess
    s2: AgentProcess
    c2: AgentProcess
    wan1: int
    wan2: int


def _server(tmp: Path, name: str, host: str, dc: str, wan_port: int, *extra: str) -> AgentProcess:
    return start_agent(tmp / name, "-server", "-bootstrap", "-datacenter", dc, "-data-dir", str(tmp / name / "data"),
                       *extra, dev=False, name=name, host=host, ports={"serf_wan": wan_port}, wait=False)


def _client(tmp: Path, name: str, host: str, dc: str, server: AgentProcess) -> AgentProcess:
    return start_agent(tmp / name, "-datacenter", dc, "-data-dir", str(tmp / name / "data"),
                       "-retry-join", f"{server.host}:{server.serf_lan_port}", "-retry-interval", "1s",
                       dev=False, name=name, host=host, wait=False)


def _ready(*agents: AgentProcess) -> None:
    for a in agents:  # a loaded machine starts four agents slowly
        a.wait_ready(timeout=60)


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    tmp_path = tmp_path_factory.mktemp("federation")
    wan1, wan2 = free_port(), free_port()
    started: list[AgentProcess] = []
    try:
        s1 = _server(tmp_path, "s1", DC1_SERVER, "dc1", wan1)
        started.append(s1)
        # dc2's server joins dc1 over the WAN by retry_join_wan, so it finds its way back after a restart.
        s2 = _server(tmp_path, "s2", DC2_SERVER, "dc2", wan2, "-retry-join-wan", f"{DC1_SERVER}:{wan1}",
                     "-retry-interval-wan", "1s")
        started.append(s2)
        c1 = _client(tmp_path, "c1", DC1_CLIENT, "dc1", s1)
        started.append(c1)
        c2 = _client(tmp_path, "c2", DC2_CLIENT, "dc2", s2)
        started.append(c2)
        _ready(s1, s2, c1, c2)
        fed = Federation(s1, c1, s2, c2, wan1, wan2)
        wait_until(lambda: c1.get_json("/v1/catalog/datacenters") == ["dc1", "dc2"], 20, "dc1 to know dc2")
        wait_until(lambda: c2.get_json("/v1/catalog/datacenters") == ["dc2", "dc1"], 20, "dc2 to know dc1")
        yield fed
    finally:
        for a in reversed(started):
            a.stop()


def test_wan_pool_lists_servers_only_named_node_dot_dc(federation: Federation) -> None:
    members = federation.s1.get_json("/v1/agent/members?wan=1")
    by_name = {m["Name"]: m for m in members}
    assert sorted(by_name) == ["s1.dc1", "s2.dc2"]
    assert by_name["s2.dc2"]["Port"] == federation.wan2 and by_name["s2.dc2"]["Tags"]["dc"] == "dc2"
    assert by_name["s2.dc2"]["Tags"]["port"] == str(federation.s2.server_port)
    # Client agents are in no WAN pool, and cannot join one.
    assert federation.c1.get_json("/v1/agent/members?wan=1") == []
    status, _, body = federation.c1.request("PUT", f"/v1/agent/join/{DC2_SERVER}:{federation.wan2}?wan=1")
    assert status == 500 and b"Must be a server to join WAN cluster" in body


def test_kv_and_catalog_across_datacenters_through_client_agents(federation: Federation) -> None:
    c1, c2 = federation.c1, federation.c2
    assert c1.request("PUT", "/v1/kv/shared/from-dc1?dc=dc2", b"written-in-dc1")[0] == 200
    assert c2.request("GET", "/v1/kv/shared/from-dc1?raw")[2] == b"written-in-dc1"  # it lives in dc2
    status, _, _ = c1.request("GET", "/v1/kv/shared/from-dc1")
    assert status == 404  # ... and not in dc1
    assert c2.request("PUT", "/v1/kv/back?dc=dc1", b"hi")[0] == 200
    assert c1.request("GET", "/v1/kv/back?raw")[2] == b"hi"
    # dc2's own index and headers come back through dc1.
    _, direct_headers, _ = c2.request("GET", "/v1/kv/shared/from-dc1")
    _, via_headers, body = c1.request("GET", "/v1/kv/shared/from-dc1?dc=dc2")
    assert via_headers["X-Consul-Index"] == direct_headers["X-Consul-Index"]
    assert via_headers["X-Consul-KnownLeader"] == "true"
    assert json.loads(body)[0]["Key"] == "shared/from-dc1"
    # Catalog: a service registered on dc2's client is visible from dc1 with ?dc=dc2.
    assert c2.request("PUT", "/v1/agent/service/register", {"Name": "web", "Port": 8080})[0] == 200
    wait_until(lambda: c1.get_json("/v1/catalog/service/web?dc=dc2") != [], 15, "web in dc2 seen from dc1")
    row = c1.get_json("/v1/catalog/service/web?dc=dc2")[0]
    assert row["Datacenter"] == "dc2" and row["Node"] == "c2" and row["ServicePort"] == 8080
    assert c1.get_json("/v1/catalog/service/web") == []
    assert "c2" in [n["Node"] for n in c1.get_json("/v1/catalog/nodes?dc=dc2")]
    # A catalog write names the other datacenter and lands there.
    reg = {"Node": "ext", "Address": "192.0.2.9", "Service": {"Service": "db", "Port": 5432}}
    assert c1.request("PUT", "/v1/catalog/register?dc=dc2", reg)[0] == 200
    assert c2.get_json("/v1/catalog/service/db")[0]["Address"] == "192.0.2.9"
    # An unknown datacenter has no path.
    status, _, body = c1.request("GET", "/v1/kv/x?dc=dc9")
    assert (status, body) == (500, b"No path to datacenter")


def test_blocking_query_waits_across_datacenters(federation: Federation) -> None:
    c1, c2 = federation.c1, federation.c2
    assert c2.request("PUT", "/v1/kv/watched", b"v1")[0] == 200
    _, headers, _ = c1.request("GET", "/v1/kv/watched?dc=dc2")
    index = int(headers["X-Consul-Index"])
    result: dict[str, object] = {}

    def block() -> None:
        started = time.monotonic()
        status, h, body = c1.request("GET", f"/v1/kv/watched?dc=dc2&index={index}&wait=30s&raw", timeout=40)
        result.update(status=status, index=int(h["X-Consul-Index"]), body=body, took=time.monotonic() - started)

    t = threading.Thread(target=block)
    t.start()
    time.sleep(0.5)  # not synchronisation: the write below must come after the query has blocked for a while
    assert "status" not in result  # still waiting
    assert c2.request("PUT", "/v1/kv/watched", b"v2")[0] == 200
    t.join(20)
    assert result["status"] == 200 and result["body"] == b"v2"
    assert int(result["index"]) > index  # type: ignore[call-overload]


def test_dns_answers_for_the_other_datacenter(federation: Federation) -> None:
    c1, c2 = federation.c1, federation.c2
    assert c2.request("PUT", "/v1/agent/service/register", {"Name": "api", "Port": 9090})[0] == 200
    wait_until(lambda: federation.s2.get_json("/v1/health/service/api?passing") != [], 15)
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = [c1.host]
    res.port = c1.dns_port
    res.lifetime = 5
    answer = wait_until(lambda: res.resolve("api.service.dc2.consul", "A"), 20, "api.service.dc2 from dc1",
                        ignore=(dns.resolver.NXDOMAIN, dns.exception.Timeout))
    assert [r.address for r in answer] == [DC2_CLIENT]
    node = res.resolve("c2.node.dc2.consul", "A")
    assert [r.address for r in node] == [DC2_CLIENT]
    with pytest.raises(dns.resolver.NXDOMAIN):
        res.resolve("api.service.consul", "A")  # not in dc1


def _cli(agent: AgentProcess, command: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`pyconsul <command words> -http-addr=<agent> <args>` (flags go before positional arguments)."""
    return subprocess.run([sys.executable, "-m", "pyconsul", *command.split(), f"-http-addr={agent.http_addr}", *args],
                          capture_output=True, text=True, timeout=60)


def test_cli_and_templates_name_the_other_datacenter(federation: Federation, tmp_path: Path) -> None:
    c1, c2 = federation.c1, federation.c2
    put = _cli(c1, "kv put", "-datacenter=dc2", "cli/key", "from-cli")
    assert put.returncode == 0, put.stderr
    assert c2.request("GET", "/v1/kv/cli/key?raw")[2] == b"from-cli"
    got = _cli(c1, "kv get", "-datacenter=dc2", "cli/key")
    assert got.stdout.strip() == "from-cli"
    assert _cli(c1, "kv get", "cli/key").returncode == 1  # not in dc1
    assert c2.request("PUT", "/v1/agent/service/register", {"Name": "tmpl-web", "Port": 7070})[0] == 200
    wait_until(lambda: c1.get_json("/v1/health/service/tmpl-web?dc=dc2&passing") != [], 15)
    services = _cli(c1, "catalog services", "-datacenter=dc2")
    assert "tmpl-web" in services.stdout.split(), services.stderr
    assert _cli(c1, "catalog datacenters").stdout.split() == ["dc1", "dc2"]
    wan = _cli(federation.s1, "members", "-wan")
    lines = wan.stdout.splitlines()
    assert lines[0].split() == ["Node", "Address", "Status", "Type", "Build", "Protocol", "DC", "Partition", "Segment"]
    rows = {ln.split()[0]: ln.split() for ln in lines[1:]}
    assert rows["s2.dc2"][1:4] == [f"{DC2_SERVER}:{federation.wan2}", "alive", "server"]
    assert rows["s2.dc2"][6] == "dc2"
    # pytemplate: a service of another datacenter, and the datacenters list.
    src, out = tmp_path / "in.ctmpl", tmp_path / "out"
    src.write_text('{{ range service "tmpl-web@dc2" }}{{ .Address }}:{{ .Port }}{{ end }}|'
                   '{{ range datacenters }}{{ . }} {{ end }}')
    proc = subprocess.run([sys.executable, "-m", "pytemplate", "-once", "-consul-addr", c1.http_addr,
                           "-template", f"{src}:{out}"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == f"{DC2_CLIENT}:7070|dc1 dc2 "


def test_a_datacenter_whose_server_is_down_fails_fast_and_recovers(federation: Federation) -> None:
    c1, s2 = federation.c1, federation.s2
    assert c1.request("PUT", "/v1/kv/k?dc=dc2", b"before")[0] == 200
    s2.stop()
    started = time.monotonic()
    status, _, body = c1.request("GET", "/v1/kv/k?dc=dc2&raw", timeout=30)
    took = time.monotonic() - started
    assert status == 500, body
    assert took < RPC_TIMEOUT, took
    # dc1 keeps serving itself meanwhile.
    assert c1.request("PUT", "/v1/kv/local", b"ok")[0] == 200
    s2.restart(timeout=60)
    wait_until(lambda: c1.request("GET", "/v1/kv/k?dc=dc2&raw")[2] == b"before", 30, "dc2 reachable again")
