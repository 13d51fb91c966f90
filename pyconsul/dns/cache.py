"""A cache of encoded replies, so a repeated question costs a dict lookup instead of dnslib.

Rules:
- Keys are the request bytes after the ID (flags, counts, question and, if present, the OPT
  record). A request whose OPT carries options (cookies, client subnet...) is looked up by its
  canonical form with the options cut, since our reply never depends on them.
- Values are the reply bytes without their first two bytes (the ID); the caller prepends the
  request's ID. A name with several interchangeable answers holds a few rotations, served in turn,
  so clients still see the answers spread.
- The whole cache is dropped whenever the catalog index (`index_fn()`) changes or `settings_fn()`
  returns another object (the agent swaps its dns_config on reload), and when it grows past
  `max_entries` (so a flood of random names cannot grow it without bound).
- UDP and TCP replies are kept apart: the UDP ones are trimmed to the client's buffer.
- A distance-sorted reply (a prepared query's Near) also depends on the coordinates, which move
  without the catalog changing: it is kept apart with the coordinates index it was sorted at
  and served only while that index holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import cycle
from typing import Any

DEFAULT_MAX_ENTRIES = 8192


class ReplyCache:
    def __init__(
        self, index_fn: Callable[[], int], settings_fn: Callable[[], Any] = lambda: None,
        max_entries: int = DEFAULT_MAX_ENTRIES, coordinates_fn: Callable[[], int] = lambda: 0,
    ) -> None:
        self._index_fn = index_fn
        self._coordinates_fn = coordinates_fn
        self._settings_fn = settings_fn
        self._settings: Any = settings_fn()
        self.max_entries = max_entries
        self.index = -1
        self.udp: dict[bytes, Iterator[bytes]] = {}
        self.tcp: dict[bytes, Iterator[bytes]] = {}
        # key -> (coordinates index, replies) for distance-sorted answers
        self.near_udp: dict[bytes, tuple[int, Iterator[bytes]]] = {}
        self.near_tcp: dict[bytes, tuple[int, Iterator[bytes]]] = {}
        self.hits = 0
        self.misses = 0

    def refresh(self) -> None:
        """Drop everything if the catalog or the settings changed since the last look."""
        self._fresh()

    def _fresh(self) -> bool:
        idx = self._index_fn()
        settings = self._settings_fn()
        if idx != self.index or settings is not self._settings:
            self.udp.clear()
            self.tcp.clear()
            self.near_udp.clear()
            self.near_tcp.clear()
            self.index = idx
            self._settings = settings
            return False
        return True

    def tail(self, key: bytes, tcp: bool) -> bytes | None:
        """The cached reply (without ID) for `key`, or None. Checks the catalog index first."""
        if not self._fresh():
            return None
        found = (self.tcp if tcp else self.udp).get(key)
        if found is None:
            near = self.near_tcp if tcp else self.near_udp
            if not near:
                return None
            entry = near.get(key)
            if entry is None or entry[0] != self._coordinates_fn():
                return None
            found = entry[1]
        self.hits += 1
        return next(found)

    def udp_reply(self, data: bytes) -> bytes | None:
        """Hot path: the full UDP reply to `data` when its exact bytes are cached."""
        if self._index_fn() != self.index or self._settings_fn() is not self._settings:
            return None
        found = self.udp.get(data[2:])
        if found is None:
            return None
        return data[:2] + next(found)

    def put(self, key: bytes, tails: list[bytes] | Iterator[bytes], tcp: bool, index: int,
            by_distance: bool = False) -> None:
        """Remember replies computed at catalog `index` (ignored if the catalog moved on): a list
        is served in turn; an iterator (LazyRotations) as it yields. `by_distance` replies are
        kept with the coordinates index they were sorted at."""
        if index != self.index or (isinstance(tails, list) and not tails):
            return
        if by_distance:
            near = self.near_tcp if tcp else self.near_udp
            if len(near) >= self.max_entries:
                near.clear()
            near[key] = (self._coordinates_fn(), cycle(tails) if isinstance(tails, list) else tails)
            return
        table = self.tcp if tcp else self.udp
        if len(table) >= self.max_entries:
            table.clear()
        table[key] = cycle(tails) if isinstance(tails, list) else tails

    def __len__(self) -> int:
        return len(self.udp) + len(self.tcp) + len(self.near_udp) + len(self.near_tcp)


class LazyRotations:
    """Rotations of one reply, each built the first time it is served (big answers are costly to
    encode, so a miss pays for one rotation, not all of them)."""

    def __init__(self, build: Callable[[int], bytes], count: int, first: bytes) -> None:
        self._build = build
        self._items: list[bytes | None] = [first] + [None] * (count - 1)
        self._next = 1 % count

    def __iter__(self) -> LazyRotations:
        return self

    def __next__(self) -> bytes:
        i = self._next
        self._next = (i + 1) % len(self._items)
        item = self._items[i]
        if item is None:
            try:
                item = self._build(i)
            except Exception:  # never fail a client for a rotation: serve the first one instead
                item = self._items[0]
            self._items[i] = item
        return item


def canonical_key(data: bytes) -> bytes | None:
    """The cache key of a plain one-question query, or None when it is anything else.

    Options inside the OPT record are cut (their length set to zero) so that per-query cookies do
    not defeat the cache.
    """
    n = len(data)
    if n < 17 or data[4:10] != b"\x00\x01\x00\x00\x00\x00":
        return None
    i = 12
    while True:
        if i >= n:
            return None
        length = data[i]
        if length == 0:
            break
        if length > 63:  # compression pointers are legal but unusual in a question: no caching
            return None
        i += length + 1
    qend = i + 5
    if qend > n:
        return None
    arcount = (data[10] << 8) | data[11]
    if arcount == 0:
        return data[2:qend] if qend == n else None
    if arcount != 1 or n < qend + 11 or data[qend] != 0 or data[qend + 1 : qend + 3] != b"\x00\x29":
        return None
    rdlen = (data[qend + 9] << 8) | data[qend + 10]
    if qend + 11 + rdlen != n:
        return None
    return data[2 : qend + 9] + b"\x00\x00"
