"""The resolver over a real StateStore filled through the FSM: pure, no sockets."""

from __future__ import annotations

import ipaddress
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyconsul.config.runtime import DNSConfig, RuntimeConfig
from pyconsul.dns import records as r
from pyconsul.dns.resolver import meta_text, question_from_name, resolve, service_ttl
from tests.dns.catalog import Catalog

QT = {"A": r.T_A, "AAAA": r.T_AAAA, "SRV": r.T_SRV, "TXT": r.T_TXT, "ANY": r.T_ANY, "PTR": r.T_PTR,
      "SOA": r.T_SOA, "NS": r.T_NS, "MX": 15, "AXFR": r.T_AXFR}


def cfg(**dns: Any) -> RuntimeConfig:
    return RuntimeConfig(node_name="agent1", datacenter="dc1", dns_config=DNSConfig(**dns))


def ask(cat: Catalog, name: str, qtype: str = "A", config: RuntimeConfig | None = None, seed: int = 0) -> r.Answer:
    return resolve(question_from_name(name, QT[qtype]), cat.store.catalog, config or cfg(), random.Random(seed))


def rdata(rrs: list[Any], rtype: int | None = None) -> list[str]:
    return [str(rr.rdata) for rr in rrs if rtype is None or rr.rtype == rtype]


@pytest.fixture
def cat() -> Catalog:
    c = Catalog()
    c.service("n1", "10.0.0.1", "web", 8080, status="passing", tags=["v1", "primary"])
    c.service("n2", "10.0.0.2", "web", 8081, status="warning", tags=["v2"])
    c.service("n3", "10.0.0.3", "web", 8082, status="critical", tags=["v1"])
    c.service("n4", "10.0.0.4", "db", 5432, status="passing")
    return c


def test_service_a_returns_only_healthy_instances(cat: Catalog) -> None:
    ans = ask(cat, "web.service.consul.")
    assert ans.rcode == r.NOERROR and ans.authoritative
    assert sorted(rdata(ans.answer, r.T_A)) == ["10.0.0.1", "10.0.0.2"]
    assert all(str(rr.rname) == "web.service.consul." for rr in ans.answer)
    assert ans.rotate and ans.a_limited


def test_only_passing_drops_warning_instances(cat: Catalog) -> None:
    ans = ask(cat, "web.service.consul.", config=cfg(only_passing=True))
    assert rdata(ans.answer) == ["10.0.0.1"]


def test_a_failing_node_check_hides_every_service_on_the_node(cat: Catalog) -> None:
    cat.node_check("n1", "critical")
    assert rdata(ask(cat, "web.service.consul.").answer) == ["10.0.0.2"]
    cat.node_check("n1", "maintenance", check_id="_node_maintenance")
    cat.node_check("n1", "passing")
    assert rdata(ask(cat, "web.service.consul.").answer) == ["10.0.0.2"]


def test_no_healthy_instance_is_nxdomain_with_soa(cat: Catalog) -> None:
    cat.node_check("n4", "critical")
    for name in ("db.service.consul.", "nothing.service.consul.", "web.service.dc2.consul."):
        ans = ask(cat, name)
        assert ans.rcode == r.NXDOMAIN and not ans.answer
        assert [rr.rtype for rr in ans.authority] == [r.T_SOA]
        assert str(ans.authority[0].rname) == "consul."


def test_tags_filter_case_insensitively(cat: Catalog) -> None:
    assert rdata(ask(cat, "V1.web.service.consul.").answer) == ["10.0.0.1"]  # n3 (v1) is critical
    assert rdata(ask(cat, "_web._v2.service.consul.", "SRV").answer) == ["1 1 8081 n2.node.dc1.consul."]
    assert ask(cat, "v9.web.service.consul.").rcode == r.NXDOMAIN


def test_srv_targets_nodes_with_addresses_as_additional(cat: Catalog) -> None:
    ans = ask(cat, "_web._tcp.service.consul.", "SRV")
    assert sorted(rdata(ans.answer)) == ["1 1 8080 n1.node.dc1.consul.", "1 1 8081 n2.node.dc1.consul."]
    extra = {str(rr.rname): str(rr.rdata) for rr in ans.all_additional() if rr.rtype == r.T_A}
    assert extra == {"n1.node.dc1.consul.": "10.0.0.1", "n2.node.dc1.consul.": "10.0.0.2"}


def test_srv_weights_follow_health() -> None:
    c = Catalog()
    c.service("n1", "10.0.0.1", "api", 1, status="passing", weights={"Passing": 10, "Warning": 2})
    c.service("n2", "10.0.0.2", "api", 2, status="warning", weights={"Passing": 10, "Warning": 2})
    assert sorted(rdata(ask(c, "api.service.consul.", "SRV").answer)) == [
        "1 10 1 n1.node.dc1.consul.", "1 2 2 n2.node.dc1.consul."]


def test_service_address_gives_addr_target_and_a_record() -> None:
    c = Catalog()
    c.service("n1", "10.0.0.1", "api", 9000, service_address="192.168.5.5", status="passing")
    c.service("n2", "10.0.0.2", "api", 9000, service_address="2001:db8::5", sid="api6", status="passing")
    a = ask(c, "api.service.consul.")
    assert rdata(a.answer) == ["192.168.5.5"]
    assert rdata(ask(c, "api.service.consul.", "AAAA").answer) == ["2001:db8::5"]
    assert sorted(rdata(ask(c, "api.service.consul.", "ANY").answer)) == ["192.168.5.5", "2001:db8::5"]
    srv = ask(c, "api.service.consul.", "SRV")
    assert sorted(rdata(srv.answer)) == [
        "1 1 9000 20010db8000000000000000000000005.addr.dc1.consul.",
        "1 1 9000 c0a80505.addr.dc1.consul.",
    ]
    assert sorted((str(x.rname), str(x.rdata)) for x in srv.all_additional()) == [
        ("20010db8000000000000000000000005.addr.dc1.consul.", "2001:db8::5"),
        ("c0a80505.addr.dc1.consul.", "192.168.5.5"),
    ]


def test_hostname_addresses_become_cnames() -> None:
    c = Catalog()
    c.service("ext", "10.9.9.9", "search", 443, service_address="search.example.com", status="passing")
    a = ask(c, "search.service.consul.")
    assert [(rr.rtype, str(rr.rdata)) for rr in a.answer] == [(r.T_CNAME, "search.example.com.")]
    assert rdata(ask(c, "search.service.consul.", "SRV").answer) == ["1 1 443 search.example.com."]


def test_duplicate_addresses_are_answered_once() -> None:
    c = Catalog()
    c.service("n1", "10.0.0.1", "web", 80, sid="web-a", status="passing")
    c.service("n1", "10.0.0.1", "web", 81, sid="web-b", status="passing")
    assert rdata(ask(c, "web.service.consul.").answer) == ["10.0.0.1"]
    assert len(ask(c, "web.service.consul.", "SRV").answer) == 2


def test_service_name_as_asked_then_lower_case() -> None:
    c = Catalog()
    c.service("n1", "10.0.0.1", "Billing", 80, status="passing")
    c.service("n2", "10.0.0.2", "web", 80, status="passing")
    assert rdata(ask(c, "Billing.service.consul.").answer) == ["10.0.0.1"]
    assert rdata(ask(c, "WEB.service.consul.").answer) == ["10.0.0.2"]
    assert str(ask(c, "WEB.service.consul.").answer[0].rname) == "WEB.service.consul."


def test_shuffled_answers_cover_every_instance() -> None:
    c = Catalog()
    for i in range(12):
        c.service(f"n{i}", f"10.0.1.{i}", "web", 80, status="passing")
    orders = {tuple(rdata(ask(c, "web.service.consul.", seed=s).answer)) for s in range(20)}
    assert len(orders) > 10
    assert all(len(o) == 12 for o in orders)


def test_wrong_type_is_nodata_with_soa(cat: Catalog) -> None:
    for name, qtype in [("web.service.consul.", "AAAA"), ("web.service.consul.", "MX"),
                        ("n1.node.consul.", "AAAA"), ("n1.node.consul.", "SRV"), ("consul.", "A"),
                        ("0a000001.addr.dc1.consul.", "AAAA")]:
        ans = ask(cat, name, qtype)
        assert (ans.rcode, ans.answer) == (r.NOERROR, []), (name, qtype)
        assert [rr.rtype for rr in ans.authority] == [r.T_SOA]


def test_node_lookup_with_meta_txt() -> None:
    c = Catalog()
    c.node("db1", "10.0.0.9", meta={"rack": "r1", "rfc1035-raw": "v=1"})
    a = ask(c, "db1.node.consul.")
    assert rdata(a.answer) == ["10.0.0.9"]
    assert sorted(rdata(a.additional, r.T_TXT)) == ['"rack=r1"', '"v=1"']
    assert sorted(rdata(ask(c, "db1.node.dc1.consul.", "TXT").answer)) == ['"rack=r1"', '"v=1"']
    assert sorted(rdata(ask(c, "DB1.node.consul.", "ANY").answer)) == ['"rack=r1"', '"v=1"', "10.0.0.9"]
    assert ask(c, "db2.node.consul.").rcode == r.NXDOMAIN


def test_meta_text_escapes_like_rfc1464() -> None:
    assert meta_text("a=b", "c") == "a`=b=c"
    assert meta_text(" k ", "`v") == "` k` =``v"
    assert meta_text("RFC1035-x", "raw") == "raw"


def test_addr_lookup() -> None:
    c = Catalog()
    assert rdata(ask(c, "0a000001.addr.dc1.consul.").answer) == ["10.0.0.1"]
    v6 = ipaddress.ip_address("fd00::7")
    assert rdata(ask(c, f"{v6.packed.hex()}.addr.dc1.consul.", "AAAA").answer) == ["fd00::7"]


def test_ptr_for_nodes_then_service_addresses(cat: Catalog) -> None:
    cat.service("n5", "10.0.0.5", "cache", 6379, service_address="172.16.0.2", status="passing")
    cat.node("v6node", "fd00::1")
    assert rdata(ask(cat, "1.0.0.10.in-addr.arpa.", "PTR").answer) == ["n1.node.dc1.consul."]
    assert rdata(ask(cat, "2.0.16.172.in-addr.arpa.", "PTR").answer) == ["cache.service.dc1.consul."]
    v6 = ipaddress.ip_address("fd00::1").reverse_pointer + "."
    assert rdata(ask(cat, v6, "PTR").answer) == ["v6node.node.dc1.consul."]
    missing = ask(cat, "9.9.9.9.in-addr.arpa.", "PTR")
    assert missing.rcode == r.NXDOMAIN and [rr.rtype for rr in missing.authority] == [r.T_SOA]
    with_recursors = RuntimeConfig(recursors=["127.0.0.1"])
    assert ask(cat, "9.9.9.9.in-addr.arpa.", "PTR", config=with_recursors).forward


def test_soa_and_ns_at_the_apex(cat: Catalog) -> None:
    cat.service("srv1", "10.0.0.100", "consul", 8300, status="passing")
    soa = ask(cat, "consul.", "SOA")
    assert [rr.rtype for rr in soa.answer] == [r.T_SOA]
    serial = soa.answer[0].rdata.times[0]
    assert serial == cat.store.max_index("nodes", "services", "checks")
    assert rdata(soa.authority) == ["srv1.node.dc1.consul."]
    ns = ask(cat, "consul.", "NS")
    assert rdata(ns.answer) == ["srv1.node.dc1.consul."]
    assert [(str(x.rname), str(x.rdata)) for x in ns.all_additional()] == [("srv1.node.dc1.consul.", "10.0.0.100")]


def test_ns_falls_back_to_this_agent_without_servers_in_catalog() -> None:
    ns = ask(Catalog(), "consul.", "NS", config=RuntimeConfig(node_name="me", advertise_addr="127.0.0.9"))
    assert rdata(ns.answer) == ["me.node.dc1.consul."]
    assert rdata(ns.all_additional()) == ["127.0.0.9"]


def test_ttls_from_config(cat: Catalog) -> None:
    config = cfg(node_ttl=30.0, service_ttl={"*": 5.0, "we*": 7.0, "db": 9.0})
    assert {rr.ttl for rr in ask(cat, "web.service.consul.", config=config).answer} == {7}
    assert {rr.ttl for rr in ask(cat, "db.service.consul.", "SRV", config=config).answer} == {9}
    assert {rr.ttl for rr in ask(cat, "n1.node.consul.", config=config).answer} == {30}
    assert ask(cat, "web.service.consul.").answer[0].ttl == 0


def test_outside_the_domain_is_forwarded(cat: Catalog) -> None:
    ans = ask(cat, "example.com.")
    assert ans.forward and not ans.authoritative


def test_zone_transfer_is_not_implemented(cat: Catalog) -> None:
    assert ask(cat, "consul.", "AXFR").rcode == r.NOTIMP


def test_alt_domain_answers() -> None:
    c = Catalog()
    c.service("n1", "10.0.0.1", "web", 80, status="passing")
    config = RuntimeConfig(alt_domain="cluster.local.")
    srv = ask(c, "web.service.cluster.local.", "SRV", config=config)
    assert rdata(srv.answer) == ["1 1 80 n1.node.dc1.cluster.local."]
    assert str(ask(c, "nope.service.cluster.local.", config=config).authority[0].rname) == "cluster.local."


@given(st.dictionaries(st.text("abc*", min_size=1, max_size=4), st.integers(0, 1000), max_size=5),
       st.text("abc", max_size=5))
@settings(max_examples=200, deadline=None)
def test_service_ttl_prefers_exact_then_longest_prefix(ttls: dict[str, int], name: str) -> None:
    got = service_ttl({k: float(v) for k, v in ttls.items()}, name)
    if name in ttls:
        assert got == ttls[name]
        return
    prefixes = [k for k in ttls if k.endswith("*") and name.startswith(k[:-1])]
    assert got == (ttls[max(prefixes, key=len)] if prefixes else 0)


def test_reverse_answers_name_the_primary_domain() -> None:
    c = Catalog()
    c.node("n1", "10.0.0.1")
    config = RuntimeConfig(domain="Corp.", alt_domain="much.longer.alt.domain.")
    assert rdata(ask(c, "1.0.0.10.in-addr.arpa.", "PTR", config=config).answer) == ["n1.node.dc1.corp."]
