"""DNS records and messages: building RRs, parsing requests, and encoding replies with dnslib.

`Answer` is what the resolver decides (sections, rcode, whether the answers may be rotated);
`encode_reply` turns it into wire bytes for one transport: a_record_limit, the UDP answer limit
(512-byte clients only, as Consul), trimming to the client's buffer (512 bytes without EDNS0, its
advertised size with it) together with each answer's additional records, the TC flag, and the
EDNS0 OPT record of the reply. Messages are packed with a buffer whose compression pointers stay
below 0x4000 (dnslib's own would corrupt replies over 16 KiB).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

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
from dnslib.label import DNSBuffer, DNSLabelError

from pyconsul.dns.fast_pack import pack_addresses, pack_message

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
# Records (beyond the question) accepted in a query.
MAX_QUERY_RECORDS = 16


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
    # Additional records for the whole message (e.g. node meta for a node lookup).
    additional: list[RR] = field(default_factory=list)
    # Additional records per answer (e.g. an SRV target's address): they go when their answer is
    # trimmed. Records shared by several answers are the same objects.
    groups: list[list[RR]] | None = None
    authoritative: bool = True
    # The answers are interchangeable instances: the cache may serve cyclic rotations of them.
    rotate: bool = False
    # Ordered by estimated distance (a prepared query's Near): valid only for the coordinates
    # it was sorted with, which move without the catalog changing.
    by_distance: bool = False
    # a_record_limit applies to these answers (service A/AAAA lookups).
    a_limited: bool = False
    # Not ours to answer: hand the request to the recursors.
    forward: bool = False

    def all_additional(self) -> list[RR]:
        return _extra(self.additional, self.groups or [], len(self.groups or []))


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
    records = int.from_bytes(data[6:8], "big") + int.from_bytes(data[8:10], "big") + int.from_bytes(data[10:12], "big")
    if records > MAX_QUERY_RECORDS:
        # A query carries at most an OPT and a signature; parsing thousands of records is only work.
        raise RequestError(FORMERR, f"{records} records in a query")
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
T = TypeVar("T")
# Answers beyond this count are fitted to the buffer from a size estimate, not by packing them all.
_SAMPLE = 32


def rotated(items: Sequence[T], shift: int) -> list[T]:
    if not items:
        return []
    k = shift % len(items)
    return list(items[k:]) + list(items[:k])


def _extra(static: list[RR], groups: Sequence[list[RR]], count: int) -> list[RR]:
    """The static additional records plus those of the first `count` answers, each once."""
    if not groups:
        return list(static)
    out = list(static)
    seen: set[int] = set()
    for group in groups[:count]:
        for rr in group:
            if id(rr) not in seen:
                seen.add(id(rr))
                out.append(rr)
    return out


class _PointerSafeBuffer(DNSBuffer):  # type: ignore[misc]
    """dnslib's name compression also remembers names written past offset 0x3FFF, which a 14-bit
    pointer cannot reach, and so corrupts messages over 16 KiB (big TCP or EDNS0 answers). This
    buffer only offers names that a pointer can address."""

    def encode_name(self, name: object) -> None:
        label = name if isinstance(name, DNSLabel) else DNSLabel(name)
        if len(label) > 253:
            raise DNSLabelError(f"Domain label too long: {label!r}")
        parts = list(label.label)
        while parts:
            known = self.names.get(tuple(parts))
            if known is not None:
                self.pack("!H", 0xC000 | known)
                return
            if self.offset < 0x4000:
                self.names[tuple(parts)] = self.offset
            element = parts.pop(0)
            if len(element) > 63:
                raise DNSLabelError(f"Label component too long: {element!r}")
            self.pack("!B", len(element))
            self.append(element)
        self.append(b"\x00")


def _pack(
    req: Request, ans: Answer, answers: list[RR], authority: list[RR], additional: list[RR],
    tc: bool, ra: bool,
) -> bytes:
    rcode = ans.rcode
    flags = (1 << 15 | int(ans.authoritative) << 10 | int(tc) << 9 | int(req.rd) << 8 | int(ra) << 7
             | int(req.cd) << 4 | rcode & 0xF)
    edns = (OUR_UDP_SIZE, (rcode >> 4) & 0xFF) if req.edns is not None else None
    fast = None
    if not authority and not additional:
        fast = pack_addresses(req.id, flags, req.question, answers, edns)
    if fast is None:
        fast = pack_message(req.id, flags, req.question, (answers, authority, additional), edns)
    if fast is not None:
        return fast
    return _pack_dnslib(req, ans, answers, authority, additional, tc, ra)


def _pack_dnslib(
    req: Request, ans: Answer, answers: list[RR], authority: list[RR], additional: list[RR],
    tc: bool, ra: bool,
) -> bytes:
    rcode = ans.rcode
    header = DNSHeader(
        id=req.id, qr=1, opcode=0, aa=int(ans.authoritative), tc=int(tc), rd=int(req.rd), ra=int(ra),
        cd=int(req.cd), rcode=rcode & 0xF,
    )
    ar = list(additional)
    if req.edns is not None:
        ar.append(EDNS0(udp_len=OUR_UDP_SIZE, ext_rcode=(rcode >> 4) & 0xFF))
    header.q, header.a, header.auth, header.ar = 1, len(answers), len(authority), len(ar)
    buffer = _PointerSafeBuffer()
    header.pack(buffer)
    req.question.pack(buffer)
    for section in (answers, authority, ar):
        for rr in section:
            rr.pack(buffer)
    return bytes(buffer.data)


def encode_reply(req: Request, ans: Answer, limits: Limits, ra: bool, shift: int = 0) -> bytes:
    """Wire bytes for `ans`, its answers rotated by `shift`, fitted to `limits`.

    Order of cuts (Consul's): a_record_limit, the answer-count cap, the authority section, then
    as many answers as fit the buffer (with their additional records); a single answer that still
    does not fit loses the additional section, and if even that is too big the reply is empty with
    TC set. Answers cut by the cap or the size set TC only when `set_tc` (enable_truncate).
    """
    n = len(ans.answer)
    order = rotated(range(n), shift) if shift and n else list(range(n))
    answers = [ans.answer[i] for i in order]
    groups = [ans.groups[i] for i in order] if ans.groups is not None else None
    if ans.a_limited and limits.a_record_limit > 0 and len(answers) > limits.a_record_limit:
        answers = answers[: limits.a_record_limit]
    total = len(answers)
    k = min(total, limits.answer_limit) if limits.answer_limit else total
    authority = list(ans.authority)

    packed: dict[int, bytes] = {}  # count → reply, for the current authority section

    def pack(count: int, with_extra: bool = True, tc: bool = False) -> bytes:
        plain = with_extra and not tc
        if plain and count in packed:
            return packed[count]
        extra = _extra(ans.additional, groups or [], count) if with_extra else []
        wire = _pack(req, ans, answers[:count], authority, extra, tc, ra)
        if plain:
            packed[count] = wire
        return wire

    estimate = k
    base = 0
    if k > _SAMPLE:
        base = len(pack(0))
        per = (len(pack(_SAMPLE)) - base) / _SAMPLE
        if per > 0:
            estimate = max(1, int((limits.max_size - base) / per))
    wire = pack(k) if estimate >= k else b""
    if len(wire) > limits.max_size and authority:
        authority = []
        packed.clear()
        wire = pack(k)
    if not wire or len(wire) > limits.max_size:
        if not base:
            base = len(pack(0))
        k = _largest_fitting(lambda j: len(pack(j)), k, limits.max_size, base, estimate)
        if k == 0:
            k = 1
            if len(pack(1, with_extra=False)) > limits.max_size:
                # Not even one record fits: an empty, truncated reply sends the client to TCP.
                return _pack(req, ans, [], [], [], True, ra)
            return pack(1, with_extra=False, tc=total > 1 and limits.set_tc)
        wire = pack(k)
    if k < total and limits.set_tc:
        wire = pack(k, tc=True)
    return wire


def _largest_fitting(size_of: Callable[[int], int], limit: int, max_size: int, base: int, guess: int) -> int:
    """The largest j in [0, limit] with size_of(j) <= max_size (sizes grow with j; j=0 fits).

    Each probe's size refines the per-answer cost (a secant step), so a reply of hundreds of
    records is fitted in a few packs instead of a bisection's ten or more."""
    lo, hi = 0, limit
    g = min(max(guess, 1), limit)
    for _ in range(6):
        size = size_of(g)
        if size <= max_size:
            lo = g
        else:
            hi = g - 1
        if lo >= hi:
            return lo
        per = (size - base) / g if size > base else 1.0
        nxt = int((max_size - base) / per) if per > 0 else hi
        g = min(max(nxt, lo + 1), hi)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if size_of(mid) <= max_size:
            lo = mid
        else:
            hi = mid - 1
    return lo


def error_reply(req: Request, rcode: int, ra: bool) -> bytes:
    return _pack(req, Answer(rcode=rcode, authoritative=False), [], [], [], False, ra)
