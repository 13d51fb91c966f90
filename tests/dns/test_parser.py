from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyconsul.dns.parser import (
    AddrLookup,
    ApexLookup,
    External,
    NodeLookup,
    NotFound,
    PtrLookup,
    QueryLookup,
    ServiceLookup,
    Zone,
    parse_labels,
    split_name,
)

A, SRV = 1, 33
ZONE = Zone.from_names("consul.", "", "dc1")
ALT = Zone.from_names("consul.", "cluster.example.", "dc1")


def parse(name: str, qtype: int = A, zone: Zone = ZONE) -> object:
    return parse_labels(tuple(p for p in name.split(".") if p), qtype, zone)


@pytest.mark.parametrize(
    "name,expected",
    [
        ("web.service.consul.", ServiceLookup("web", "", "dc1", "consul.")),
        ("web.service.dc1.consul.", ServiceLookup("web", "", "dc1", "consul.")),
        ("web.service.dc1.dc.consul.", ServiceLookup("web", "", "dc1", "consul.")),
        ("v1.web.service.consul.", ServiceLookup("web", "v1", "dc1", "consul.")),
        ("a.b.web.service.consul.", ServiceLookup("web", "a.b", "dc1", "consul.")),
        ("_web._tcp.service.consul.", ServiceLookup("web", "", "dc1", "consul.")),
        ("_web._udp.service.consul.", ServiceLookup("web", "", "dc1", "consul.")),
        ("_web._v1.service.dc1.consul.", ServiceLookup("web", "v1", "dc1", "consul.")),
        ("Web.SERVICE.Consul.", ServiceLookup("Web", "", "dc1", "consul.")),
        ("db1.node.consul.", NodeLookup("db1", "dc1", "consul.")),
        ("db1.example.com.node.dc1.consul.", NodeLookup("db1.example.com", "dc1", "consul.")),
        ("7f000001.addr.dc1.consul.", AddrLookup(ipaddress.ip_address("127.0.0.1"), "consul.")),
        ("20010db8000000000000000000000001.addr.dc1.consul.",
         AddrLookup(ipaddress.ip_address("2001:db8::1"), "consul.")),
        ("web.query.consul.", QueryLookup("web", "dc1", "consul.")),
        ("geo-db.eu.query.dc1.consul.", QueryLookup("geo-db.eu", "dc1", "consul.")),
        ("My-Q.query.dc1.dc.consul.", QueryLookup("My-Q", "dc1", "consul.")),
        # Another datacenter's query runs there (dns/query_forward.py), so it keeps its datacenter.
        ("web.query.dc2.consul.", QueryLookup("web", "dc2", "consul.")),
        ("consul.", ApexLookup("consul.")),
        ("CONSUL.", ApexLookup("consul.")),
        ("4.3.2.1.in-addr.arpa.", PtrLookup("1.2.3.4")),
        ("example.com.", External()),
        ("arpa.", External()),
        (".", External()),
    ],
)
def test_names(name: str, expected: object) -> None:
    assert parse(name) == expected


@pytest.mark.parametrize(
    "name",
    [
        "web.service.dc2.consul.",  # another datacenter: no WAN path here
        "service.consul.",
        "node.consul.",
        "query.consul.",
        "v1.web.connect.consul.",  # `.connect` takes no tag
        "web.connect.dc2.consul.",
        "nothing.consul.",
        "zz.addr.consul.",
        "0a00000.addr.consul.",
        "a.b.addr.consul.",
        "web.service.x.y.z.consul.",
    ],
)
def test_not_found_inside_domain(name: str) -> None:
    out = parse(name)
    assert isinstance(out, NotFound) and out.domain == "consul."


def test_srv_names_may_leave_out_the_service_label() -> None:
    assert parse("_web._tcp.consul.", SRV) == ServiceLookup("web", "", "dc1", "consul.")
    assert isinstance(parse("_web._tcp.consul.", A), NotFound)


def test_alt_domain_answers_with_its_own_domain() -> None:
    assert parse("web.service.cluster.example.", zone=ALT) == ServiceLookup("web", "", "dc1", "cluster.example.")
    assert parse("web.service.consul.", zone=ALT) == ServiceLookup("web", "", "dc1", "consul.")
    assert parse("cluster.example.", zone=ALT) == ApexLookup("cluster.example.")
    assert parse("example.", zone=ALT) == External()


def test_reverse_names() -> None:
    assert parse("1.0.0.127.in-addr.arpa.") == PtrLookup("127.0.0.1")
    v6 = ipaddress.ip_address("2001:db8::1").reverse_pointer
    assert parse(v6) == PtrLookup("2001:db8::1")
    assert parse("300.0.0.127.in-addr.arpa.") == PtrLookup(None)
    assert parse("0.0.127.in-addr.arpa.") == PtrLookup(None)


def test_split_name() -> None:
    assert split_name("Web.Service.consul.") == ("web", "service", "consul")
    assert split_name(".") == ()


label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=20).filter(
    lambda s: s not in {"service", "node", "addr", "query", "connect", "ingress", "virtual", "consul", "dc"}
)


@given(service=label, tag=st.one_of(st.just(""), label), dc=st.one_of(st.just(""), st.just("dc1")))
@settings(deadline=None)
def test_service_names_round_trip(service: str, tag: str, dc: str) -> None:
    name = ".".join(p for p in (tag, service, "service", dc, "consul") if p) + "."
    assert parse(name) == ServiceLookup(service, tag, "dc1", "consul.")
    rfc = ".".join(p for p in ("_" + service, "_" + (tag or "tcp"), "service", dc, "consul") if p)
    assert parse(rfc, SRV) == ServiceLookup(service, tag if tag not in ("tcp", "udp") else "", "dc1", "consul.")


@given(service=label, dc=st.one_of(st.just(""), st.just("dc1"), st.just("dc1.dc")))
@settings(deadline=None)
def test_connect_names_are_service_lookups_of_the_mesh(service: str, dc: str) -> None:
    name = ".".join(p for p in (service, "connect", dc, "consul") if p) + "."
    assert parse(name, SRV) == ServiceLookup(service, "", "dc1", "consul.", connect=True)
    assert parse(name) != ServiceLookup(service, "", "dc1", "consul.")  # never the plain service


@given(st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)))
@settings(deadline=None)
def test_addr_and_reverse_round_trip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    assert parse(f"{ip.packed.hex()}.addr.dc1.consul.") == AddrLookup(ip, "consul.")
    assert parse(ip.reverse_pointer) == PtrLookup(str(ip))


@given(st.lists(st.text(min_size=1, max_size=70), max_size=8), st.integers(0, 65535))
@settings(deadline=None)
def test_any_labels_parse_without_error(labels: list[str], qtype: int) -> None:
    parse_labels(tuple(labels), qtype, ZONE)
