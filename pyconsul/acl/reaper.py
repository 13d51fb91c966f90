"""The leader's reaper of expired tokens: each pass deletes them through Raft in one command.

Resolution already refuses an expired token (`ACL not found`), so the reaper only tidies the
table; running it on the leader alone keeps replicas from racing to delete the same rows. Time
comes from an injected Clock; `sleep` is injected too, so the loop's pacing is the caller's.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from pyconsul.clock import Clock
from pyconsul.fsm import commands as c

log = logging.getLogger("pyconsul.acl")

REAP_INTERVAL = 30.0


class ExpiringTokens(Protocol):
    def expired_tokens(self, now: float) -> list[str]: ...


def reap_command(table: ExpiringTokens, clock: Clock) -> c.ACLTokenDelete | None:
    """The one delete for every token expired at the clock's now, or None when none is."""
    expired = table.expired_tokens(clock.time())
    return c.ACLTokenDelete(accessor_ids=expired) if expired else None


class TokenReaper:
    def __init__(self, table: ExpiringTokens, clock: Clock, is_leader: Callable[[], bool],
                 write: Callable[[c.Command], Awaitable[Any]], sleep: Callable[[float], Awaitable[None]],
                 interval: float = REAP_INTERVAL) -> None:
        self.table = table
        self.clock = clock
        self.is_leader = is_leader
        self.write = write
        self.sleep = sleep
        self.interval = interval

    async def reap_once(self) -> int:
        """Delete what has expired (on the leader only); how many tokens went."""
        if not self.is_leader():
            return 0
        cmd = reap_command(self.table, self.clock)
        if cmd is None:
            return 0
        await self.write(cmd)
        log.info("reaped expired ACL tokens", extra={"count": len(cmd.accessor_ids)})
        return len(cmd.accessor_ids)

    async def run(self) -> None:
        while True:
            await self.sleep(self.interval)
            try:
                await self.reap_once()
            except Exception as exc:  # a lost leadership or a failed write: the next pass retries
                log.warning("expired ACL token reap failed", extra={"error": str(exc)})
