"""End to end: a real `pyconsul agent -dev`, services registered over HTTP, answered over DNS by dig,
dnspython and a dnsmasq that forwards `.consul` to the agent (as the walkthrough's CoreDNS does)."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import pytest

from tests.dns.procs import dnsmasq
from tests.support.agents import AgentProcess, start_agent
from tests.support.wait import wait_until


def dig(port: int, *args: str) -> str:
    cmd = ["dig", "@127.0.0.1", "-p", str(port), "+time=2", "+tries=2", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout


def register(agent: AgentProcess, node: str, address: str, service: dict[str, object] | None = None,
             check: dict[str, object] | None = None) -> None:
    body: dict[str, object] = {"Node": node, "Address": address}
    if service:
        body["Service"] = service
    if check:
        body["Check"] = check
    status, _, text = agent.request("PUT", "/v1/catalog/register", body)
    assert status == 200, text


@pytest.fixture(scope="module")
def agent(shared_agent: AgentProcess) -> AgentProcess:
    # The walkthrough: registrator put a MySQL container on 172.16.0.2 into the catalog.
    register(shared_agent, "docker-host-1", "172.19.0.3",
             {"ID": "r-3306-mysql-1", "Service": "r-3306-mysql", "Address": "172.16.0.2", "Port": 3306})
    for i in range(4):
        register(shared_agent, f"web-{i}", f"10.20.0.{i + 1}",
                 {"ID": "web", "Service": "web", "Port": 8080 + i, "Tags": ["blue" if i % 2 else "green"]},
                 {"CheckID": "service:web", "Name": "http", "Status": "passing", "ServiceID": "web"})
    return shared_agent


def test_walkthrough_dig_short(agent: AgentProcess) -> None:
    assert dig(agent.dns_port, "r-3306-mysql.service.consul", "+short").split() == ["172.16.0.2"]
    srv = dig(agent.dns_port, "+short", "SRV", "r-3306-mysql.service.consul").split()
    assert srv == ["1", "1", "3306", "ac100002.addr.dc1.consul."]


def test_dig_udp_tcp_srv_ptr(agent: AgentProcess) -> None:
    web = {f"10.20.0.{i + 1}" for i in range(4)}
    assert set(dig(agent.dns_port, "+short", "web.service.consul").split()) == web
    assert set(dig(agent.dns_port, "+tcp", "+short", "web.service.dc1.consul").split()) == web
    assert set(dig(agent.dns_port, "+short", "blue.web.service.consul").split()) == {"10.20.0.2", "10.20.0.4"}
    srv = dig(agent.dns_port, "SRV", "_web._green.service.consul")
    assert "ANSWER: 2" in srv and "web-0.node.dc1.consul." in srv and "ADDITIONAL: " in srv
    assert dig(agent.dns_port, "+short", "-x", "10.20.0.3").split() == ["web-2.node.dc1.consul."]
    assert dig(agent.dns_port, "+short", "web-1.node.consul").split() == ["10.20.0.2"]


def test_nxdomain_and_nodata(agent: AgentProcess) -> None:
    out = dig(agent.dns_port, "no-such-service.service.consul")
    assert "status: NXDOMAIN" in out and "AUTHORITY: 1" in out and "SOA" in out
    out = dig(agent.dns_port, "AAAA", "web.service.consul")
    assert "status: NOERROR" in out and "ANSWER: 0" in out and "AUTHORITY: 1" in out


def test_health_changes_show_up_in_dns(agent: AgentProcess) -> None:
    register(agent, "flappy", "10.30.0.1", {"ID": "pay", "Service": "pay", "Port": 1},
             {"CheckID": "service:pay", "Name": "pay", "Status": "critical", "ServiceID": "pay"})
    q = dns.message.make_query("pay.service.consul", "A")

    def rcode() -> int:
        return dns.query.udp(q, "127.0.0.1", port=agent.dns_port, timeout=3).rcode()

    assert rcode() == dns.rcode.NXDOMAIN
    register(agent, "flappy", "10.30.0.1", None,
             {"CheckID": "service:pay", "Name": "pay", "Status": "passing", "ServiceID": "pay"})
    wait_until(lambda: rcode() == dns.rcode.NOERROR, 10.0)
    reply = dns.query.tcp(q, "127.0.0.1", port=agent.dns_port, timeout=3)
    assert [r.address for r in reply.answer[0]] == ["10.30.0.1"]


def test_dnsmasq_forwards_consul_to_the_agent(agent: AgentProcess, tmp_path: Path) -> None:
    with dnsmasq(tmp_path, f"server=/consul/127.0.0.1#{agent.dns_port}") as port:
        assert dig(port, "+short", "r-3306-mysql.service.consul").split() == ["172.16.0.2"]
        srv = dig(port, "SRV", "web.service.consul")
        assert "status: NOERROR" in srv and srv.count("\tSRV\t") == 4
        assert "status: NXDOMAIN" in dig(port, "missing.service.consul")
        assert set(dig(port, "+tcp", "+short", "web.service.consul").split()) == {
            f"10.20.0.{i + 1}" for i in range(4)}


def test_dns_config_from_file_and_reload(tmp_path: Path) -> None:
    cfg = tmp_path / "dns.json"
    cfg.write_text(json.dumps({"dns_config": {"node_ttl": "5s", "service_ttl": {"*": "3s"}}}))
    agent = start_agent(tmp_path, "-config-file", str(cfg))
    try:
        def ttl(name: str) -> str:
            return dig(agent.dns_port, name, "+noall", "+answer").split("\t")[1]

        assert ttl("agent.node.consul") == "5" and ttl("consul.service.consul") == "3"
        cfg.write_text(json.dumps({"dns_config": {"node_ttl": "7s"}}))
        agent.signal(signal.SIGHUP)  # the cached replies must follow the reloaded settings
        wait_until(lambda: ttl("agent.node.consul") == "7", 10.0)
        assert ttl("consul.service.consul") == "0"
    finally:
        agent.stop()


def test_agent_forwards_other_names_to_its_recursor(tmp_path: Path) -> None:
    with dnsmasq(tmp_path / "upstream", "host-record=www.example.test,192.0.2.80", "local=/example.test/") as up:
        agent = start_agent(tmp_path / "agent", "-recursor", f"127.0.0.1:{up}")
        try:
            out = dig(agent.dns_port, "www.example.test")
            assert "status: NOERROR" in out and "192.0.2.80" in out and " ra" in out.split("flags:")[1].split(";")[0]
            assert "status: NXDOMAIN" in dig(agent.dns_port, "nope.example.test")
            assert dig(agent.dns_port, "+short", "agent.node.consul").split() == ["127.0.0.1"]
        finally:
            agent.stop()


def test_prepared_query_names_answer_from_the_executed_query(agent: AgentProcess) -> None:
    """`<query>.query.consul` (and `.query.<dc>.consul`) answer with what the query executes to:
    its tag filter applies, its DNS TTL is the record TTL, a template renders the name asked."""
    body = {"Name": "web-blue", "Service": {"Service": "web", "Tags": ["blue"]}, "DNS": {"TTL": "7s"}}
    status, _, text = agent.request("POST", "/v1/query", body)
    assert status == 200, text
    blue = ["10.20.0.2", "10.20.0.4"]
    assert sorted(dig(agent.dns_port, "web-blue.query.consul", "+short").split()) == blue
    assert sorted(dig(agent.dns_port, "web-blue.query.dc1.consul", "+short").split()) == blue
    qid = json.loads(text)["ID"]
    assert sorted(dig(agent.dns_port, f"{qid}.query.consul", "+short").split()) == blue
    answer = dig(agent.dns_port, "web-blue.query.consul", "+noall", "+answer")
    assert all(line.split()[1] == "7" for line in answer.splitlines() if line.strip())
    srv = dig(agent.dns_port, "web-blue.query.consul", "SRV", "+short").split("\n")
    assert sorted(line.split()[2] for line in srv if line) == ["8081", "8083"]
    assert "status: NXDOMAIN" in dig(agent.dns_port, "no-such-query.query.consul")
    # A template: `green-any.query.consul` renders to the tag the name carries.
    tmpl = {"Name": "tagged-", "Template": {"Type": "name_prefix_match", "Regexp": "^tagged-(.+)$"},
            "Service": {"Service": "web", "Tags": ["${match(1)}"]}}
    assert agent.request("POST", "/v1/query", tmpl)[0] == 200
    assert sorted(dig(agent.dns_port, "tagged-green.query.consul", "+short").split()) == ["10.20.0.1", "10.20.0.3"]
    # A new definition is answered at once (the reply cache follows the query table's index).
    agent.request("PUT", f"/v1/query/{qid}", {"Name": "web-blue", "Service": {"Service": "web", "Tags": ["green"]}})
    assert sorted(dig(agent.dns_port, "web-blue.query.consul", "+short").split()) == ["10.20.0.1", "10.20.0.3"]


def test_prepared_query_with_near_answers_nearest_first_every_time(agent: AgentProcess) -> None:
    """`Near: _agent` orders a query's DNS answer by estimated RTT from this agent (coordinates
    written before the first lookup); the order is not rotated between replies."""
    me = agent.get_json("/v1/agent/self")["Config"]["NodeName"]
    for node, x in ((me, 0.0), ("web-0", 0.040), ("web-1", 0.010), ("web-2", 0.030), ("web-3", 0.020)):
        coord = {"Vec": [x] + [0.0] * 7, "Error": 0.2, "Adjustment": 0.0, "Height": 1e-5}
        assert agent.request("PUT", "/v1/coordinate/update", {"Node": node, "Coord": coord})[0] == 200
    body = {"Name": "web-near", "Service": {"Service": "web", "Near": "_agent"}}
    assert agent.request("POST", "/v1/query", body)[0] == 200
    nearest_first = ["10.20.0.2", "10.20.0.4", "10.20.0.3", "10.20.0.1"]
    for _ in range(4):
        assert dig(agent.dns_port, "web-near.query.consul", "+short").split() == nearest_first
    # Coordinates move without the catalog changing; the cached, sorted answer follows them.
    for node, x in (("web-0", 0.001), ("web-1", 0.050)):
        coord = {"Vec": [x] + [0.0] * 7, "Error": 0.2, "Adjustment": 0.0, "Height": 1e-5}
        assert agent.request("PUT", "/v1/coordinate/update", {"Node": node, "Coord": coord})[0] == 200
    moved = ["10.20.0.1", "10.20.0.4", "10.20.0.3", "10.20.0.2"]
    wait_until(lambda: dig(agent.dns_port, "web-near.query.consul", "+short").split() == moved, 10.0,
               "the answer to follow the new coordinates")
