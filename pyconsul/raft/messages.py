"""Raft log entries, snapshots and the messages servers exchange, with their msgpack wire form.

Every message carries the sender's `term`, its `src` and `dst` server IDs. The wire form is a
msgpack array `[tag, term, src, dst, *fields]` (entries `[index, term, kind, data]`); an unknown
tag or a malformed array raises `DecodeError`, never anything else. Never pickle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgpack

# Entry kinds.
NORMAL = 0  # a state-machine command
CONFIG = 1  # the full voter configuration that holds from this entry on
NOOP = 2  # appended by each new leader so it can commit an entry of its own term
RESTORE = 3  # a whole state-machine image to restore (`snapshot restore`), replicated like a command

Voters = dict[str, str]  # server ID -> "IP:port" of its server (Raft) port


class DecodeError(ValueError):
    pass


@dataclass(slots=True)
class Entry:
    index: int
    term: int
    kind: int = NORMAL
    data: bytes = b""


@dataclass(slots=True)
class Snapshot:
    """A state-machine image as of `index` (whose entry had `term`), with the voters then."""

    index: int
    term: int
    voters: Voters
    data: bytes = b""


@dataclass(slots=True)
class Message:
    term: int
    src: str
    dst: str


@dataclass(slots=True)
class AppendEntries(Message):
    prev_index: int = 0
    prev_term: int = 0
    entries: list[Entry] = field(default_factory=list)
    commit: int = 0


@dataclass(slots=True)
class AppendResp(Message):
    index: int = 0  # on success the last index now matching the leader; on reject the prev_index
    reject: bool = False
    reject_hint: int = 0  # follower's guess of the last index that may match
    log_term: int = 0  # term of the follower's entry at reject_hint


@dataclass(slots=True)
class Heartbeat(Message):
    commit: int = 0
    ctx: bytes = b""  # read-index context the follower echoes back


@dataclass(slots=True)
class HeartbeatResp(Message):
    ctx: bytes = b""


@dataclass(slots=True)
class Vote(Message):
    last_index: int = 0
    last_term: int = 0
    pre: bool = False
    transfer: bool = False  # asked for by the leader handing over: voters skip the lease check


@dataclass(slots=True)
class VoteResp(Message):
    granted: bool = False
    pre: bool = False


@dataclass(slots=True)
class InstallSnapshot(Message):
    snapshot: Snapshot = field(default_factory=lambda: Snapshot(0, 0, {}))


@dataclass(slots=True)
class TimeoutNow(Message):
    """The leader hands leadership to the receiver: campaign at once."""


@dataclass(slots=True)
class ReadIndex(Message):
    """A follower asks the leader for a commit index that is safe to read at."""

    ctx: bytes = b""
    lease: bool = False  # True: the leader may answer under its lease without a quorum round


@dataclass(slots=True)
class ReadIndexResp(Message):
    ctx: bytes = b""
    index: int = 0
    ok: bool = True


def _entry_wire(e: Entry) -> list[Any]:
    return [e.index, e.term, e.kind, e.data]


def _entry_from(w: Any) -> Entry:
    index, term, kind, data = w
    return Entry(int(index), int(term), int(kind), bytes(data))


def _snapshot_wire(s: Snapshot) -> list[Any]:
    return [s.index, s.term, s.voters, s.data]


def _snapshot_from(w: Any) -> Snapshot:
    index, term, voters, data = w
    return Snapshot(int(index), int(term), {str(k): str(v) for k, v in voters.items()}, bytes(data))


def _fields(m: Message) -> list[Any]:
    if isinstance(m, AppendEntries):
        return [m.prev_index, m.prev_term, [_entry_wire(e) for e in m.entries], m.commit]
    if isinstance(m, AppendResp):
        return [m.index, m.reject, m.reject_hint, m.log_term]
    if isinstance(m, Heartbeat):
        return [m.commit, m.ctx]
    if isinstance(m, HeartbeatResp):
        return [m.ctx]
    if isinstance(m, Vote):
        return [m.last_index, m.last_term, m.pre, m.transfer]
    if isinstance(m, VoteResp):
        return [m.granted, m.pre]
    if isinstance(m, InstallSnapshot):
        return [_snapshot_wire(m.snapshot)]
    if isinstance(m, ReadIndex):
        return [m.ctx, m.lease]
    if isinstance(m, ReadIndexResp):
        return [m.ctx, m.index, m.ok]
    if isinstance(m, TimeoutNow):
        return []
    raise TypeError(f"not a raft message: {type(m).__name__}")


_TAGS: dict[type[Message], int] = {
    AppendEntries: 1,
    AppendResp: 2,
    Heartbeat: 3,
    HeartbeatResp: 4,
    Vote: 5,
    VoteResp: 6,
    InstallSnapshot: 7,
    ReadIndex: 8,
    ReadIndexResp: 9,
    TimeoutNow: 10,
}


def _build(tag: int, term: int, src: str, dst: str, f: list[Any]) -> Message:
    if tag == 1:
        return AppendEntries(term, src, dst, int(f[0]), int(f[1]), [_entry_from(e) for e in f[2]], int(f[3]))
    if tag == 2:
        return AppendResp(term, src, dst, int(f[0]), bool(f[1]), int(f[2]), int(f[3]))
    if tag == 3:
        return Heartbeat(term, src, dst, int(f[0]), bytes(f[1]))
    if tag == 4:
        return HeartbeatResp(term, src, dst, bytes(f[0]))
    if tag == 5:
        return Vote(term, src, dst, int(f[0]), int(f[1]), bool(f[2]), bool(f[3]) if len(f) > 3 else False)
    if tag == 6:
        return VoteResp(term, src, dst, bool(f[0]), bool(f[1]))
    if tag == 7:
        return InstallSnapshot(term, src, dst, _snapshot_from(f[0]))
    if tag == 8:
        return ReadIndex(term, src, dst, bytes(f[0]), bool(f[1]))
    if tag == 9:
        return ReadIndexResp(term, src, dst, bytes(f[0]), int(f[1]), bool(f[2]))
    if tag == 10:
        return TimeoutNow(term, src, dst)
    raise DecodeError(f"unknown raft message tag {tag}")


def to_wire(m: Message) -> list[Any]:
    """The msgpack-ready array for `m` (transports batch several of these in one frame)."""
    return [_TAGS[type(m)], m.term, m.src, m.dst, *_fields(m)]


def from_wire(w: Any) -> Message:
    try:
        tag, term, src, dst, *rest = w
        return _build(int(tag), int(term), str(src), str(dst), rest)
    except DecodeError:
        raise
    except (TypeError, ValueError, IndexError, AttributeError) as exc:
        raise DecodeError(f"malformed raft message: {exc}") from None


def encode_message(m: Message) -> bytes:
    return msgpack.packb(to_wire(m), use_bin_type=True)


def decode_message(data: bytes) -> Message:
    try:
        w = msgpack.unpackb(data, raw=False)
    except Exception as exc:  # msgpack raises several unrelated types on garbage
        raise DecodeError(f"not msgpack: {exc}") from None
    return from_wire(w)


def encode_voters(voters: Voters) -> bytes:
    return msgpack.packb(voters, use_bin_type=True)


def decode_voters(data: bytes) -> Voters:
    v = msgpack.unpackb(data, raw=False)
    if not isinstance(v, dict):
        raise DecodeError("configuration entry is not a map")
    return {str(k): str(a) for k, a in v.items()}
