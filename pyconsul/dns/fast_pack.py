"""Wire bytes for the commonest reply without dnslib: address answers (A/AAAA) to the question's
own name, nothing in the authority or additional sections. Each such record is the same 16 or
28 bytes (a pointer to the question's name, type, class, TTL, address), so a reply and each of
its rotations are plain concatenations — while the catalog churns, every change re-encodes the
answers and their rotations, and dnslib's packer was most of that cost.

`pack_addresses` returns None for anything else; `pack_message` then takes any message whose
records are of the types the resolver answers with (SRV answers with their address and TXT
glue, CNAMEs, SOA authorities), compressing names exactly as the pointer-safe dnslib buffer does;
it returns None for anything else, which the caller packs with dnslib. The bytes are the same as
dnslib's for the same message (property-tested).
"""

from __future__ import annotations

import struct
from typing import Any

_A, _NS, _CNAME, _SOA, _PTR, _TXT, _AAAA, _SRV = 1, 2, 5, 6, 12, 16, 28, 33
_IN = 1
_U16 = struct.Struct("!H")
_RR_HEAD = struct.Struct("!HHIH")  # type, class, TTL, rdata length
_SRV_HEAD = struct.Struct("!HHH")
_SOA_TIMES = struct.Struct("!IIIII")
# A compression pointer has 14 bits: names written past this offset cannot be pointed to.
_POINTER_LIMIT = 0x4000
_POINTER_TO_QUESTION = b"\xc0\x0c"  # the question's name starts right after the 12-byte header


def pack_addresses(msg_id: int, flags: int, question: Any, answers: list[Any], edns: tuple[int, int] | None) -> bytes | None:
    """`flags` is the header's second 16-bit word; `edns` is (udp size, extended rcode) for the
    reply's OPT record, or None for no OPT record."""
    labels = question.qname.label
    parts: list[bytes] = []
    for rr in answers:
        rtype = rr.rtype
        if rtype != _A and rtype != _AAAA or rr.rclass != _IN or rr.rname.label != labels:
            return None
        data = rr.rdata.data
        parts.append(_POINTER_TO_QUESTION + struct.pack("!HHIH", rtype, _IN, rr.ttl, len(data)) + bytes(data))
    qname = b"".join(bytes((len(label),)) + label for label in labels) + b"\x00"
    if len(qname) > 255:
        return None
    head = struct.pack("!HHHHHH", msg_id, flags, 1, len(answers), 0, 1 if edns is not None else 0)
    out = head + qname + struct.pack("!HH", question.qtype, question.qclass) + b"".join(parts)
    if edns is not None:
        out += _opt(edns)
    return out


def _opt(edns: tuple[int, int]) -> bytes:
    """The reply's OPT record: root name, type 41, class = UDP size, TTL = extended rcode."""
    return b"\x00" + struct.pack("!HHBBHH", 41, edns[0], edns[1], 0, 0, 0)


class _NameTooLong(Exception):
    """A name or label dnslib would refuse: leave the message to dnslib, which says why."""


def _name(out: bytearray, names: dict[tuple[bytes, ...], int], labels: tuple[bytes, ...]) -> None:
    """Append `labels` compressed against the names already written, remembering each suffix
    written below the pointer limit (what `records._PointerSafeBuffer.encode_name` does)."""
    if len(b".".join(labels)) > 253:
        raise _NameTooLong
    for i in range(len(labels)):
        suffix = labels[i:]
        known = names.get(suffix)
        if known is not None:
            out += _U16.pack(0xC000 | known)
            return
        if len(out) < _POINTER_LIMIT:
            names[suffix] = len(out)
        element = labels[i]
        if len(element) > 63:
            raise _NameTooLong
        out.append(len(element))
        out += element
    out.append(0)


def _record(out: bytearray, names: dict[tuple[bytes, ...], int], rr: Any) -> bool:
    """Append one record; False (nothing written that matters) for a type this packer leaves to
    dnslib."""
    rtype = rr.rtype
    _name(out, names, rr.rname.label)
    at = len(out)
    out += _RR_HEAD.pack(rtype, rr.rclass, rr.ttl, 0)
    rdata = rr.rdata
    if rtype == _A or rtype == _AAAA:
        out += bytes(rdata.data)
    elif rtype == _SRV:
        out += _SRV_HEAD.pack(rdata.priority, rdata.weight, rdata.port)
        _name(out, {}, rdata.target.label)  # uncompressed (RFC 2782) and not offered to later names
    elif rtype == _TXT:
        for chunk in rdata.data:
            if len(chunk) > 255:
                return False
            out.append(len(chunk))
            out += chunk
    elif rtype == _CNAME or rtype == _PTR or rtype == _NS:
        _name(out, names, rdata.label.label)
    elif rtype == _SOA:
        _name(out, names, rdata.mname.label)
        _name(out, names, rdata.rname.label)
        out += _SOA_TIMES.pack(*rdata.times)
    else:
        return False
    _U16.pack_into(out, at + 8, len(out) - at - 10)
    return True


def pack_message(msg_id: int, flags: int, question: Any, sections: tuple[list[Any], list[Any], list[Any]],
                 edns: tuple[int, int] | None) -> bytes | None:
    """The whole reply: answers, authority and additional records, then the OPT record when
    `edns` is (udp size, extended rcode). None when a record is of a type packed only by dnslib."""
    answers, authority, additional = sections
    out = bytearray(struct.pack("!HHHHHH", msg_id, flags, 1, len(answers), len(authority),
                                len(additional) + (1 if edns is not None else 0)))
    names: dict[tuple[bytes, ...], int] = {}
    try:
        _name(out, names, question.qname.label)
        out += struct.pack("!HH", question.qtype, question.qclass)
        for section in sections:
            for rr in section:
                if not _record(out, names, rr):
                    return None
    except (_NameTooLong, struct.error):
        return None
    if edns is not None:
        out += _opt(edns)
    return bytes(out)
