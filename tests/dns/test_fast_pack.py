"""The address-answer packer gives dnslib's bytes for every message it takes, and declines the
rest (so dnslib packs them)."""

from __future__ import annotations

import ipaddress

from dnslib import DNSRecord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyconsul.dns import records as r

label = st.text(alphabet="abcXYZ09-", min_size=1, max_size=12)
ips = st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6))


def _request(name: str, qtype: int, edns: bool, msg_id: int, rd: bool, cd: bool) -> r.Request:
    q = DNSRecord.question(name, "A" if qtype == r.T_A else "AAAA")
    q.header.id, q.header.rd, q.header.cd = msg_id, int(rd), int(cd)
    if edns:
        q.add_ar(r.EDNS0(udp_len=1232))
    return r.parse_request(q.pack())


@given(labels=st.lists(label, min_size=1, max_size=5), qtype=st.sampled_from([r.T_A, r.T_AAAA]),
       edns=st.booleans(), msg_id=st.integers(0, 0xFFFF), rd=st.booleans(), cd=st.booleans(),
       addrs=st.lists(ips, max_size=40), ttl=st.integers(0, 2**31 - 1), tc=st.booleans(), ra=st.booleans(),
       aa=st.booleans(), rcode=st.sampled_from([r.NOERROR, r.NXDOMAIN, r.SERVFAIL, r.BADVERS]))
def test_address_replies_are_packed_as_dnslib_packs_them(
    labels: list[str], qtype: int, edns: bool, msg_id: int, rd: bool, cd: bool,
    addrs: list[ipaddress.IPv4Address | ipaddress.IPv6Address], ttl: int, tc: bool, ra: bool, aa: bool, rcode: int,
) -> None:
    name = ".".join(labels) + "."
    req = _request(name, qtype, edns, msg_id, rd, cd)
    ans = r.Answer(rcode=rcode, answer=[r.rr_address(name, ip, ttl) for ip in addrs], authoritative=aa)
    assert r._pack(req, ans, ans.answer, [], [], tc, ra) == r._pack_dnslib(req, ans, ans.answer, [], [], tc, ra)


def test_other_messages_are_left_to_dnslib() -> None:
    req = _request("web.service.consul.", r.T_A, True, 7, True, False)
    ip = ipaddress.ip_address("10.0.0.1")
    other_case = r.rr_address("WEB.service.consul.", ip, 0)  # not a pointer to the question's name
    srv = r.rr_srv("web.service.consul.", 1, 1, 80, "n1.node.dc1.consul.", 0)
    for answers in ([other_case], [srv], [r.rr_address("web.service.consul.", ip, 0), srv]):
        ans = r.Answer(answer=answers)
        assert r.pack_addresses(7, 0x8000, req.question, answers, None) is None
        assert r._pack(req, ans, answers, [], [], False, False) == r._pack_dnslib(req, ans, answers, [], [], False, False)


# Labels from a small pool, so names share suffixes (and differ only in case) as real answers do:
# that is what exercises the compression.
pool_label = st.sampled_from(["web", "WEB", "service", "node", "dc1", "consul", "n1", "n-2", "addr", "x" * 63])
names = st.lists(pool_label, min_size=0, max_size=6).map(lambda ls: ".".join(ls) + "." if ls else ".")
ttls = st.integers(0, 2**31 - 1)


@st.composite
def records(draw: st.DrawFn) -> r.RR:
    kind = draw(st.sampled_from(["A", "AAAA", "SRV", "TXT", "CNAME", "PTR", "NS", "SOA"]))
    name, ttl = draw(names), draw(ttls)
    if kind == "A":
        return r.rr_address(name, draw(st.ip_addresses(v=4)), ttl)
    if kind == "AAAA":
        return r.rr_address(name, draw(st.ip_addresses(v=6)), ttl)
    if kind == "SRV":
        return r.rr_srv(name, draw(st.integers(0, 0xFFFF)), draw(st.integers(0, 0xFFFF)),
                        draw(st.integers(0, 0xFFFF)), draw(names), ttl)
    if kind == "TXT":
        return r.rr_txt(name, draw(st.text(max_size=300)), ttl)
    if kind == "CNAME":
        return r.rr_cname(name, draw(names), ttl)
    if kind == "PTR":
        return r.rr_ptr(name, draw(names), ttl)
    if kind == "NS":
        return r.rr_ns(name, draw(names), ttl)
    return r.rr_soa(draw(names).rstrip(".") or "consul", *draw(st.tuples(*[st.integers(0, 2**31 - 1)] * 5)))


@given(qname=names, qtype=st.sampled_from([r.T_A, r.T_AAAA]), edns=st.booleans(), msg_id=st.integers(0, 0xFFFF),
       rd=st.booleans(), cd=st.booleans(), tc=st.booleans(), ra=st.booleans(), aa=st.booleans(),
       rcode=st.sampled_from([r.NOERROR, r.NXDOMAIN, r.BADVERS]),
       answers=st.lists(records(), max_size=12), authority=st.lists(records(), max_size=3),
       additional=st.lists(records(), max_size=8))
# Each example draws up to 23 records; on a loaded machine that can trip the generation-time check.
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_any_resolver_reply_is_packed_as_dnslib_packs_it(
    qname: str, qtype: int, edns: bool, msg_id: int, rd: bool, cd: bool, tc: bool, ra: bool, aa: bool,
    rcode: int, answers: list[r.RR], authority: list[r.RR], additional: list[r.RR],
) -> None:
    req = _request(qname, qtype, edns, msg_id, rd, cd)
    ans = r.Answer(rcode=rcode, answer=answers, authoritative=aa)
    sections = (answers, authority, additional)
    flags = (1 << 15 | int(aa) << 10 | int(tc) << 9 | int(rd) << 8 | int(ra) << 7 | int(cd) << 4 | rcode & 0xF)
    assert r.pack_message(msg_id, flags, req.question, sections, (r.OUR_UDP_SIZE, rcode >> 4) if edns else None) \
        == r._pack_dnslib(req, ans, answers, authority, additional, tc, ra)
    assert r._pack(req, ans, answers, authority, additional, tc, ra) == r._pack_dnslib(req, ans, answers, authority, additional, tc, ra)


def test_a_reply_past_16_kib_points_only_below_the_pointer_limit() -> None:
    # 400 SRV answers with distinct targets and their address glue: names written past 0x3FFF
    # cannot be pointed to, and must be written out again.
    name = "web.service.consul."
    req = _request(name, r.T_A, True, 1, True, False)
    answers = [r.rr_srv(name, 1, 1, 8000 + i, f"node{i}.node.dc1.consul.", 0) for i in range(400)]
    glue = [r.rr_address(f"node{i}.node.dc1.consul.", ipaddress.ip_address(f"10.0.{i // 256}.{i % 256}"), 0)
            for i in range(400)]
    ans = r.Answer(answer=answers)
    wire = r._pack(req, ans, answers, [], glue, False, False)
    assert len(wire) > 0x4000
    assert wire == r._pack_dnslib(req, ans, answers, [], glue, False, False)
    parsed = DNSRecord.parse(wire)
    assert [str(rr.rname) for rr in parsed.ar[:-1]] == [f"node{i}.node.dc1.consul." for i in range(400)]


def test_types_it_does_not_know_are_left_to_dnslib() -> None:
    from dnslib import MX, RR

    req = _request("web.service.consul.", r.T_A, False, 3, True, False)
    mx = RR(r._label("web.service.consul."), 15, r.C_IN, 0, MX("mail.consul."))
    ans = r.Answer(answer=[mx])
    assert r.pack_message(3, 0x8000, req.question, ([mx], [], []), None) is None
    assert r._pack(req, ans, [mx], [], [], False, False) == r._pack_dnslib(req, ans, [mx], [], [], False, False)
