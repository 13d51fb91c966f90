"""When a client agent stops waiting on the server it asked (pure rules, no I/O).

A client agent sends a request to one server and waits. That server holds a write or a read
that needs the leader until it knows one (up to rpc_hold_timeout). If it has been cut off from
the others, it never learns of the leader they elect, and the request would sit out the whole
hold. So, while such a request is outstanding, the client asks every server whom it names as
leader: once the others agree on one that the server holding the request does not name, that
server is cut off, and the client acts at once — a read is sent to the new leader, a write is
answered with an error (it may still be applied where it sits, so sending it again is unsafe).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

# Start asking about the leader once a request has waited this long (a healthy answer takes
# milliseconds), and ask again this often: the Raft heartbeat interval at raft_multiplier 1.
WATCH_AFTER = 0.1
WATCH_INTERVAL = 0.1
# A server that does not answer "who leads?" within this long is counted as not answering.
STATUS_TIMEOUT = 0.5

_READS = ("GET", "HEAD")


def needs_leader(method: str, path_qs: str) -> bool:
    """Requests a server holds while it has no leader: writes, and reads that are neither
    `?stale` nor blocking (`?index=`, which wait by design)."""
    if method.upper() not in _READS:
        return True
    _, _, qs = path_qs.partition("?")
    keys = {k for k, _ in parse_qsl(qs, keep_blank_values=True)}
    return not ({"stale", "index"} & keys)


def is_read(method: str) -> bool:
    return method.upper() in _READS


def leader_elsewhere(asked: str, named: dict[str, str | None], read: bool) -> str:
    """The leader the other servers name that `asked` does not, or "" to keep waiting.

    `named`: server → the leader it names ("" none, None: it did not answer). The others must
    name exactly one leader besides `asked` (one of them may still name `asked`, a stale view).
    A server that did not answer at all is counted as cut off for a read (sending a read
    elsewhere is always safe), but not for a write: a slow server is no reason to fail one."""
    others = {lead for server, lead in named.items() if server != asked and lead and lead != asked}
    if len(others) != 1:
        return ""
    lead = next(iter(others))
    own = named.get(asked)
    if own == lead or (own is None and not read):
        return ""
    return lead
