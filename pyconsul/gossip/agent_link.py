"""Membership as an agent runs it: start/retry joins, and on the leader keep the catalog in step.

An agent needs only:

    link = MembershipLink(config, catalog=store, write=agent.write,
                          is_leader=lambda: agent.consensus.leader_status().is_leader)
    await link.start()        # binds the serf LAN port, start_join (fatal if none), retry_join loop
    link.membership           # join / leave / force_leave / members / member_json
    link.server_addresses()   # "ip:port" RPC addresses of alive servers (clients forward here)
    await link.stop()

Consul's behaviour kept: `start_join` must reach at least one address or startup fails;
`retry_join` retries every `retry_interval` until one answers (at most `retry_max` attempts,
0 = forever); the leader reconciles a member on every membership event and all members every
`reconcile_interval` (Consul: 60s).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from pyconsul.clock import SYSTEM_CLOCK, Clock
from pyconsul.config.runtime import RuntimeConfig
from pyconsul.fsm.commands import Command
from pyconsul.gossip.core import EVENT_REAP
from pyconsul.gossip.membership import EventCallback, Member, Membership, consul_tags
from pyconsul.gossip.reconcile import CatalogReader, reconcile_all, reconcile_member

log = logging.getLogger("pyconsul.gossip")

RECONCILE_INTERVAL = 60.0


class JoinError(Exception):
    """`start_join` reached none of its addresses."""


class MembershipLink:
    def __init__(
        self,
        config: RuntimeConfig,
        catalog: CatalogReader,
        write: Callable[[Command], Awaitable[Any]],
        is_leader: Callable[[], bool],
        tags: dict[str, str] | None = None,
        on_event: EventCallback | None = None,
        ssl_server: ssl.SSLContext | None = None,
        ssl_client: ssl.SSLContext | None = None,
        clock: Clock = SYSTEM_CLOCK,
        reconcile_interval: float = RECONCILE_INTERVAL,
    ) -> None:
        self.config = config
        self._catalog = catalog
        self._write = write
        self._is_leader = is_leader
        self._user_event = on_event
        self._reconcile_interval = reconcile_interval
        self._pending: asyncio.Queue[Member] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self.membership = Membership(config, tags if tags is not None else consul_tags(config), clock=clock,
                                     on_event=self._on_event, ssl_server=ssl_server, ssl_client=ssl_client)

    async def start(self) -> None:
        cfg = self.config
        await self.membership.start()
        if cfg.start_join:
            n = await self.membership.join(list(cfg.start_join))
            if n == 0:
                await self.membership.stop()
                raise JoinError(self.membership.join_error_text())
            log.info("Join completed. Synced with %d initial agents", n)
        if cfg.retry_join:
            self._tasks.append(asyncio.create_task(self._retry_join(), name="retry-join"))
        self._tasks.append(asyncio.create_task(self._reconcile_loop(), name="reconcile"))

    async def stop(self, leave: bool = False) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except asyncio.CancelledError:
                pass
        self._tasks.clear()
        if leave:
            await self.membership.leave()
        else:
            await self.membership.stop()

    def server_addresses(self) -> list[str]:
        """RPC addresses of alive servers in this datacenter."""
        out = []
        for m in self.membership.members():
            if m.is_server and m.status == "alive" and m.tags.get("dc") == self.config.datacenter:
                port = m.tags.get("port", "")
                if port.isdigit():
                    out.append(f"{m.addr}:{port}")
        return sorted(out)

    # ---- joining --------------------------------------------------------------------------

    async def _retry_join(self) -> None:
        cfg = self.config
        retry_max = int(cfg.extra.get("retry_max", 0) or 0)
        attempt = 0
        log.info("Retry join is supported for: %s", " ".join(cfg.retry_join))
        while True:
            attempt += 1
            log.info("Joining cluster...")
            n = await self.membership.join(list(cfg.retry_join))
            if n:
                log.info("Join cluster completed. Synced with %d initial agents", n)
                return
            if retry_max and attempt >= retry_max:
                log.error("Join cluster failed, reached max attempts: %d", attempt)
                return
            log.warning("Join cluster failed, will retry in %gs: %s", cfg.retry_interval,
                        self.membership.join_error_text().strip())
            await asyncio.sleep(cfg.retry_interval)

    # ---- catalog --------------------------------------------------------------------------

    def _on_event(self, kind: str, member: Member) -> None:
        # A reaped member is gone from gossip: the catalog drops it as if it had left.
        self._pending.put_nowait(replace(member, status="left") if kind == EVENT_REAP else member)
        if self._user_event is not None:
            self._user_event(kind, member)

    async def _apply(self, cmds: list[Command]) -> None:
        for cmd in cmds:
            try:
                await self._write(cmd)
            except Exception as exc:  # lost leadership mid-way: the next reconcile repairs it
                log.warning("gossip: reconcile write failed: %s", exc)
                return

    async def reconcile_now(self) -> None:
        """Full reconcile (leader only): every member, and catalog nodes gossip forgot."""
        if self._is_leader():
            await self._apply(reconcile_all(self.membership.members(), self._catalog, self.config.datacenter,
                                            self.config.node_name))

    async def _reconcile_loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_full = loop.time()
        while True:
            timeout = max(0.0, next_full - loop.time())
            # asyncio.wait, not wait_for: on 3.11 wait_for can swallow the cancel from stop().
            getter = asyncio.ensure_future(self._pending.get())
            try:
                done, _ = await asyncio.wait({getter}, timeout=timeout)
            finally:
                if not getter.done():
                    getter.cancel()
            member = getter.result() if getter in done else None
            try:
                if member is None:
                    next_full = loop.time() + self._reconcile_interval
                    await self.reconcile_now()
                elif self._is_leader():
                    await self._apply(reconcile_member(member, self._catalog, self.config.datacenter))
            except Exception:
                log.exception("gossip: reconcile failed")
