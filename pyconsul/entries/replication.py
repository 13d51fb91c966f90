"""Config-entry replication: a secondary datacenter keeps copies of the primary's config entries
(intentions, service-defaults, proxy-defaults and the other kinds), as Consul's config-entry
replication does, and hands config writes to the primary.

`plan(local, remote)` is pure: which entries to write and which (Kind, Name) to delete so the
local table matches the remote one, compared without their indexes (they differ between
datacenters). `Replicator.run()` is the loop around it on every server of a secondary; it acts
only while its server leads, reads each kind from the primary through the WAN forwarding, and
writes deletions first, then upserts. Intentions are read last with a blocking query bounded
by `interval`, which paces the rounds: an intention written in the primary arrives at once,
other kinds within `interval`. A failed round is retried after `interval`.

`to_primary(method, path)`: the writes a secondary forwards to the primary (config entries,
intentions, the CA configuration) — replication brings the result back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from pyconsul.entries.kinds import KINDS
from pyconsul.fsm import commands as c

log = logging.getLogger("pyconsul.config")

Row = dict[str, Any]
Key = tuple[str, str]
INTERVAL = 1.0
# (method, path with query) → (status, X-Consul-Index, body) from the primary datacenter.
Fetch = Callable[[str, str], Awaitable[tuple[int, int, bytes]]]
BLOCKING_KIND = "service-intentions"
Write = Callable[[c.Command], Awaitable[Any]]
_WRITES = ("PUT", "POST", "DELETE")
_PRIMARY_PATHS = ("/v1/config", "/v1/connect/intentions", "/v1/connect/ca/configuration")


def to_primary(method: str, path: str) -> bool:
    return method in _WRITES and any(path == p or path.startswith(p + "/") for p in _PRIMARY_PATHS)


def _key(row: Row) -> Key:
    return str(row["Kind"]), str(row["Name"])


def _content(row: Row) -> Row:
    return {k: v for k, v in row.items() if k not in ("CreateIndex", "ModifyIndex")}


def plan(local: list[Row], remote: list[Row]) -> tuple[list[Row], list[Key]]:
    """(remote entries to write, local keys to delete)."""
    mine = {_key(r): _content(r) for r in local}
    theirs = {_key(r): _content(r) for r in remote}
    upserts = [r for k, r in theirs.items() if mine.get(k) != r]
    deletes = [k for k in mine if k not in theirs]
    return upserts, deletes


@dataclass
class Replicator:
    primary: str
    fetch: Fetch
    write: Write
    local_rows: Callable[[], list[Row]]
    is_leader: Callable[[], bool]
    interval: float = INTERVAL
    kinds: tuple[str, ...] = KINDS
    _index: int = 0  # the primary's index for BLOCKING_KIND at the last round (0: do not block)

    async def remote_rows(self) -> list[Row]:
        rows: list[Row] = []
        ordered = [k for k in self.kinds if k != BLOCKING_KIND] + [k for k in self.kinds if k == BLOCKING_KIND]
        for kind in ordered:
            path = f"/v1/config/{quote(kind, safe='')}?stale"
            blocking = kind == BLOCKING_KIND and self._index > 0
            if blocking:
                path += f"&index={self._index}&wait={max(1, int(self.interval))}s"
            status, index, body = await self.fetch("GET", path)
            if status != 200:
                self._index = 0
                raise RuntimeError(f"failed to read {kind} config entries from the primary datacenter: "
                                   f"{status} {body.decode(errors='replace').strip()}")
            if kind == BLOCKING_KIND:
                self._index = index
            rows.extend(json.loads(body) or [])
        return rows

    async def round(self) -> int:
        """One pass (the caller checks leadership); the number of entries changed."""
        upserts, deletes = plan(self.local_rows(), await self.remote_rows())
        for kind, name in deletes:
            await self.write(c.ConfigEntryOp(verb="delete", entry={"Kind": kind, "Name": name}))
        for row in upserts:
            await self.write(c.ConfigEntryOp(verb="set", entry=row))
        if upserts or deletes:
            log.info("config entries replicated from the primary datacenter", extra={
                "primary": self.primary, "updated": len(upserts), "deleted": len(deletes)})
        return len(upserts) + len(deletes)

    async def run(self) -> None:
        failing = ""
        while True:
            pause = self.interval
            if self.is_leader():
                before, started = self._index, time.monotonic()
                try:
                    await self.round()
                    failing = ""
                    # Intentions moved: next round at once; else what the blocking read left of it.
                    pause = 0.0 if self._index != before else max(0.0, self.interval - (time.monotonic() - started))
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the primary unreachable, an entry refused: next round
                    self._index = 0
                    if str(exc) != failing:
                        log.warning("config entry replication round failed",
                                    extra={"primary": self.primary, "error": str(exc)})
                    failing = str(exc)
            else:
                self._index = 0
            await asyncio.sleep(pause)
