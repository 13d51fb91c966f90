"""Keeps the agent's services equal to what the running containers ask for.

Events only say which container to look at again; the desired state is recomputed from the
container's inspection, so a lost, duplicated or reordered event cannot leave a wrong entry.
Desired state is a map, not a queue of operations: while the agent is unreachable nothing is
dropped, and when it answers again one full comparison repairs everything. A full comparison
also follows every (re)connection to the engine, and runs every `-resync` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pyregistrator.consul_client import (
    RegistryError,
    RegistryRejected,
    RegistryUnavailable,
    ServiceRegistry,
)
from pyregistrator.events import (
    Backoff,
    ContainerEngine,
    ContainerEvent,
    EngineUnavailable,
    StreamConnected,
)
from pyregistrator.mapping import MappingConfig, ServiceRegistration, container_services, network_container
from pyregistrator.plan import SyncPlan, desired_services, flatten, is_serving, plan_changes, plan_sync

log = logging.getLogger("pyregistrator")

# How many inspections / agent calls run at once.
PARALLEL = 16
# Answers that mean "try again later" (a proxy or an overloaded agent); any other error status
# for a registration means the agent refuses it, so it waits for a change, -resync or reconnect.
TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class ReconcilerOptions:
    deregister: str = "always"  # -deregister always|on-success
    cleanup: bool = False  # -cleanup
    resync: float = 0.0  # -resync, seconds (0: off)
    refresh: float = 0.0  # -ttl-refresh, seconds (0: off)
    retry_max: float = 1.0  # longest wait between attempts to reach the agent again


class Reconciler:
    def __init__(
        self,
        engine: ContainerEngine,
        registry: ServiceRegistry,
        mapping: MappingConfig,
        options: ReconcilerOptions | None = None,
    ) -> None:
        self.engine = engine
        self.registry = registry
        self.mapping = mapping
        self.options = options or ReconcilerOptions()
        self._containers: dict[str, tuple[ServiceRegistration, ...]] = {}
        self._registered: dict[str, ServiceRegistration] = {}  # what we last wrote to the agent
        self._known: set[str] = set()  # IDs this process registered and has not removed
        # Registrations the agent refused: not retried until the container changes or a
        # -resync / reconnect asks for everything again.
        self._rejected: dict[str, ServiceRegistration] = {}
        self._denied_listing = ""  # the last 403 reading the agent's services, logged once
        # Containers to look at again, with the last event seen for each (None: just inspect).
        self._dirty: dict[str, ContainerEvent | None] = {}
        self._relist = False  # list the engine's containers again
        self._full_sync = False  # compare with the agent's whole listing
        self._force = False  # and register every desired service again
        self._wake = asyncio.Event()
        self._agent_backoff = Backoff(0.05, self.options.retry_max)
        self._engine_backoff = Backoff(0.05, 2.0)
        self._retry_task: asyncio.Task[None] | None = None
        self.synced = asyncio.Event()  # set after the first full sync succeeded

    # -- public view -------------------------------------------------------------------------

    def desired(self) -> dict[str, ServiceRegistration]:
        return flatten(self._containers)

    async def run(self) -> None:
        tasks = [asyncio.create_task(self._consume_events()), asyncio.create_task(self._work())]
        for period in (self.options.resync, self.options.refresh):
            if period > 0:
                tasks.append(asyncio.create_task(self._tick(period)))
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if self._retry_task is not None:
                self._retry_task.cancel()

    # -- inputs ------------------------------------------------------------------------------

    async def _consume_events(self) -> None:
        async for item in self.engine.events():
            self.notice(item)

    def notice(self, item: ContainerEvent | StreamConnected) -> None:
        """Take one item of the engine's event stream; the worker acts on it in its next step."""
        if isinstance(item, StreamConnected):
            # Events of the gap are lost: look at everything again.
            self._relist = self._full_sync = self._force = True
            self._rejected.clear()
        elif item.action == "kill" or (item.action == "stop" and self._stop_adds_nothing(item.container_id)):
            # A kill that stops the container is followed by `die`, and `stop` comes after
            # `die`: inspecting now would only wait for the engine's cleanup.
            return
        else:
            self._dirty.pop(item.container_id, None)  # keep arrival order for the latest
            self._dirty[item.container_id] = item
        self._wake.set()

    def _stop_adds_nothing(self, container_id: str) -> bool:
        pending = self._dirty.get(container_id)
        died = pending is not None and pending.final_state() is not None
        return died or container_id not in self._containers

    async def _tick(self, period: float) -> None:
        while True:
            await asyncio.sleep(period)
            self._relist = self._full_sync = True
            self._rejected.clear()
            self._wake.set()

    def _retry_later(self, backoff: Backoff) -> None:
        if self._retry_task is not None and not self._retry_task.done():
            return

        async def wake_after(delay: float) -> None:
            await asyncio.sleep(delay)
            self._wake.set()

        self._retry_task = asyncio.create_task(wake_after(backoff.next_delay()))

    # -- the loop ----------------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self.step()

    async def step(self) -> None:
        """One round: look at the dirty containers, then bring the agent in line."""
        if self._relist:
            try:
                running = await self.engine.running_containers()
            except EngineUnavailable as exc:
                log.warning("cannot list containers (%s); will retry", exc)
                self._retry_later(self._engine_backoff)
                return
            self._relist = False
            for cid in [*running, *self._containers]:
                self._dirty.setdefault(cid, None)
        batch = list(self._dirty.items())
        self._dirty.clear()
        touched: set[str] = set()
        if batch:
            touched = await self._look_at(batch)
        if self._full_sync:
            await self._sync_all()
        elif touched:
            await self._apply_changes(touched)

    async def _look_at(self, batch: list[tuple[str, ContainerEvent | None]]) -> set[str]:
        """Re-inspect containers; returns the service IDs whose desired state may have changed."""
        sem = asyncio.Semaphore(PARALLEL)

        async def one(cid: str, event: ContainerEvent | None) -> set[str]:
            final = event.final_state() if event is not None else None
            inspection: dict[str, Any] | None
            mapped: list[ServiceRegistration] = []
            if final is not None:
                inspection = {"Id": cid, "State": final}
            else:
                async with sem:
                    try:
                        inspection = await self.engine.inspect(cid)
                        if inspection and is_serving(inspection):
                            mapped = await self._map(inspection)
                    except EngineUnavailable as exc:
                        log.warning("cannot inspect %s (%s); will retry", cid[:12], exc)
                        self._dirty.setdefault(cid, None)
                        self._retry_later(self._engine_backoff)
                        return set()
            before = self._containers.get(cid, ())
            after = desired_services(inspection, mapped, self.options.deregister, before)
            if after:
                self._containers[cid] = after
            else:
                self._containers.pop(cid, None)
            if before != after and not after and inspection is None:
                log.info("container %s removed", cid[:12])
            return {s.id for s in before} | {s.id for s in after}

        results = await asyncio.gather(*(one(cid, event) for cid, event in batch))
        if not self._dirty:
            self._engine_backoff.reset()
        return set().union(*results) if results else set()

    async def _map(self, inspection: dict[str, Any]) -> list[ServiceRegistration]:
        other_ip: str | None = None
        other = network_container(inspection)
        if other:
            shared = await self.engine.inspect(other)
            if shared is not None:
                other_ip = str((shared.get("NetworkSettings") or {}).get("IPAddress") or "")
        services = container_services(inspection, self.mapping, other_ip)
        for s in services:
            if s.script_check_skipped:
                log.warning(
                    "skipped the script check of %s (container %s): SERVICE_CHECK_SCRIPT/CMD run on "
                    "this host only with -script-checks", s.id, s.container_name or s.container_id[:12])
        if not services:
            log.debug("ignored: %s has no service to register", str(inspection.get("Id", ""))[:12])
        return services

    # -- the agent ---------------------------------------------------------------------------

    def _wanted(self) -> dict[str, ServiceRegistration]:
        return {sid: reg for sid, reg in self.desired().items() if self._rejected.get(sid) != reg}

    async def _apply_changes(self, touched: set[str]) -> None:
        plan = plan_changes(self._wanted(), self._registered, touched)
        if plan:
            await self._execute(plan)

    async def _sync_all(self) -> None:
        desired = self._wanted()
        try:
            held = await self.registry.services()
        except RegistryRejected as exc:
            if exc.status == 403:
                # The token is refused (Consul's text names the missing permission): said once,
                # retried quietly in case an operator grants it.
                if str(exc) != self._denied_listing:
                    log.error("cannot read the agent's services: %s; check -token/CONSUL_HTTP_TOKEN", exc)
                    self._denied_listing = str(exc)
            else:
                log.warning("cannot read the agent's services (%s); will retry", exc)
            self._retry_later(self._agent_backoff)
            return
        except RegistryError as exc:
            log.warning("cannot read the agent's services (%s); will retry", exc)
            self._retry_later(self._agent_backoff)
            return
        self._denied_listing = ""
        plan = plan_sync(
            desired,
            held,
            hostname=self.mapping.hostname,
            known=self._known,
            cleanup=self.options.cleanup,
            force=self._force,
        )
        # What already matches counts as written; the plan rewrites the rest.
        self._registered = {
            sid: reg for sid, reg in desired.items() if sid in held and reg.matches_agent(held[sid])
        }
        # Held and wanted: ours from now on, so it goes when its container goes.
        self._known.update(self._registered)
        if await self._execute(plan):
            self._full_sync = self._force = False
            if not self.synced.is_set():
                log.info("synced %d services of %d containers", len(desired), len(self._containers))
                self.synced.set()

    async def _execute(self, plan: SyncPlan) -> bool:
        """Run a plan; on any failure schedule a full comparison. True when all succeeded."""
        sem = asyncio.Semaphore(PARALLEL)
        failures: list[Exception] = []

        async def guarded(
            what: str,
            call: Callable[[], Awaitable[None]],
            done: Callable[[], None],
            reg: ServiceRegistration | None = None,
        ) -> None:
            async with sem:
                try:
                    await call()
                except RegistryRejected as exc:
                    log.error("%s failed: %s", what, exc)
                    if exc.status in TRANSIENT_STATUSES:
                        failures.append(exc)
                    elif reg is not None:
                        self._rejected[reg.id] = reg
                    return  # a refused deregistration is tried again at the next full sync
                except RegistryError as exc:
                    failures.append(exc)
                    return
            done()

        def registered(reg: ServiceRegistration) -> Callable[[], None]:
            def done() -> None:
                self._registered[reg.id] = reg
                self._known.add(reg.id)
                log.info("added: %s %s", reg.container_id[:12], reg.id)

            return done

        def deregistered(sid: str) -> Callable[[], None]:
            def done() -> None:
                self._registered.pop(sid, None)
                self._known.discard(sid)
                log.info("removed: %s", sid)

            return done

        calls = [
            guarded(
                f"register {reg.id}",
                lambda reg=reg: self.registry.register(reg.to_consul()),
                registered(reg),
                reg,
            )
            for reg in plan.register
        ] + [
            guarded(f"deregister {sid}", lambda sid=sid: self.registry.deregister(sid), deregistered(sid))
            for sid in plan.deregister
        ]
        await asyncio.gather(*calls)
        if failures:
            if any(isinstance(f, RegistryUnavailable) for f in failures):
                log.warning("agent unavailable (%s); will reconcile when it answers", failures[0])
            self._full_sync = True
            self._retry_later(self._agent_backoff)
            return False
        self._agent_backoff.reset()
        return True
