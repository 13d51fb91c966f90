"""Raft log entries, snapshots and the messages servers exchange, with their msgpack wire form.

Every message carries the sender's `term`, its `src` and `dst` server IDs. The wire form is a
msgpack array `[tag, term, src, dst, *fields]` (entries `[index, term, kind, data]`); an unknown
tag or a malformed array raises `DecodeError`, never anything else. Never pickle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgpack

from pyconsul.raft.wire import (
    MAX_CHUNK_BYTES,
    MAX_CTX_BYTES,
    MAX_ENTRY_BYTES,
    MAX_ID_LEN,
    MAX_SNAPSHOT_BYTES,
    MAX_TERM_OR_INDEX,
    MAX_VOTERS,
    DecodeError,
    unpack_peer,
)

# Entry kinds.
NORMAL = 0  # a state-machine command
CONFIG = 1  # the full voter configuration that holds from this entry on
NOOP = 2  # appended by each new leader so it can commit an entry of its own term
RESTORE = 3  # a whole state-machine image to restore (`snapshot restore`), replicated like a command
ENTRY_KINDS = (NORMAL, CONFIG, NOOP, RESTORE)

Voters = dict[str, str]  # server ID -> "IP:port" of its server (Raft) port


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
class SnapshotChunk(Message):
    """One piece of an InstallSnapshot on the wire: `data` is the image's bytes from `offset` of
    `size` in all. Transports send a snapshot as chunks and hand the core the whole message."""

    index: int = 0
    snap_term: int = 0
    voters: Voters = field(default_factory=dict)
    offset: int = 0
    size: int = 0
    data: bytes = b""


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


def _snapshot_wire(s: Snapshot) -> list[Any]:
    return [s.index, s.term, s.voters, s.data]


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
    if isinstance(m, SnapshotChunk):
        return [m.index, m.snap_term, m.voters, m.offset, m.size, m.data]
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
    SnapshotChunk: 11,
}


# ---------------------------------------------------------------------- the one decoder
# Everything a peer sends is checked here, field by field, before the core sees it: the core
# and the stores may then rely on every term and index being an int in [0, 2**63) (it always
# fits the stores' uint64 after counting up) and on AppendEntries carrying a contiguous run.


def _seq(x: Any, what: str, n: int | None = None) -> list[Any] | tuple[Any, ...]:
    if not isinstance(x, (list, tuple)):
        raise DecodeError(f"{what}: expected an array")
    if n is not None and len(x) != n:
        raise DecodeError(f"{what}: expected {n} fields, got {len(x)}")
    return x


def _u63(x: Any, what: str) -> int:
    # `type(...) is int`: bool is an int subclass, and str/float must not be coerced.
    if type(x) is not int or not 0 <= x < MAX_TERM_OR_INDEX:
        raise DecodeError(f"{what}: expected an integer in [0, 2**63), got {_short(x)}")
    return x


def _bool(x: Any, what: str) -> bool:
    if type(x) is not bool:
        raise DecodeError(f"{what}: expected a boolean, got {_short(x)}")
    return x


def _bin(x: Any, what: str, limit: int) -> bytes:
    if type(x) is not bytes:
        raise DecodeError(f"{what}: expected bytes, got {type(x).__name__}")
    if len(x) > limit:
        raise DecodeError(f"{what}: {len(x)} bytes is over the limit of {limit}")
    return x


def _str(x: Any, what: str, limit: int = MAX_ID_LEN) -> str:
    if type(x) is not str:
        raise DecodeError(f"{what}: expected a string, got {type(x).__name__}")
    if len(x) > limit:
        raise DecodeError(f"{what}: {len(x)} characters is over the limit of {limit}")
    return x


def _short(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 40 else text[:37] + "..."


def _voters(x: Any, what: str) -> Voters:
    if not isinstance(x, dict):
        raise DecodeError(f"{what}: expected a map")
    if len(x) > MAX_VOTERS:
        raise DecodeError(f"{what}: {len(x)} voters is over the limit of {MAX_VOTERS}")
    return {_str(k, f"{what} ID"): _str(v, f"{what} address") for k, v in x.items()}


def _entry_from(w: Any) -> Entry:
    index, term, kind, data = _seq(w, "entry", 4)
    if type(kind) is not int or kind not in ENTRY_KINDS:
        raise DecodeError(f"entry: unknown kind {_short(kind)}")
    return Entry(_u63(index, "entry index"), _u63(term, "entry term"), kind, _bin(data, "entry data", MAX_ENTRY_BYTES))


def _snapshot_from(w: Any) -> Snapshot:
    index, term, voters, data = _seq(w, "snapshot", 4)
    return Snapshot(_u63(index, "snapshot index"), _u63(term, "snapshot term"), _voters(voters, "snapshot voters"),
                    _bin(data, "snapshot data", MAX_SNAPSHOT_BYTES))


def _append_entries(term: int, src: str, dst: str, f: Any) -> AppendEntries:
    prev_index, prev_term, wire_entries, commit = _seq(f, "AppendEntries", 4)
    m = AppendEntries(term, src, dst, _u63(prev_index, "prev_index"), _u63(prev_term, "prev_term"),
                      [], _u63(commit, "commit"))
    if m.prev_term > term:
        raise DecodeError(f"AppendEntries: prev_term {m.prev_term} is after the message term {term}")
    last_term = m.prev_term
    for i, w in enumerate(_seq(wire_entries, "entries")):
        e = _entry_from(w)
        # A leader's log runs on from prev_index one index at a time, terms never going back
        # and none after its own term; anything else is forged and would corrupt our log.
        if e.index != m.prev_index + 1 + i:
            raise DecodeError(f"AppendEntries: entry {e.index} where {m.prev_index + 1 + i} was due")
        if not last_term <= e.term <= term:
            raise DecodeError(f"AppendEntries: entry {e.index} has term {e.term} (previous {last_term}, "
                              f"message {term})")
        last_term = e.term
        m.entries.append(e)
    return m


def _build(tag: int, term: int, src: str, dst: str, f: Any) -> Message:
    if tag == 1:
        return _append_entries(term, src, dst, f)
    if tag == 2:
        index, reject, hint, log_term = _seq(f, "AppendResp", 4)
        return AppendResp(term, src, dst, _u63(index, "index"), _bool(reject, "reject"),
                          _u63(hint, "reject_hint"), _u63(log_term, "log_term"))
    if tag == 3:
        commit, ctx = _seq(f, "Heartbeat", 2)
        return Heartbeat(term, src, dst, _u63(commit, "commit"), _bin(ctx, "ctx", MAX_CTX_BYTES))
    if tag == 4:
        (ctx,) = _seq(f, "HeartbeatResp", 1)
        return HeartbeatResp(term, src, dst, _bin(ctx, "ctx", MAX_CTX_BYTES))
    if tag == 5:
        if len(_seq(f, "Vote")) == 3:  # from a server that predates leadership transfer
            f = [*f, False]
        last_index, last_term, pre, transfer = _seq(f, "Vote", 4)
        return Vote(term, src, dst, _u63(last_index, "last_index"), _u63(last_term, "last_term"),
                    _bool(pre, "pre"), _bool(transfer, "transfer"))
    if tag == 6:
        granted, pre = _seq(f, "VoteResp", 2)
        return VoteResp(term, src, dst, _bool(granted, "granted"), _bool(pre, "pre"))
    if tag == 7:
        (snap,) = _seq(f, "InstallSnapshot", 1)
        return InstallSnapshot(term, src, dst, _snapshot_from(snap))
    if tag == 8:
        ctx, lease = _seq(f, "ReadIndex", 2)
        return ReadIndex(term, src, dst, _bin(ctx, "ctx", MAX_CTX_BYTES), _bool(lease, "lease"))
    if tag == 9:
        ctx, index, ok = _seq(f, "ReadIndexResp", 3)
        return ReadIndexResp(term, src, dst, _bin(ctx, "ctx", MAX_CTX_BYTES), _u63(index, "index"), _bool(ok, "ok"))
    if tag == 10:
        _seq(f, "TimeoutNow", 0)
        return TimeoutNow(term, src, dst)
    if tag == 11:
        index, snap_term, voters, offset, size, data = _seq(f, "SnapshotChunk", 6)
        c = SnapshotChunk(term, src, dst, _u63(index, "snapshot index"), _u63(snap_term, "snapshot term"),
                          _voters(voters, "snapshot voters"), _u63(offset, "offset"), _u63(size, "size"),
                          _bin(data, "chunk", MAX_CHUNK_BYTES))
        if c.size > MAX_SNAPSHOT_BYTES or c.offset + len(c.data) > c.size:
            raise DecodeError(f"SnapshotChunk: {len(c.data)} bytes at {c.offset} of a {c.size}-byte snapshot")
        return c
    raise DecodeError(f"unknown raft message tag {_short(tag)}")


def to_wire(m: Message) -> list[Any]:
    """The msgpack-ready array for `m` (transports batch several of these in one frame)."""
    return [_TAGS[type(m)], m.term, m.src, m.dst, *_fields(m)]


def from_wire(w: Any) -> Message:
    """The message `w` (msgpack-decoded) describes; DecodeError for anything malformed."""
    w = _seq(w, "raft message")
    if len(w) < 4:
        raise DecodeError("raft message: expected [tag, term, src, dst, ...]")
    tag, term, src, dst = w[:4]
    if type(tag) is not int:
        raise DecodeError(f"unknown raft message tag {_short(tag)}")
    return _build(tag, _u63(term, "term"), _str(src, "src"), _str(dst, "dst"), w[4:])


def encode_message(m: Message) -> bytes:
    return msgpack.packb(to_wire(m), use_bin_type=True)


def decode_message(data: bytes) -> Message:
    return from_wire(unpack_peer(data))


def encode_voters(voters: Voters) -> bytes:
    return msgpack.packb(voters, use_bin_type=True)


def decode_voters(data: bytes) -> Voters:
    return _voters(unpack_peer(data), "configuration entry")
