"""Prepared-query failover across two real datacenters, WAN-joined: while dc1 has a healthy
instance the query answers from dc1; once it turns critical the same query (HTTP execute and
DNS `<q>.query.consul`, on a client agent and on a server) answers from dc2, with Consul's
`Datacenter` and `Failovers`. `<q>.query.dc2.consul` runs dc2's own query there.

dc1's client agent has translate_wan_addrs on (its server does not).
Gossip is encrypted (one key for both pools), so the keyring commands reach every datacenter.

Addresses come from this worker's leased loopback /24 (tests/support/ports.py): dc1 on .1-.2,
dc2 on .11, so two xdist workers never share one."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.resolver
import pytest

from pyconsul.coordinate.vivaldi import valid
from tests.support.agents import AgentProcess, start_agent
from tests.support.ports import free_port, loopback
from tests.support.wait import wait_until

KEY1 = base64.b64encode(b"1" * 32).decode()
KEY2 = base64.b64encode(b"2" * 32).decode()
DNS_CONFIG = 'dns_config { service_ttl = { "*" = "%s" } }\n'


@dataclass
class TwoDCs:
    s1: AgentProcess
    c1: AgentProcess
    s2: AgentProcess
    config_dir: Path


def _server(tmp: Path, name: str, host: str, dc: str, wan_port: int, *extra: str) -> AgentProcess:
    return start_agent(tmp / name, "-server", "-bootstrap", "-datacenter", dc, "-data-dir", str(tmp / name / "data"),
                       "-encrypt", KEY1, *extra, dev=False, name=name, host=host, ports={"serf_wan": wan_port}, wait=False)


@pytest.fixture(scope="module")
def two_dcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoDCs]:
    tmp = tmp_path_factory.mktemp("failover")
    wan1, wan2 = free_port(), free_port()
    started: list[AgentProcess] = []
    try:
        (tmp / "s1").mkdir()
        (tmp / "s1" / "dns.hcl").write_text(DNS_CONFIG % "5s")
        s1 = _server(tmp, "s1", loopback(1), "dc1", wan1, "-config-file", str(tmp / "s1" / "dns.hcl"))
        started.append(s1)
        s2 = _server(tmp, "s2", loopback(11), "dc2", wan2, "-retry-join-wan", f"{s1.host}:{wan1}",
                     "-retry-interval-wan", "1s")
        started.append(s2)
        c1 = start_agent(tmp / "c1", "-datacenter", "dc1", "-data-dir", str(tmp / "c1" / "data"), "-encrypt", KEY1,
                         "-retry-join", f"{s1.host}:{s1.serf_lan_port}", "-retry-interval", "1s",
                         "-hcl", "translate_wan_addrs = true",
                         dev=False, name="c1", host=loopback(2), wait=False)
        started.append(c1)
        for a in started:
            a.wait_ready(timeout=60)
        wait_until(lambda: c1.get_json("/v1/catalog/datacenters") == ["dc1", "dc2"], 30, "dc1 to know dc2")
        yield TwoDCs(s1, c1, s2, tmp / "s1")
    finally:
        for a in reversed(started):
            a.stop()


def _resolver(agent: AgentProcess) -> dns.resolver.Resolver:
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = [agent.host]
    res.port = agent.dns_port
    res.lifetime = 5
    return res


def _addresses(res: dns.resolver.Resolver, name: str) -> list[str]:
    try:
        return sorted(r.address for r in res.resolve(name, "A"))
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.exception.Timeout):
        return []


def test_query_fails_over_to_dc2_when_the_local_instance_turns_critical(two_dcs: TwoDCs) -> None:
    s1, c1, s2 = two_dcs.s1, two_dcs.c1, two_dcs.s2
    web = {"Name": "web", "Port": 80, "Check": {"CheckID": "web-ttl", "TTL": "10m", "Status": "passing"}}
    assert c1.request("PUT", "/v1/agent/service/register", web)[0] == 200
    assert s2.request("PUT", "/v1/agent/service/register", {"Name": "web", "Port": 8080})[0] == 200
    status, _, body = c1.request("POST", "/v1/query", {"Name": "web-q", "Service": {
        "Service": "web", "Failover": {"NearestN": 1, "Datacenters": ["dc2", "dc9"]}}})
    assert status == 200, body
    wait_until(lambda: c1.get_json("/v1/health/service/web?passing") != [], 20, "web passing in dc1")
    wait_until(lambda: s2.get_json("/v1/health/service/web?passing") != [], 20, "web passing in dc2")

    here = c1.get_json("/v1/query/web-q/execute")
    assert (here["Datacenter"], here["Failovers"]) == ("dc1", 0)
    assert [n["Node"]["Node"] for n in here["Nodes"]] == ["c1"]
    # The client agent's DNS reads a mirror of the servers' catalog: it has the query soon.
    wait_until(lambda: _addresses(_resolver(c1), "web-q.query.consul") == [c1.host], 20, "web-q in dc1")

    assert c1.request("PUT", "/v1/agent/check/fail/web-ttl")[0] == 200
    wait_until(lambda: c1.get_json("/v1/health/service/web?passing") == [], 20, "web critical in dc1")
    away = c1.get_json("/v1/query/web-q/execute")
    # NearestN 1 picks dc2 (the only other datacenter); the listed dc2 is not tried twice and
    # the unknown dc9 is skipped: one failover.
    assert (away["Datacenter"], away["Failovers"]) == ("dc2", 1)
    assert [(n["Node"]["Node"], n["Service"]["Port"]) for n in away["Nodes"]] == [("s2", 8080)]
    # DNS follows the failover, on the client agent and on dc1's server.
    for agent in (c1, s1):
        got = wait_until(lambda a=agent: _addresses(_resolver(a), "web-q.query.consul"), 20,
                         f"web-q from dc2 via {agent.name}")
        assert got == [s2.host]
    srv = _resolver(c1).resolve("web-q.query.consul", "SRV")
    assert [(r.port, str(r.target)) for r in srv] == [(8080, "s2.node.dc2.consul.")]

    # Healthy again at home: the answer comes back to dc1.
    assert c1.request("PUT", "/v1/agent/check/pass/web-ttl")[0] == 200
    wait_until(lambda: c1.get_json("/v1/query/web-q/execute")["Datacenter"] == "dc1", 20, "back in dc1")
    wait_until(lambda: _addresses(_resolver(c1), "web-q.query.consul") == [c1.host], 20, "web-q back in dc1")


def test_a_query_without_failover_stays_empty(two_dcs: TwoDCs) -> None:
    c1 = two_dcs.c1
    assert two_dcs.s2.request("PUT", "/v1/agent/service/register", {"Name": "only-dc2", "Port": 1})[0] == 200
    assert c1.request("POST", "/v1/query", {"Name": "no-failover", "Service": {"Service": "only-dc2"}})[0] == 200
    out = c1.get_json("/v1/query/no-failover/execute")
    assert (out["Nodes"], out["Datacenter"], out["Failovers"]) == ([], "dc1", 0)
    with pytest.raises(dns.resolver.NXDOMAIN):
        _resolver(c1).resolve("no-failover.query.consul", "A")


def test_query_in_another_datacenter_runs_there(two_dcs: TwoDCs) -> None:
    c1, s2 = two_dcs.c1, two_dcs.s2
    assert s2.request("PUT", "/v1/agent/service/register", {"Name": "api2", "Port": 9000})[0] == 200
    status, _, body = s2.request("POST", "/v1/query", {"Name": "api2-q", "Service": {"Service": "api2"}})
    assert status == 200, body
    wait_until(lambda: s2.get_json("/v1/health/service/api2?passing") != [], 20, "api2 passing in dc2")
    out = c1.get_json("/v1/query/api2-q/execute?dc=dc2")
    assert out["Datacenter"] == "dc2" and out["Nodes"][0]["Node"]["Node"] == "s2"
    assert c1.request("GET", "/v1/query/api2-q/execute")[0] == 404  # not a dc1 query
    got = wait_until(lambda: _addresses(_resolver(c1), "api2-q.query.dc2.consul"), 20, "api2-q.query.dc2")
    assert got == [s2.host]
    assert _addresses(_resolver(two_dcs.s1), "api2-q.query.dc2.consul") == [s2.host]
    with pytest.raises(dns.resolver.NXDOMAIN):
        _resolver(c1).resolve("api2-q.query.consul", "A")


def test_wan_coordinates_come_from_wan_probes(two_dcs: TwoDCs) -> None:
    s1, c1 = two_dcs.s1, two_dcs.c1

    def both() -> dict[str, dict[str, object]] | None:
        maps = {m["Datacenter"]: m for m in c1.get_json("/v1/coordinate/datacenters")}
        return maps if all(maps.get(dc, {}).get("Coordinates") for dc in ("dc1", "dc2")) else None

    maps = wait_until(both, 60, "both datacenters' servers to have WAN coordinates")
    assert {m["AreaID"] for m in maps.values()} == {"wan"}
    coords = {c["Node"]: c for m in maps.values() for c in m["Coordinates"]}  # type: ignore[attr-defined]
    assert sorted(coords) == ["s1.dc1", "s2.dc2"]
    assert valid(coords["s2.dc2"]["Coord"]) and coords["s2.dc2"]["Segment"] == ""
    # The coordinate travels in a WAN tag of ours; the members list shows Consul's tags only.
    assert all("wan_coord" not in m["Tags"] for m in s1.get_json("/v1/agent/members?wan=1"))
    assert c1.get_json("/v1/catalog/datacenters") == ["dc1", "dc2"]
    out = subprocess.run([sys.executable, "-m", "pyconsul", "rtt", "-wan", f"-http-addr={s1.http_addr}", "s2.dc2"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Estimated s2.dc2 <-> s1.dc1 rtt: ") and "(using WAN coordinates)" in out.stdout


def test_a_bodys_datacenter_routes_catalog_writes(two_dcs: TwoDCs) -> None:
    c1, s2 = two_dcs.c1, two_dcs.s2
    reg = {"Datacenter": "dc2", "Node": "ext-db", "Address": "192.0.2.7", "Service": {"Service": "ext", "Port": 1}}
    assert c1.request("PUT", "/v1/catalog/register", reg)[0] == 200
    assert [r["Node"] for r in s2.get_json("/v1/catalog/service/ext")] == ["ext-db"]
    assert c1.get_json("/v1/catalog/service/ext") == []  # not in dc1
    status, _, body = c1.request("PUT", "/v1/catalog/register", {**reg, "datacenter": "dc9"})
    assert (status, body) == (500, b"No path to datacenter")
    assert c1.request("PUT", "/v1/catalog/deregister", {"Datacenter": "dc2", "Node": "ext-db"})[0] == 200
    assert s2.get_json("/v1/catalog/service/ext") == []


def test_a_reloaded_dns_config_reaches_the_other_datacenters_answers(two_dcs: TwoDCs) -> None:
    s1, s2 = two_dcs.s1, two_dcs.s2
    assert s2.request("PUT", "/v1/agent/service/register", {"Name": "ttl-web", "Port": 1})[0] == 200
    wait_until(lambda: s2.get_json("/v1/health/service/ttl-web?passing") != [], 20, "ttl-web passing in dc2")
    res = _resolver(s1)

    def ttl() -> int | None:
        try:
            return int(res.resolve("ttl-web.service.dc2.consul", "A").rrset.ttl)
        except (dns.resolver.NXDOMAIN, dns.exception.Timeout):
            return None

    assert wait_until(ttl, 20, "ttl-web.service.dc2 from dc1") == 5
    (two_dcs.config_dir / "dns.hcl").write_text(DNS_CONFIG % "42s")
    assert s1.request("PUT", "/v1/agent/reload")[0] == 200
    assert wait_until(lambda: ttl() == 42, 20, "the new service_ttl in dc2's answers")


def _keyring(agent: AgentProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pyconsul", "keyring", f"-http-addr={agent.http_addr}", *args],
                          capture_output=True, text=True, timeout=60)


def _pools(out: str) -> dict[str, list[str]]:
    """`keyring -list` output: pool name → its "key [n/m]" lines."""
    pools: dict[str, list[str]] = {}
    current = ""
    for line in out.splitlines():
        if line.endswith(":") and not line.startswith(" "):
            current = line[:-1]
            pools[current] = []
        elif line.startswith("  ") and current:
            pools[current].append(line.strip())
    return pools


def test_keyring_reaches_every_datacenter(two_dcs: TwoDCs) -> None:
    c1, s2 = two_dcs.c1, two_dcs.s2
    listed = _keyring(c1, "-list")
    assert listed.returncode == 0, listed.stderr
    assert _pools(listed.stdout) == {"WAN": [f"{KEY1} [2/2]"], "dc1 (LAN)": [f"{KEY1} [2/2]"],
                                     "dc2 (LAN)": [f"{KEY1} [1/1]"]}
    # -local-only stays in the asking datacenter.
    assert _pools(_keyring(s2, "-list", "-local-only").stdout) == {"dc2 (LAN)": [f"{KEY1} [1/1]"]}

    # Rotate from dc1's client agent: install, use, remove reach dc2's server too.
    for args in (("-install", KEY2), ("-use", KEY2), ("-remove", KEY1)):
        done = _keyring(c1, *args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    assert _pools(_keyring(s2, "-list", "-local-only").stdout) == {"dc2 (LAN)": [f"{KEY2} [1/1]"]}
    primary = _pools(_keyring(c1, "-list-primary").stdout)
    assert primary == {"WAN": [f"{KEY2} [2/2]"], "dc1 (LAN)": [f"{KEY2} [2/2]"], "dc2 (LAN)": [f"{KEY2} [1/1]"]}
    # The WAN pool keeps working on the new key: dc2's server stays alive in dc1's view.
    def s2_alive() -> bool:
        rows = {m["Name"]: m["Status"] for m in two_dcs.s1.get_json("/v1/agent/members?wan=1")}
        return rows.get("s2.dc2") == 1
    assert wait_until(s2_alive, 20, "s2.dc2 alive after the rotation")
    status, _, body = c1.request("DELETE", "/v1/operator/keyring", {"Key": KEY2})
    assert status == 500 and b"Removing the primary key is not allowed" in body, body


def test_translate_wan_addrs_answers_other_datacenters_at_wan_addresses(two_dcs: TwoDCs) -> None:
    s1, c1, s2 = two_dcs.s1, two_dcs.c1, two_dcs.s2
    reg = {"Node": "edge", "Address": "10.1.0.1", "TaggedAddresses": {"lan": "10.1.0.1", "wan": "198.51.100.1"},
           "Service": {"Service": "edge-svc", "Port": 443, "Address": "10.1.0.2",
                       "TaggedAddresses": {"wan": {"Address": "198.51.100.2", "Port": 8443}}},
           "Check": {"CheckID": "edge-alive", "Name": "edge", "Status": "passing", "ServiceID": "edge-svc"}}
    assert s2.request("PUT", "/v1/catalog/register", reg)[0] == 200
    # dc1's server has the setting off: the LAN addresses, as dc2 stores them.
    row = s1.get_json("/v1/catalog/service/edge-svc?dc=dc2")[0]
    assert (row["Address"], row["ServiceAddress"]) == ("10.1.0.1", "10.1.0.2")
    assert "X-Consul-Translate-Addresses" not in s1.request("GET", "/v1/catalog/nodes")[1]
    # dc1's client agent has it on: every answer about dc2's nodes carries their WAN addresses,
    # and every response says translation is on, as Consul's do.
    _, headers, _ = c1.request("GET", "/v1/kv/anything")
    assert headers.get("X-Consul-Translate-Addresses") == "true"
    row = c1.get_json("/v1/catalog/service/edge-svc?dc=dc2")[0]
    assert (row["Address"], row["ServiceAddress"]) == ("198.51.100.1", "198.51.100.2")
    entry = c1.get_json("/v1/health/service/edge-svc?dc=dc2")[0]
    assert (entry["Node"]["Address"], entry["Service"]["Address"]) == ("198.51.100.1", "198.51.100.2")
    assert c1.get_json("/v1/catalog/node/edge?dc=dc2")["Node"]["Address"] == "198.51.100.1"
    nodes = {n["Node"]: n["Address"] for n in c1.get_json("/v1/catalog/nodes?dc=dc2")}
    assert nodes["edge"] == "198.51.100.1"
    # Its own datacenter is never translated.
    assert c1.get_json("/v1/catalog/node/c1")["Node"]["Address"] == c1.host
    # DNS for dc2 answers at the service's WAN address too.
    got = wait_until(lambda: _addresses(_resolver(c1), "edge-svc.service.dc2.consul"), 20, "edge-svc.service.dc2")
    assert got == ["198.51.100.2"]
    # s1's mirror of dc2 starts with the first question about it: wait for it, as above
    assert wait_until(lambda: _addresses(_resolver(s1), "edge-svc.service.dc2.consul"), 20,
                      "edge-svc.service.dc2 on s1") == ["10.1.0.2"]
