"""Fine-grained wake-ups for blocking queries.

A read records the topics it depended on in a WatchSet; a write fires the topics it touched. A
blocked query subscribes to its topics and is woken only when one of them fires, so a change to
service A never wakes a watcher of service B. Pure: callbacks, no event loop.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable

Topic = Hashable


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
