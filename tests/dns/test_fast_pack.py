"""The address-answer packer gives dnslib's bytes for every message it takes, and declines the
rest (so dnslib packs them)."""

from __future__ import annotations

import ipaddress

from dnslib import DNSRecord
from hypothesis import given
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
