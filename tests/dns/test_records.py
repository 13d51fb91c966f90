"""Reply encoding: answer limits, trimming to the client's buffer, TC, EDNS0 and error replies."""

from __future__ import annotations

import random

import dns.message
import pytest
from dnslib import EDNS0, QTYPE, DNSRecord, EDNSOption

from pyconsul.config.runtime import DNSConfig, RuntimeConfig
from pyconsul.dns import records as r
from pyconsul.dns.handler import PacketHandler
from tests.dns.catalog import Catalog


def many(n: int, name: str = "web") -> Catalog:
    c = Catalog()
    for i in range(n):
        c.service(f"node-with-a-longish-name-{i:03d}", f"10.1.{i // 250}.{i % 250 + 1}", name, 8000 + i,
                  status="passing")
    return c


def query(name: str, qtype: str = "A", edns: int | None = None, opts: list[EDNSOption] | None = None) -> bytes:
    q = DNSRecord.question(name, qtype)
    if edns is not None:
        q.add_ar(EDNS0(udp_len=edns, opts=opts or []))
    return bytes(q.pack())


def answer(cat: Catalog, data: bytes, tcp: bool = False, **dns: object) -> tuple[DNSRecord, bytes]:
    h = PacketHandler(cat.store.catalog, RuntimeConfig(dns_config=DNSConfig(**dns)), random.Random(3))  # type: ignore[arg-type]
    out = h.handle(data, tcp=tcp)
    assert isinstance(out, bytes)
    return DNSRecord.parse(out), out


def test_plain_udp_gets_udp_answer_limit_and_no_tc_by_default() -> None:
    rec, _ = answer(many(10), query("web.service.consul"))
    assert len(rec.rr) == 3 and rec.header.tc == 0


def test_enable_truncate_sets_tc_when_answers_were_cut() -> None:
    rec, _ = answer(many(10), query("web.service.consul"), enable_truncate=True)
    assert len(rec.rr) == 3 and rec.header.tc == 1
    rec, _ = answer(many(2), query("web.service.consul"), enable_truncate=True)
    assert len(rec.rr) == 2 and rec.header.tc == 0


def test_udp_answer_limit_never_exceeds_eight() -> None:
    rec, _ = answer(many(20), query("web.service.consul"), udp_answer_limit=50)
    assert len(rec.rr) == 8


def test_edns_client_offering_only_512_bytes_is_capped_like_a_plain_one() -> None:
    rec, _ = answer(many(10), query("web.service.consul", edns=512))
    assert len(rec.rr) == 3


def test_edns_client_gets_everything_that_fits_its_buffer() -> None:
    rec, wire = answer(many(40), query("web.service.consul", edns=4096))
    assert len(rec.rr) == 40 and len(wire) <= 4096
    opt = [x for x in rec.ar if x.rtype == QTYPE.OPT]
    assert len(opt) == 1 and opt[0].rclass == r.OUR_UDP_SIZE


@pytest.mark.parametrize("size", [512, 700, 1232])
def test_srv_answers_are_trimmed_to_the_edns_buffer_with_matching_additionals(size: int) -> None:
    rec, wire = answer(many(60), query("web.service.consul", "SRV", edns=size), enable_truncate=True)
    assert len(wire) <= size
    assert 1 <= len(rec.rr) < 60 and rec.header.tc == 1
    targets = sorted(str(x.rdata.target) for x in rec.rr)
    assert sorted(str(x.rname) for x in rec.ar if x.rtype == QTYPE.A) == targets


def test_tcp_is_not_limited_by_udp_rules() -> None:
    rec, wire = answer(many(120), query("web.service.consul", "SRV"), tcp=True)
    assert len(rec.rr) == 120 and len(rec.ar) == 120 and len(wire) > 4096


def test_a_record_limit_applies_to_every_transport() -> None:
    for tcp in (False, True):
        rec, _ = answer(many(10), query("web.service.consul", edns=4096), tcp=tcp, a_record_limit=2)
        assert len(rec.rr) == 2


def test_one_record_too_big_for_udp_is_an_empty_truncated_reply() -> None:
    c = Catalog()
    c.node("fat", "10.0.0.1", meta={"big": "v" * 600})
    rec, wire = answer(c, query("fat.node.consul", "TXT"))
    assert rec.header.tc == 1 and not rec.rr and len(wire) <= 512
    rec, _ = answer(c, query("fat.node.consul", "TXT"), tcp=True)
    assert len(rec.rr) == 1 and b"".join(rec.rr[0].rdata.data) == b"big=" + b"v" * 600


def test_edns_options_are_not_echoed_and_version_one_is_badvers() -> None:
    rec, _ = answer(many(1), query("web.service.consul", edns=1232, opts=[EDNSOption(10, b"12345678")]))
    opt = [x for x in rec.ar if x.rtype == QTYPE.OPT][0]
    assert opt.rdata == [] and rec.header.rcode == r.NOERROR
    q = DNSRecord.question("web.service.consul")
    q.add_ar(EDNS0(udp_len=1232, version=1))
    rec, _ = answer(many(1), bytes(q.pack()))
    opt = [x for x in rec.ar if x.rtype == QTYPE.OPT][0]
    assert ((opt.ttl >> 24) << 4) | rec.header.rcode == r.BADVERS


def test_reply_echoes_id_rd_cd_and_question() -> None:
    q = DNSRecord.question("Web.Service.Consul", "A")
    q.header.id = 4242
    q.header.rd = 0
    q.header.cd = 1
    rec, _ = answer(many(1), bytes(q.pack()))
    assert (rec.header.id, rec.header.qr, rec.header.rd, rec.header.cd, rec.header.aa) == (4242, 1, 0, 1, 1)
    assert str(rec.q.qname) == "Web.Service.Consul." and str(rec.rr[0].rname) == "Web.Service.Consul."


def test_header_only_error_reply() -> None:
    data = bytes.fromhex("beef0100000100000000000003")  # claims a question it does not carry
    out = r.header_only_reply(data, r.FORMERR)
    rec = DNSRecord.parse(out)
    assert (rec.header.id, rec.header.qr, rec.header.rcode, rec.header.rd) == (0xBEEF, 1, r.FORMERR, 1)


def test_replies_over_16k_keep_valid_compression_pointers() -> None:
    # Name compression can only point below offset 0x4000; a bigger reply must still decode.
    rec, wire = answer(many(600), query("web.service.consul", "SRV"), tcp=True)
    assert len(wire) > 0x4000
    msg = dns.message.from_wire(wire)
    srv = [rr for rrset in msg.answer for rr in rrset]
    glue = {str(rrset.name) for rrset in msg.additional}
    assert len(srv) == len(rec.rr) > 400 and {str(r.target) for r in srv} <= glue


def test_big_answers_rotate_lazily_and_stay_complete() -> None:
    cat = many(300)
    h = PacketHandler(cat.store.catalog, RuntimeConfig(), random.Random(5))
    firsts = []
    for _ in range(10):
        out = h.handle(query("web.service.consul", "SRV"), tcp=True)
        assert isinstance(out, bytes)
        rec = DNSRecord.parse(out)
        assert len(rec.rr) == 300
        firsts.append(str(rec.rr[0].rdata.target))
    assert len(set(firsts)) == 8 and h.cache.misses == 1
