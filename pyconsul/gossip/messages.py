"""Gossip wire messages: typed dataclasses, msgpack-encoded, never pickled.

A packet is a msgpack array of messages; each message is `[type_code, field, ...]` in dataclass
field order. Several messages in one packet is how updates ride piggyback on probes. Anything that
does not decode to a known message raises DecodeError, so a stray datagram is dropped, not trusted.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import msgpack

from pyconsul.gossip.state import NodeStatus
from pyconsul.msgpack_limits import LimitExceeded, Limits, unpack_limited

# What an honest member sends: a push/pull lists every member (MAX_MEMBERS, beyond Consul's
# guidance for one LAN pool), each with its tags (Consul sets about twenty short ones; memberlist
# caps node meta at 512 bytes). Nothing in gossip is binary.
MAX_MEMBERS = 10_000
MAX_TAGS = 256
MAX_MEMBER_BYTES = 800  # name, address, port, tags, incarnation, status of one push/pull state
PACKET_LIMITS = Limits(max_bin_len=0, max_str_len=4096, max_array_len=MAX_MEMBERS + 16,
                       max_map_len=MAX_TAGS, max_maps=MAX_MEMBERS + 16)


class DecodeError(ValueError):
    """Bytes that are not a well-formed gossip packet."""


@dataclass(frozen=True)
class Ping:
    TYPE: ClassVar[int] = 1
    seq: int
    node: str  # the name the sender expects to answer, so a reused address is not mistaken


@dataclass(frozen=True)
class IndirectPing:
    TYPE: ClassVar[int] = 2
    seq: int
    node: str
    addr: str
    port: int


@dataclass(frozen=True)
class Ack:
    TYPE: ClassVar[int] = 3
    seq: int


@dataclass(frozen=True)
class Nack:
    """From an indirect-probe helper: "I could not reach the target either" (so the prober's own
    link is probably fine)."""

    TYPE: ClassVar[int] = 8
    seq: int


@dataclass(frozen=True)
class Alive:
    TYPE: ClassVar[int] = 4
    incarnation: int
    node: str
    addr: str
    port: int
    tags: dict[str, str] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Suspect:
    TYPE: ClassVar[int] = 5
    incarnation: int
    node: str
    sender: str


@dataclass(frozen=True)
class Dead:
    TYPE: ClassVar[int] = 6
    incarnation: int
    node: str
    sender: str
    left: bool  # a graceful leave (or force-leave), not a failure
    prune: bool = False  # force-leave -prune: forget the member outright


@dataclass(frozen=True)
class PushPullState:
    node: str
    addr: str
    port: int
    tags: dict[str, str]
    incarnation: int
    status: NodeStatus


@dataclass(frozen=True)
class PushPull:
    """Full state exchange (join and periodic anti-entropy); always sent over TCP."""

    TYPE: ClassVar[int] = 7
    join: bool
    reply: bool
    states: tuple[PushPullState, ...]


Message = Ping | IndirectPing | Ack | Nack | Alive | Suspect | Dead | PushPull
MESSAGE_TYPES: dict[int, type[Any]] = {
    cls.TYPE: cls for cls in (Ping, IndirectPing, Ack, Nack, Alive, Suspect, Dead, PushPull)
}


# Field names and declared kinds per message type, read once: encoding and decoding run for every
# packet of every member (dataclasses.astuple deep-copied each message; fields() was per decode).
_FIELDS: dict[type[Any], tuple[tuple[str, str], ...]] = {
    cls: tuple((f.name, str(f.type)) for f in fields(cls)) for cls in MESSAGE_TYPES.values() if cls is not PushPull
}


def _to_wire(msg: Message) -> list[Any]:
    if isinstance(msg, PushPull):
        states = [[s.node, s.addr, s.port, s.tags, s.incarnation, s.status.value] for s in msg.states]
        return [msg.TYPE, msg.join, msg.reply, states]
    return [msg.TYPE, *[getattr(msg, name) for name, _ in _FIELDS[type(msg)]]]


def encode_message(msg: Message) -> bytes:
    return msgpack.packb(_to_wire(msg), use_bin_type=True)


def encode_packet(msgs: list[Message] | tuple[Message, ...]) -> bytes:
    return msgpack.packb([_to_wire(m) for m in msgs], use_bin_type=True)


def _check(value: Any, kind: str, where: str) -> Any:
    t = type(value)
    if kind == "str":
        ok = t is str or isinstance(value, str)
    elif kind == "int":
        ok = t is int or (isinstance(value, int) and not isinstance(value, bool))
    elif kind == "bool":
        ok = t is bool
    elif kind == "dict[str, str]":
        ok = isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    else:
        ok = False
    if not ok:
        raise DecodeError(f"{where}: expected {kind}, got {type(value).__name__}")
    return value


def _state_from_wire(raw: Any) -> PushPullState:
    if not isinstance(raw, tuple) or len(raw) != 6:
        raise DecodeError("push/pull state: expected a 6-element array")
    node, addr, port, tags, inc, status = raw
    try:
        st = NodeStatus(_check(status, "int", "status"))
    except ValueError:
        raise DecodeError(f"push/pull state: unknown status {status!r}") from None
    return PushPullState(
        _check(node, "str", "node"), _check(addr, "str", "addr"), _check(port, "int", "port"),
        _check(tags, "dict[str, str]", "tags"), _check(inc, "int", "incarnation"), st,
    )


def _from_wire(raw: Any) -> Message:
    if not isinstance(raw, tuple) or not raw:
        raise DecodeError("message: expected a non-empty array")
    cls = MESSAGE_TYPES.get(raw[0]) if isinstance(raw[0], int) else None
    if cls is None:
        raise DecodeError(f"unknown message type {raw[0]!r}")
    if cls is PushPull:
        if len(raw) != 4 or not isinstance(raw[3], tuple):
            raise DecodeError("push/pull: malformed")
        return PushPull(
            _check(raw[1], "bool", "join"), _check(raw[2], "bool", "reply"),
            tuple(_state_from_wire(s) for s in raw[3]),
        )
    flds = _FIELDS[cls]
    if len(raw) != len(flds) + 1:
        raise DecodeError(f"{cls.__name__}: expected {len(flds)} fields, got {len(raw) - 1}")
    values = [_check(v, kind, f"{cls.__name__}.{name}") for (name, kind), v in zip(flds, raw[1:], strict=True)]
    msg: Message = cls(*values)
    return msg


def decode_packet(data: bytes) -> list[Message]:
    try:
        raw = unpack_limited(data, PACKET_LIMITS)
    except LimitExceeded as exc:
        raise DecodeError(str(exc)) from None
    if not isinstance(raw, tuple):
        raise DecodeError("packet: expected an array of messages")
    return [_from_wire(m) for m in raw]
