"""DNS records and messages: building RRs, parsing requests, and encoding replies with dnslib.

`Answer` is what the resolver decides (sections, rcode, whether the answers may be rotated);
`encode_reply` turns it into wire bytes for one transport: a_record_limit, the UDP answer limit
(non-EDNS clients only, as Consul), trimming to the client's buffer (512 bytes without EDNS0, its
advertised size with it), the TC flag, and the EDNS0 OPT record of the reply.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field

from dnslib import (
    AAAA,
    CNAME,
    EDNS0,
    NS,
    PTR,
    QTYPE,
    RR,
    SOA,
    SRV,
    TXT,
    A,
    DNSHeader,
    DNSLabel,
    DNSQuestion,
    DNSRecord,
)

# Query types and response codes used by the resolver (numbers, so no dnslib lookups on hot paths).
T_A, T_NS, T_CNAME, T_SOA, T_PTR, T_TXT, T_AAAA, T_SRV, T_OPT = 1, 2, 5, 6, 12, 16, 28, 33, 41
T_IXFR, T_AXFR, T_ANY = 251, 252, 255
C_IN, C_ANY = 1, 255
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED, BADVERS = 0, 1, 2, 3, 4, 5, 16

UDP_PLAIN_MAX = 512
# Consul never answers more than 8 records to a non-EDNS UDP client, whatever udp_answer_limit says.
UDP_ANSWER_HARD_LIMIT = 8
# Largest UDP payload we fill, whatever the client advertises (64 KiB minus IP/UDP headers).
UDP_EDNS_MAX = 65535 - 68
TCP_MAX = 65535
# What we advertise in our own OPT record.
OUR_UDP_SIZE = 4096


class RequestError(Exception):
    """A request we can parse far enough to answer with an error rcode."""

    def __init__(self, rcode: int, message: str) -> None:
        super().__init__(message)
        self.rcode = rcode


@dataclass(frozen=True)
class Edns:
    udp_size: int
    version: int
    do: bool


@dataclass(frozen=True)
class Request:
    id: int
    rd: bool
    cd: bool
    name: str  # the name as asked, with a trailing dot
    labels: tuple[str, ...]  # the asked labels, case kept
    qtype: int
    qclass: int
    edns: Edns | None
    question: DNSQuestion


@dataclass
class Answer:
    """The resolver's decision for one question (independent of transport)."""

    rcode: int = NOERROR
    answer: list[RR] = field(default_factory=list)
    authority: list[RR] = field(default_factory=list)
    additional: list[RR] = field(default_factory=list)
    authoritative: bool = True
    # The answers are interchangeable instances: the cache may serve cyclic rotations of them.
    rotate: bool = False
    # a_record_limit applies to these answers (service A/AAAA lookups).
    a_limited: bool = False
    # Not ours to answer: hand the request to the recursors.
    forward: bool = False


@dataclass(frozen=True)
class Limits:
    max_size: int
    answer_limit: int  # 0: no count limit
    a_record_limit: int  # 0: none
    set_tc: bool  # enable_truncate: flag trimmed answers with TC


def limits_for(req: Request, tcp: bool, udp_answer_limit: int, a_record_limit: int, enable_truncate: bool) -> Limits:
    if tcp:
        return Limits(TCP_MAX, 0, a_record_limit, enable_truncate)
    size = UDP_PLAIN_MAX if req.edns is None else min(max(req.edns.udp_size, UDP_PLAIN_MAX), UDP_EDNS_MAX)
    # The answer-count cap is for 512-byte clients only (no EDNS0, or EDNS0 offering no more).
    cap = 0
    if size == UDP_PLAIN_MAX:
        cap = min(UDP_ANSWER_HARD_LIMIT, udp_answer_limit) if udp_answer_limit > 0 else UDP_ANSWER_HARD_LIMIT
    return Limits(size, cap, a_record_limit, enable_truncate)


# ---------------------------------------------------------------------------- request parsing
def parse_request(data: bytes) -> Request:
    """Parse a query. Raises RequestError for what deserves an error reply, ValueError otherwise."""
    if len(data) < 12:
        raise ValueError("short packet")
    flags = int.from_bytes(data[2:4], "big")
    if flags & 0x8000:
        raise ValueError("a response, not a query")
    try:
        rec = DNSRecord.parse(data)
    except Exception as exc:  # dnslib raises several types on hostile input
        raise RequestError(FORMERR, f"unparseable message: {exc}") from None
    opcode = (flags >> 11) & 0xF
    if opcode != 0:
        raise RequestError(NOTIMP, f"opcode {opcode} not implemented")
    if len(rec.questions) != 1:
        raise RequestError(FORMERR, "exactly one question expected")
    opts = [rr for rr in rec.ar if rr.rtype == T_OPT]
    if len(opts) > 1:
        raise RequestError(FORMERR, "more than one OPT record")
    edns = None
    if opts:
        ttl = opts[0].ttl
        edns = Edns(opts[0].rclass, (ttl >> 16) & 0xFF, bool(ttl & 0x8000))
    q = rec.questions[0]
    labels = tuple(lbl.decode("latin-1") for lbl in q.qname.label)
    name = ".".join(labels) + "."
    return Request(
        id=rec.header.id,
        rd=bool(flags & 0x0100),
        cd=bool(flags & 0x0010),
        name=name,
        labels=labels,
        qtype=q.qtype,
        qclass=q.qclass,
        edns=edns,
        question=q,
    )


def header_only_reply(data: bytes, rcode: int) -> bytes:
    """An error reply from the request's header alone (for messages we cannot parse)."""
    flags = int.from_bytes(data[2:4], "big")
    out = 0x8000 | (flags & 0x7800) | (flags & 0x0100) | (rcode & 0xF)
    return data[:2] + out.to_bytes(2, "big") + b"\x00" * 8


# ---------------------------------------------------------------------------- record builders
def _label(name: str) -> DNSLabel:
    return DNSLabel(name)


def rr_address(name: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address, ttl: int) -> RR:
    if ip.version == 4:
        return RR(_label(name), T_A, C_IN, ttl, A(str(ip)))
    return RR(_label(name), T_AAAA, C_IN, ttl, AAAA(str(ip)))


def rr_cname(name: str, target: str, ttl: int) -> RR:
    return RR(_label(name), T_CNAME, C_IN, ttl, CNAME(target))


def rr_srv(name: str, priority: int, weight: int, port: int, target: str, ttl: int) -> RR:
    return RR(_label(name), T_SRV, C_IN, ttl, SRV(priority, weight & 0xFFFF, port & 0xFFFF, target))


def rr_txt(name: str, text: str, ttl: int) -> RR:
    raw = text.encode("utf-8")
    chunks = [raw[i : i + 255] for i in range(0, len(raw), 255)] or [b""]
    return RR(_label(name), T_TXT, C_IN, ttl, TXT(chunks))


def rr_ptr(name: str, target: str, ttl: int) -> RR:
    return RR(_label(name), T_PTR, C_IN, ttl, PTR(target))


def rr_ns(name: str, target: str, ttl: int) -> RR:
    return RR(_label(name), T_NS, C_IN, ttl, NS(target))


def rr_soa(
    domain: str, serial: int, refresh: int, retry: int, expire: int, minimum: int
) -> RR:
    soa = SOA("ns." + domain, "hostmaster." + domain, (serial & 0xFFFFFFFF, refresh, retry, expire, minimum))
    # The SOA's own TTL is the negative-caching TTL (RFC 2308), so it matches the minimum.
    return RR(_label(domain), T_SOA, C_IN, minimum, soa)


def qtype_name(qtype: int) -> str:
    return str(QTYPE.get(qtype, qtype))


# ---------------------------------------------------------------------------- encoding
def rotated(items: Sequence[RR], shift: int) -> list[RR]:
    if not items:
        return []
    k = shift % len(items)
    return list(items[k:]) + list(items[:k])


def _sync_additional(answers: list[RR], additional: list[RR]) -> list[RR]:
    """Keep only the additional records that serve a remaining SRV/CNAME/NS target."""
    wanted: set[str] = set()
    for rr in answers:
        if rr.rtype in (T_SRV, T_CNAME, T_NS):
            wanted.add(str(_target(rr)).lower())
    return [rr for rr in additional if str(rr.rname).lower() in wanted]


def _target(rr: RR) -> DNSLabel:
    rd = rr.rdata
    return rd.target if rr.rtype == T_SRV else rd.label


def _pack(
    req: Request, ans: Answer, answers: list[RR], authority: list[RR], additional: list[RR],
    tc: bool, ra: bool,
) -> bytes:
    rcode = ans.rcode
    header = DNSHeader(
        id=req.id, qr=1, opcode=0, aa=int(ans.authoritative), tc=int(tc), rd=int(req.rd), ra=int(ra),
        cd=int(req.cd), rcode=rcode & 0xF,
    )
    rec = DNSRecord(header, q=req.question)
    rec.rr = list(answers)
    rec.auth = list(authority)
    rec.ar = list(additional)
    if req.edns is not None:
        rec.ar.append(EDNS0(udp_len=OUR_UDP_SIZE, ext_rcode=(rcode >> 4) & 0xFF))
    return bytes(rec.pack())


def encode_reply(req: Request, ans: Answer, limits: Limits, ra: bool, shift: int = 0) -> bytes:
    """Wire bytes for `ans`, its answers rotated by `shift`, fitted to `limits`."""
    answers = rotated(ans.answer, shift) if shift else list(ans.answer)
    additional = list(ans.additional)
    authority = list(ans.authority)
    has_targets = any(rr.rtype in (T_SRV, T_CNAME, T_NS) for rr in answers)
    if ans.a_limited and limits.a_record_limit > 0 and len(answers) > limits.a_record_limit:
        answers = answers[: limits.a_record_limit]
    total = len(answers)
    if limits.answer_limit and len(answers) > limits.answer_limit:
        answers = answers[: limits.answer_limit]
        if has_targets:
            additional = _sync_additional(answers, ans.additional)
    wire = _pack(req, ans, answers, authority, additional, False, ra)
    if len(wire) > limits.max_size:
        authority = []
        wire = _pack(req, ans, answers, authority, additional, False, ra)
    if len(wire) > limits.max_size and len(answers) > 1:
        # Largest prefix of the answers that fits (binary search; one pack per probe).
        lo, hi = 1, len(answers) - 1
        best = 0
        while lo <= hi:
            mid = (lo + hi) // 2
            extra = _sync_additional(answers[:mid], ans.additional) if has_targets else additional
            if len(_pack(req, ans, answers[:mid], authority, extra, False, ra)) <= limits.max_size:
                best, lo = mid, mid + 1
            else:
                hi = mid - 1
        answers = answers[: max(best, 1)]
        if has_targets:
            additional = _sync_additional(answers, ans.additional)
        wire = _pack(req, ans, answers, authority, additional, False, ra)
    if len(wire) > limits.max_size:
        additional = []
        wire = _pack(req, ans, answers, authority, additional, False, ra)
    if len(wire) > limits.max_size:
        # Not even one record fits: an empty, truncated reply sends the client to TCP.
        return _pack(req, ans, [], [], [], True, ra)
    trimmed = len(answers) < total
    if trimmed and limits.set_tc:
        wire = _pack(req, ans, answers, authority, additional, True, ra)
    return wire


def error_reply(req: Request, rcode: int, ra: bool) -> bytes:
    return _pack(req, Answer(rcode=rcode, authoritative=False), [], [], [], False, ra)
