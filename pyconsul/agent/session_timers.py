"""Session TTL timers, kept on the server that accepts writes.

Like Consul, a session with TTL t is invalidated if not renewed within 2·t (the grace period
guards against clock skew and slow renewals). Expiry issues a SessionDestroy command.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from pyconsul.durations import parse_duration

log = logging.getLogger("pyconsul.session")

TTL_MULTIPLIER = 2.0


class SessionTimers:
    def __init__(self, destroy: Callable[[str], Awaitable[object]]) -> None:
        self._destroy = destroy
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def reset(self, sid: str, ttl: str) -> None:
        self.clear(sid)
        if not ttl:
            return
        try:
            seconds = parse_duration(ttl)
        except ValueError:
            return
        if seconds <= 0:
            return
        loop = asyncio.get_running_loop()
        self._timers[sid] = loop.call_later(seconds * TTL_MULTIPLIER, self._expire, sid)

    def clear(self, sid: str) -> None:
        handle = self._timers.pop(sid, None)
        if handle is not None:
            handle.cancel()

    def clear_all(self) -> None:
        for sid in list(self._timers):
            self.clear(sid)

    def _expire(self, sid: str) -> None:
        self._timers.pop(sid, None)
        log.info("session TTL expired", extra={"session": sid})
        asyncio.ensure_future(self._run_destroy(sid))

    async def _run_destroy(self, sid: str) -> None:
        try:
            await self._destroy(sid)
        except Exception as exc:  # the leader may have changed; the new one re-arms timers
            log.warning("session expiry failed", extra={"session": sid, "error": str(exc)})

    def __len__(self) -> int:
        return len(self._timers)
