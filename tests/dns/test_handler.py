"""The packet handler and its reply cache, plus hostile-input fuzzing (no sockets)."""

from __future__ import annotations

import random

from dnslib import EDNS0, RR, A, DNSHeader, DNSLabel, DNSQuestion, DNSRecord, EDNSOption
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pyconsul.config.runtime import DNSConfig, RuntimeConfig
from pyconsul.dns import records as r
from pyconsul.dns.cache import ReplyCache, canonical_key
from pyconsul.dns.handler import Forward, PacketHandler
from tests.dns.catalog import Catalog


def catalog(n: int = 20) -> Catalog:
    c = Catalog()
    for i in range(n):
        c.service(f"n{i}", f"10.0.0.{i + 1}", "web", 8080, status="passing")
    c.node("db", "10.0.1.1", meta={"role": "db"})
    return c


def handler(c: Catalog, **kw: object) -> PacketHandler:
    return PacketHandler(c.store.catalog, RuntimeConfig(node_name="agent", **kw), random.Random(7))  # type: ignore[arg-type]


def q(name: str, qtype: str = "A", qid: int = 1, cookie: bytes | None = None) -> bytes:
    rec = DNSRecord.question(name, qtype)
    rec.header.id = qid
    if cookie is not None:
        rec.add_ar(EDNS0(udp_len=1232, opts=[EDNSOption(10, cookie)]))
    return bytes(rec.pack())


def ips(reply: bytes | Forward | None) -> list[str]:
    assert isinstance(reply, bytes)
    return [str(x.rdata) for x in DNSRecord.parse(reply).rr]


def test_repeated_question_is_served_from_cache_with_its_own_id() -> None:
    h = handler(catalog(1))
    first = h.handle(q("web.service.consul", qid=100))
    second = h.handle(q("web.service.consul", qid=200))
    assert isinstance(first, bytes) and isinstance(second, bytes)
    assert h.cache.hits == 1 and h.cache.misses == 1
    assert second[:2] == (200).to_bytes(2, "big") and second[2:] == first[2:]
    assert h.cache.udp_reply(q("web.service.consul", qid=300)) == (300).to_bytes(2, "big") + first[2:]


def test_catalog_change_invalidates_the_cache() -> None:
    c = catalog(1)
    h = handler(c)
    assert ips(h.handle(q("web.service.consul"))) == ["10.0.0.1"]
    c.node_check("n0", "critical")
    out = DNSRecord.parse(h.handle(q("web.service.consul")))  # type: ignore[arg-type]
    assert out.header.rcode == r.NXDOMAIN
    c.node_check("n0", "passing")
    c.service("n9", "10.0.0.99", "web", 80, status="passing")
    assert sorted(ips(h.handle(q("web.service.consul")))) == ["10.0.0.1", "10.0.0.99"]


def test_reloaded_dns_config_takes_effect_at_once() -> None:
    h = handler(catalog(1))
    ttl = lambda: DNSRecord.parse(h.handle(q("db.node.consul"))).rr[0].ttl  # type: ignore[arg-type]  # noqa: E731
    assert ttl() == 0
    h.config.dns_config = DNSConfig(node_ttl=60.0)  # what the agent does on reload
    assert ttl() == 60


def test_reverse_lookups_follow_catalog_changes() -> None:
    c = catalog(1)
    h = handler(c)
    assert ips(h.handle(q("1.0.0.10.in-addr.arpa", "PTR"))) == ["n0.node.dc1.consul."]
    assert DNSRecord.parse(h.handle(q("7.7.7.10.in-addr.arpa", "PTR"))).header.rcode == r.NXDOMAIN  # type: ignore[arg-type]
    c.node("late", "10.7.7.7")
    assert ips(h.handle(q("7.7.7.10.in-addr.arpa", "PTR"))) == ["late.node.dc1.consul."]


def test_rotations_spread_every_instance_across_replies() -> None:
    h = handler(catalog(20))
    seen: set[str] = set()
    for i in range(16):
        got = ips(h.handle(q("web.service.consul", qid=i)))
        assert len(got) == 3 and len(set(got)) == 3
        seen.update(got)
    assert seen == {f"10.0.0.{i + 1}" for i in range(20)}
    assert h.cache.misses == 1


def test_queries_differing_only_in_cookies_share_one_entry() -> None:
    h = handler(catalog(1))
    a = h.handle(q("web.service.consul", qid=1, cookie=b"\x01" * 8))
    b = h.handle(q("web.service.consul", qid=2, cookie=b"\x02" * 8 + b"server-cookie-16"))
    assert isinstance(a, bytes) and isinstance(b, bytes) and a[2:] == b[2:]
    assert h.cache.hits == 1


def test_udp_and_tcp_replies_are_cached_apart() -> None:
    h = handler(catalog(10))
    assert len(ips(h.handle(q("web.service.consul")))) == 3
    assert len(ips(h.handle(q("web.service.consul"), tcp=True))) == 10


def test_cache_is_bounded() -> None:
    cache = ReplyCache(lambda: 1, max_entries=4)
    assert cache.tail(b"x", False) is None  # first look adopts the index
    for i in range(10):
        cache.put(bytes([i]), [b"r"], False, 1)
        assert len(cache) <= 4
    cache.put(b"stale", [b"r"], False, index=0)
    assert cache.tail(b"stale", False) is None


def test_outside_names_are_forwarded_or_refused() -> None:
    out = handler(catalog(1)).handle(q("example.com"))
    assert isinstance(out, bytes) and DNSRecord.parse(out).header.rcode == r.REFUSED
    fwd = handler(catalog(1), recursors=["127.0.0.1:5353"]).handle(q("example.com"))
    assert isinstance(fwd, Forward) and fwd.data == q("example.com")


def test_malformed_and_unusual_messages() -> None:
    h = handler(catalog(1))
    assert h.handle(b"") is None and h.handle(b"\x00" * 11) is None
    resp = bytearray(q("web.service.consul"))
    resp[2] |= 0x80  # a response: never answered (no reflection loops)
    assert h.handle(bytes(resp)) is None
    truncated = q("web.service.consul")[:-3]
    out = DNSRecord.parse(h.handle(truncated))  # type: ignore[arg-type]
    assert (out.header.id, out.header.rcode) == (1, r.FORMERR)
    notify = bytearray(q("web.service.consul"))
    notify[2] = (notify[2] & 0x87) | (4 << 3)  # opcode NOTIFY
    assert DNSRecord.parse(h.handle(bytes(notify))).header.rcode == r.NOTIMP  # type: ignore[arg-type]
    two = DNSRecord(DNSHeader(id=5), questions=[DNSQuestion("a.consul"), DNSQuestion("b.consul")])
    assert DNSRecord.parse(h.handle(bytes(two.pack()))).header.rcode == r.FORMERR  # type: ignore[arg-type]
    chaos = DNSRecord(DNSHeader(id=6), q=DNSQuestion("web.service.consul", 16, 3))
    assert DNSRecord.parse(h.handle(bytes(chaos.pack()))).header.rcode == r.REFUSED  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------ fuzzing
FUZZ_CAT = catalog(5)
FUZZ_HANDLERS = [
    handler(FUZZ_CAT),
    handler(FUZZ_CAT, recursors=["127.0.0.1:1"], alt_domain="alt.example.",
            dns_config=DNSConfig(enable_truncate=True, a_record_limit=2, only_passing=True)),
]


def check_reply(data: bytes, out: bytes | Forward | None) -> DNSRecord | None:
    if out is None or isinstance(out, Forward):
        return None
    assert len(out) >= 12 and out[:2] == data[:2] and out[2] & 0x80
    return DNSRecord.parse(out)


@given(st.binary(max_size=600))
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_random_bytes_never_crash(data: bytes) -> None:
    for h in FUZZ_HANDLERS:
        for tcp in (False, True):
            check_reply(data, h.handle(data, tcp=tcp))


@given(st.data())
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_mutated_queries_never_crash(data: st.DataObject) -> None:
    base = bytearray(data.draw(st.sampled_from([
        q("web.service.consul", "SRV"), q("db.node.consul", "TXT", cookie=b"c" * 8), q("consul", "SOA"),
        q("1.0.0.10.in-addr.arpa", "PTR"),
    ])))
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(base) - 1))
        base[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(base)))
    for raw in (bytes(base), bytes(base[:cut])):
        for h in FUZZ_HANDLERS:
            check_reply(raw, h.handle(raw))


labels = st.lists(st.sampled_from(["web", "db", "n1", "service", "node", "addr", "consul", "dc1", "_web", "_tcp",
                                   "in-addr", "arpa", "10", "0a000001", "alt", "example", "x" * 63, "Web", "ab.c"]),
                  max_size=7)


@given(
    labels=labels,
    qtype=st.one_of(st.sampled_from([1, 2, 5, 6, 12, 15, 16, 28, 33, 251, 252, 255]), st.integers(0, 65535)),
    qclass=st.sampled_from([1, 1, 1, 3, 255, 254]),
    qid=st.integers(0, 65535),
    opcode=st.sampled_from([0, 0, 0, 1, 2, 4, 5]),
    rd=st.booleans(),
    edns=st.one_of(st.none(), st.tuples(st.integers(0, 65535), st.integers(0, 2), st.booleans())),
    extra_answer=st.booleans(),
)
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_random_well_formed_messages_get_well_formed_replies(
    labels: list[str], qtype: int, qclass: int, qid: int, opcode: int, rd: bool,
    edns: tuple[int, int, bool] | None, extra_answer: bool,
) -> None:
    name = ".".join(labels) + "."
    assume(len(name) <= 254)  # longer names cannot be put on the wire at all
    rec = DNSRecord(DNSHeader(id=qid, opcode=opcode, rd=int(rd)), q=DNSQuestion(DNSLabel(name), qtype, qclass))
    if extra_answer:
        rec.add_answer(RR("x.example.", 1, 1, 60, A("1.2.3.4")))
    if edns is not None:
        rec.add_ar(EDNS0(udp_len=edns[0], version=edns[1], flags="do" if edns[2] else ""))
    data = bytes(rec.pack())
    for h in FUZZ_HANDLERS:
        for tcp in (False, True):
            out = h.handle(data, tcp=tcp)
            reply = check_reply(data, out)
            if reply is None:
                assert isinstance(out, Forward) and h.config.recursors
                continue
            assert reply.header.opcode == opcode
            if opcode == 0:
                assert len(reply.questions) == 1 and reply.q.qtype == qtype
                assert str(reply.q.qname).lower() == name.lower() or name == "."
            if not tcp:
                limit = 512 if edns is None else max(512, edns[0])
                assert len(out) <= limit  # type: ignore[arg-type]


@given(st.binary(max_size=300))
@settings(deadline=None)
def test_canonical_key_never_raises(data: bytes) -> None:
    key = canonical_key(data)
    assert key is None or key == data[2 : len(key) + 2] or key.endswith(b"\x00\x00")


@given(st.binary(min_size=0, max_size=40), st.integers(512, 4096))
@settings(deadline=None)
def test_canonical_key_ignores_edns_options(cookie: bytes, size: int) -> None:
    def query(opts: list[EDNSOption]) -> bytes:
        rec = DNSRecord.question("web.service.consul", "SRV")
        rec.add_ar(EDNS0(udp_len=size, opts=opts))
        return bytes(rec.pack())

    plain = query([])
    assert canonical_key(query([EDNSOption(10, cookie)])) == canonical_key(plain) == plain[2:]


# ------------------------------------------------------------------------ cache coherence
NAMES = ["web.service.consul", "db.service.consul", "v1.web.service.consul", "n0.node.consul",
         "n1.node.consul", "1.0.0.10.in-addr.arpa", "2.0.0.10.in-addr.arpa", "consul"]
ops = st.lists(
    st.one_of(
        st.tuples(st.just("register"), st.integers(0, 2), st.sampled_from(["web", "db"]),
                  st.sampled_from(["passing", "warning", "critical"]), st.booleans()),
        st.tuples(st.just("node_check"), st.integers(0, 2), st.sampled_from(["passing", "critical"])),
        st.tuples(st.just("deregister"), st.integers(0, 2), st.sampled_from(["", "web", "db"])),
        st.tuples(st.just("query"), st.sampled_from(NAMES), st.sampled_from(["A", "SRV", "PTR", "ANY", "TXT"])),
    ),
    max_size=25,
)


def comparable(reply: bytes | Forward | None) -> tuple[int, list[str], list[str]]:
    assert isinstance(reply, bytes)
    rec = DNSRecord.parse(reply)
    return (rec.header.rcode, sorted(str(x) for x in rec.rr), sorted(str(x) for x in rec.ar))


@given(ops)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_cached_answers_always_match_a_fresh_resolution(steps: list[tuple[object, ...]]) -> None:
    c = Catalog()
    cached = handler(c)
    for step in steps:
        if step[0] == "register":
            _, i, svc, status, tagged = step
            c.service(f"n{i}", f"10.0.0.{i + 1}", str(svc), 80, tags=["v1"] if tagged else [], status=str(status))
        elif step[0] == "node_check":
            _, i, status = step
            if f"n{i}" in c.store.catalog.nodes_by_name:
                c.node_check(f"n{i}", str(status))
        elif step[0] == "deregister":
            _, i, sid = step
            c.deregister(f"n{i}", str(sid))
        else:
            _, name, qtype = step
            data = q(str(name), str(qtype), cookie=b"k" * 8)  # EDNS: no answer-count cap
            fresh = PacketHandler(c.store.catalog, cached.config, random.Random(0))
            assert comparable(cached.handle(data)) == comparable(fresh.handle(data))
            assert comparable(cached.handle(data, tcp=True)) == comparable(fresh.handle(data, tcp=True))


def test_unusual_encodings_are_cached_by_their_parsed_question() -> None:
    h = handler(catalog(3))
    plain = q("web.service.consul", qid=9)
    padded = plain + b"\x00\x00\x00"  # trailing bytes: no raw or canonical key
    first, second = h.handle(padded), h.handle(padded)
    assert isinstance(first, bytes) and isinstance(second, bytes)
    assert h.cache.misses == 1 and first[:2] == second[:2] == plain[:2]
    assert DNSRecord.parse(second).q == DNSRecord.parse(plain).q


def test_queries_stuffed_with_records_are_refused_before_parsing() -> None:
    h = handler(catalog(1))
    question = b"\x03web\x07service\x06consul\x00\x00\x01\x00\x01"
    empty_a = b"\x00\x00\x01\x00\x01\x00\x00\x00\x00\x00\x00"
    stuffed = bytes.fromhex("1234010000010000000017ff") + question + empty_a * 6143  # fills a datagram
    out = h.handle(stuffed)
    assert isinstance(out, bytes) and out[:2] == b"\x12\x34" and out[3] & 0xF == r.FORMERR
