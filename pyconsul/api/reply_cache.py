"""Encoded replies by cache key and index, bounded by entries and by bytes.

A reply list can be megabytes (a large catalog), so an entry count alone does not bound memory:
the least recently used entries are dropped until both bounds hold. A single reply larger than
the byte bound is not kept at all.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

DEFAULT_MAX_ENTRIES = 4096
DEFAULT_MAX_BYTES = 64 * 1024 * 1024


class ReplyCache:
    """key → (index, body). `on_evict(key)` is told of every key dropped, so views built on an
    entry (the fast path's prebuilt headers) go with it."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES, max_bytes: int = DEFAULT_MAX_BYTES,
                 on_evict: Callable[[str], None] | None = None) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[str, tuple[int, bytes]] = OrderedDict()
        self._on_evict = on_evict

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> tuple[int, bytes] | None:
        return self._entries.get(key)

    def touch(self, key: str) -> None:
        if key in self._entries:
            self._entries.move_to_end(key)

    def put(self, key: str, index: int, body: bytes) -> None:
        self._drop(key)
        if len(body) > self.max_bytes:
            return
        self._entries[key] = (index, body)
        self.bytes += len(body)
        while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: str) -> None:
        old = self._entries.pop(key, None)
        if old is None:
            return
        self.bytes -= len(old[1])
        if self._on_evict is not None:
            self._on_evict(key)
