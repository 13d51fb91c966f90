"""Fine-grained wake-ups for blocking queries.

A read records the topics it depended on in a WatchSet; a write fires the topics it touched. A
blocked query subscribes to its topics and is woken only when one of them fires, so a change to
service A never wakes a watcher of service B. Pure: callbacks, no event loop.

Topics are built only by the functions below, one per table (or row kind): the write side and the
read side call the same function, so a reader can never wait on a topic no writer fires.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator

Topic = Hashable

_NODES: Topic = ("nodes",)
_SERVICES: Topic = ("services",)
_SESSIONS: Topic = ("sessions",)
_EVENTS: Topic = ("events",)


# -- topics ------------------------------------------------------------------------------------
def table(name: str) -> Topic:
    """Any write that raised the index of table `name`."""
    return ("table", name)


def nodes() -> Topic:
    """The node list: a node registered, changed or removed."""
    return _NODES


def node(name: str) -> Topic:
    """One node's row, its services or its checks."""
    return ("node", name)


def services() -> Topic:
    """The service list (catalog/services): an instance added, changed or removed."""
    return _SERVICES


def service(name: str) -> Topic:
    """Anything a catalog or health answer for service `name` embeds: instances, nodes, checks."""
    return ("svc", name)


def connect_service(name: str) -> Topic:
    """Anything a Connect answer for service `name` embeds: its proxies, their nodes and checks."""
    return ("connect", name)


def check_state(status: str) -> Topic:
    """Checks in one status, or every check for status "any"."""
    return ("state", status)


def kv_key(key: str) -> Topic:
    """One key (a single-key read, present or not)."""
    return ("kv", key)


def kv_prefix(prefix: str) -> Topic:
    """Every key under `prefix` (a ?recurse or ?keys read)."""
    return ("kvp", prefix)


def kv_prefixes(key: str) -> Iterator[Topic]:
    """The prefix topics a write to `key` fires: every prefix of it, "" included."""
    return (("kvp", key[:i]) for i in range(len(key) + 1))


def sessions() -> Topic:
    """The session list."""
    return _SESSIONS


def session(session_id: str) -> Topic:
    return ("session", session_id)


def node_sessions(node_name: str) -> Topic:
    """The sessions of one node."""
    return ("node-sessions", node_name)


def events() -> Topic:
    """The user-event ring."""
    return _EVENTS


def config_kind(kind: str) -> Topic:
    """Every config entry of one kind (a list by kind), and each one of them."""
    return ("config", kind)


def config_entry(kind: str, name: str) -> Topic:
    """One config entry, present or not."""
    return ("config", kind, name)


# -- reads and wake-ups ------------------------------------------------------------------------


class WatchSet:
    __slots__ = ("topics",)

    def __init__(self) -> None:
        self.topics: set[Topic] = set()

    def add(self, topic: Topic) -> None:
        self.topics.add(topic)


class WatchRegistry:
    """Topic → subscribers. A subscriber is called at most once, then forgotten."""

    def __init__(self) -> None:
        self._subs: dict[Topic, set[int]] = {}
        self._callbacks: dict[int, tuple[Callable[[], None], tuple[Topic, ...]]] = {}
        self._next = 0

    def subscribe(self, topics: Iterable[Topic], callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback` once when any topic fires. Returns an unsubscribe function."""
        self._next += 1
        token = self._next
        tops = tuple(topics)
        self._callbacks[token] = (callback, tops)
        for t in tops:
            self._subs.setdefault(t, set()).add(token)
        return lambda: self._drop(token)

    def _drop(self, token: int) -> Callable[[], None] | None:
        entry = self._callbacks.pop(token, None)
        if entry is None:
            return None
        for t in entry[1]:
            subs = self._subs.get(t)
            if subs is not None:
                subs.discard(token)
                if not subs:
                    del self._subs[t]
        return entry[0]

    def fire(self, topics: Iterable[Topic]) -> int:
        """Wake every subscriber of any of `topics`; returns how many were woken."""
        tokens: set[int] = set()
        for t in topics:
            subs = self._subs.get(t)
            if subs:
                tokens |= subs
        return self._wake(tokens)

    def fire_all(self) -> int:
        return self._wake(set(self._callbacks))

    def _wake(self, tokens: set[int]) -> int:
        woken = 0
        for token in tokens:
            cb = self._drop(token)
            if cb is not None:
                cb()
                woken += 1
        return woken

    def __len__(self) -> int:
        return len(self._callbacks)
