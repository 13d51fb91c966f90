"""ACL replication: a secondary datacenter's leader keeps copies of the primary's policies, roles
and global tokens (Consul's ACL replication, `acl.enable_token_replication`).

`plan(local, remote, key)` is pure: which rows to write and which to delete so the local table
matches the remote one, rows compared by their `Hash` (the content hash every ACL row carries;
indexes differ between datacenters and do not count). Tokens: only the primary's global tokens
are copied, and only the secondary's global tokens are deleted; its local tokens are its own.

`Replicator.run()` is the loop around it, on every server of a secondary; it acts only while its
server leads. Each round reads the primary's lists through the WAN forwarding (with the
replication token), reads in full the policies whose hash changed (the list omits their rules),
applies deletions first, then writes (policies, then roles, then tokens, so links resolve), and
records Consul's `/v1/acl/replication` status. A failed round is retried after `interval`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from pyconsul.fsm import commands as c

log = logging.getLogger("pyconsul.acl")

Row = dict[str, Any]
ZERO_TIME = "0001-01-01T00:00:00Z"
INTERVAL = 1.0
# (method, path with query) → (status, body) from the primary datacenter.
Fetch = Callable[[str, str], Awaitable[tuple[int, bytes]]]
Write = Callable[[c.Command], Awaitable[Any]]


def is_secondary(datacenter: str, primary: str) -> bool:
    return bool(primary) and primary != datacenter


def settings_error(server: bool, settings: Any, datacenter: str, primary: str) -> str:
    """Why a server must not start with these ACL settings ("" when it may): a secondary
    resolves tokens only from its replicated copies (there is no remote token resolution in
    the primary), so it needs token replication."""
    if server and settings.enabled and is_secondary(datacenter, primary) and not settings.enable_token_replication:
        return (f"ACLs in a secondary datacenter ({datacenter}; primary {primary}) need "
                "acl.enable_token_replication = true: tokens are resolved from the copies replicated "
                "from the primary")
    return ""


def plan(local: list[Row], remote: list[Row], key: str, only: Callable[[Row], bool] = lambda _r: True
         ) -> tuple[list[Row], list[str]]:
    """(remote rows to write, local keys to delete) among the rows `only` selects."""
    mine = {r[key]: r for r in local if only(r)}
    theirs = {r[key]: r for r in remote if only(r)}
    upserts = [r for k, r in theirs.items() if k not in mine or mine[k].get("Hash") != r.get("Hash")]
    deletes = [k for k in mine if k not in theirs]
    return upserts, deletes


def _global(row: Row) -> bool:
    return not row.get("Local")


def _stamp(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)) if t else ZERO_TIME


def _strip(row: Row) -> Row:
    return {k: v for k, v in row.items() if k not in ("CreateIndex", "ModifyIndex")}


@dataclass
class Status:
    """What `/v1/acl/replication` answers (Consul's ACLReplicationStatus)."""

    enabled: bool = False
    running: bool = False
    source: str = ""
    kind: str = ""
    replicated_index: int = 0
    replicated_role_index: int = 0
    replicated_token_index: int = 0
    last_success: float = 0.0
    last_error: float = 0.0
    last_error_message: str = ""

    def to_json(self) -> Row:
        return {"Enabled": self.enabled, "Running": self.running, "SourceDatacenter": self.source,
                "ReplicationType": self.kind, "ReplicatedIndex": self.replicated_index,
                "ReplicatedRoleIndex": self.replicated_role_index,
                "ReplicatedTokenIndex": self.replicated_token_index,
                "LastSuccess": _stamp(self.last_success), "LastError": _stamp(self.last_error),
                "LastErrorMessage": self.last_error_message}


@dataclass
class Replicator:
    primary: str
    fetch: Fetch
    write: Write
    local_rows: Callable[[str], list[Row]]  # "policies" | "roles" | "tokens" → this store's rows
    is_leader: Callable[[], bool]
    replicate_tokens: bool = True
    interval: float = INTERVAL
    on_change: Callable[[], Any] = lambda: None  # after a round that changed rows (resolver caches)
    status: Status = field(default_factory=Status)

    def __post_init__(self) -> None:
        self.status = Status(enabled=True, source=self.primary,
                             kind="tokens" if self.replicate_tokens else "policies")

    async def _list(self, what: str) -> tuple[list[Row], int]:
        status, body = await self.fetch("GET", f"/v1/acl/{what}?stale")
        if status != 200:
            raise RuntimeError(f"failed to read {what} from the primary datacenter: {status} "
                               f"{body.decode(errors='replace').strip()}")
        rows = json.loads(body)
        index = max((int(r.get("ModifyIndex") or 0) for r in rows), default=0)
        return rows, index

    async def _policy(self, pid: str) -> Row:
        status, body = await self.fetch("GET", f"/v1/acl/policy/{quote(pid, safe='')}?stale")
        if status != 200:
            raise RuntimeError(f"failed to read policy {pid} from the primary datacenter: {status}")
        row: Row = json.loads(body)
        return row

    async def round(self) -> None:
        """One replication pass (the caller checks leadership)."""
        policies, p_idx = await self._list("policies")
        roles, r_idx = await self._list("roles")
        tokens, t_idx = await self._list("tokens") if self.replicate_tokens else ([], 0)
        p_up, p_del = plan(self.local_rows("policies"), policies, "ID")
        r_up, r_del = plan(self.local_rows("roles"), roles, "ID")
        t_up, t_del = (plan(self.local_rows("tokens"), tokens, "AccessorID", _global)
                       if self.replicate_tokens else ([], []))
        if t_del:
            await self.write(c.ACLTokenDelete(accessor_ids=t_del))
        for rid in r_del:
            await self.write(c.ACLRoleDelete(role_id=rid))
        for pid in p_del:
            await self.write(c.ACLPolicyDelete(policy_id=pid))
        for stub in p_up:
            await self.write(c.ACLPolicySet(policy=_strip(await self._policy(stub["ID"]))))
        for row in r_up:
            await self.write(c.ACLRoleSet(role=_strip(row)))
        for row in t_up:
            await self.write(c.ACLTokenSet(token=_strip(row)))
        changed = len(p_up) + len(p_del) + len(r_up) + len(r_del) + len(t_up) + len(t_del)
        if changed:
            self.on_change()
            log.info("acl: replicated from the primary datacenter", extra={
                "primary": self.primary, "policies": len(p_up) + len(p_del), "roles": len(r_up) + len(r_del),
                "tokens": len(t_up) + len(t_del)})
        s = self.status
        s.replicated_index, s.replicated_role_index, s.replicated_token_index = p_idx, r_idx, t_idx
        s.last_success = time.time()

    async def run(self) -> None:
        while True:
            self.status.running = self.is_leader()
            if self.status.running:
                try:
                    await self.round()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the primary unreachable, a row refused: next round
                    self.status.last_error = time.time()
                    self.status.last_error_message = str(exc)
                    log.warning("acl: replication round failed", extra={"primary": self.primary, "error": str(exc)})
            await asyncio.sleep(self.interval)
