"""Wire bytes for the commonest reply without dnslib: address answers (A/AAAA) to the question's
own name, nothing in the authority or additional sections. Each such record is the same 16 or
28 bytes (a pointer to the question's name, type, class, TTL, address), so a reply and each of
its rotations are plain concatenations — while the catalog churns, every change re-encodes the
answers and their rotations, and dnslib's packer was most of that cost.

`pack_addresses` returns None for anything else; the caller then packs with dnslib. The bytes
are the same as dnslib's for the same message (tested).
"""

from __future__ import annotations

import struct
from typing import Any

_A, _AAAA, _IN = 1, 28, 1
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
        out += b"\x00" + struct.pack("!HHBBHH", 41, edns[0], edns[1], 0, 0, 0)
    return out
