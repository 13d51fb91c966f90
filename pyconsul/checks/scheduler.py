"""Runs an agent's health checks on time and reports results to the agent.

Rules a caller can rely on:
* `add(definition)` takes Consul's CamelCase check (CheckID, HTTP/TCP/UDP/TTL/Args/GRPC/H2PING/
  DockerContainerID/AliasService..., Interval, Timeout, Status...). It raises
  CheckDefinitionError (Consul's message) for an invalid check or a refused script check. Adding an
  id again replaces the check and keeps its current status.
* The first run of an interval check is staggered randomly within one interval; later runs keep
  that phase (due = previous due + interval). A run still going when the next is due makes that
  round be skipped: one check never overlaps itself. Every run is bounded by its timeout.
* Results pass through the check's thresholds and then `notifier.update_check`. TTL checks report
  what `ttl_update` is told, and "TTL expired" (critical) when no update came within the TTL.
* A check critical for longer than its DeregisterCriticalServiceAfter (raised to
  `deregister_min`) makes one `notifier.critical_too_long(check_id)` call per critical spell,
  looked for every `reap_interval` (Consul's reaper).
* Time comes from the injected clock. `await run_due()` runs whatever is due now and waits for it,
  which is how tests drive a FakeClock; `start()` runs the same steps on a background task.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import random
from collections import deque
from dataclasses import dataclass
from typing import Any

from pyconsul.checks.alias import AliasSource
from pyconsul.checks.base import (
    CRITICAL,
    DEFAULT_OUTPUT_MAX_SIZE,
    STATUSES,
    CheckDefinitionError,
    CheckNotifier,
    CheckResult,
    CheckSpec,
    cap_ttl_output,
    script_gate,
)
from pyconsul.checks.runners import Runner, Runners
from pyconsul.checks.thresholds import Thresholds
from pyconsul.checks.tls import AgentTLS
from pyconsul.clock import SYSTEM_CLOCK, Clock
from pyconsul.config.runtime import RuntimeConfig
from pyconsul.durations import format_duration

log = logging.getLogger("pyconsul.checks")

# Longest the driver sleeps without looking at the clock again (so a FakeClock moved by a test is
# noticed, and a wall-clock jump cannot stall checks).
_MAX_SLEEP = 0.5


@dataclass
class _Entry:
    spec: CheckSpec
    thresholds: Thresholds
    status: str
    output: str = ""
    next_due: float = 0.0
    task: asyncio.Task[None] | None = None
    critical_since: float | None = None
    reaped: bool = False
    ttl_expired: bool = False
    ttl_last_output: str = ""
    runs: int = 0
    skipped: int = 0


class CheckScheduler:
    def __init__(
        self,
        notifier: CheckNotifier,
        clock: Clock = SYSTEM_CLOCK,
        *,
        enable_script_checks: bool = False,
        enable_local_script_checks: bool = False,
        output_max_size: int = DEFAULT_OUTPUT_MAX_SIZE,
        discard_output: bool = False,
        deregister_min: float = 60.0,
        reap_interval: float = 30.0,
        alias_source: AliasSource | None = None,
        docker: Any = None,
        rng: random.Random | None = None,
        runners: dict[str, Runner] | None = None,
        agent_tls: AgentTLS | None = None,
        record_lateness: bool = False,
    ) -> None:
        self.notifier = notifier
        self.clock = clock
        self.enable_script_checks = enable_script_checks
        self.enable_local_script_checks = enable_local_script_checks
        self.output_max_size = output_max_size
        self.discard_output = discard_output
        self.deregister_min = deregister_min
        self.reap_interval = reap_interval
        self._rng = rng or random.Random()
        self._entries: dict[str, _Entry] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._seq = 0
        self._next_reap = clock.monotonic() + reap_interval
        self._driver: asyncio.Task[None] | None = None
        self._wake: asyncio.Future[None] | None = None
        self._aliases: set[str] = set()
        self._runners = Runners(alias_source, docker, runners, agent_tls)
        # Timing statistics (bench/check_scheduler.py reads them).
        self.max_lateness = 0.0
        self.late_runs = 0  # started more than 1 s after they were due
        self.total_runs = 0
        self.skipped_runs = 0
        # Every run's lateness, kept only when asked for (bench), bounded.
        self.lateness_samples: deque[float] | None = deque(maxlen=200_000) if record_lateness else None

    @property
    def alias_source(self) -> AliasSource | None:
        """Where alias checks read health from; may be set after construction."""
        return self._runners.alias_source

    @alias_source.setter
    def alias_source(self, source: AliasSource | None) -> None:
        self._runners.alias_source = source

    @classmethod
    def from_config(
        cls, notifier: CheckNotifier, config: RuntimeConfig, *, alias_source: AliasSource | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> CheckScheduler:
        """A scheduler with every check setting of the agent's config applied."""
        return cls(
            notifier,
            clock,
            enable_script_checks=config.enable_script_checks,
            enable_local_script_checks=config.enable_local_script_checks,
            output_max_size=config.check_output_max_size,
            discard_output=config.discard_check_output,
            deregister_min=config.check_deregister_interval_min,
            reap_interval=config.check_reap_interval,
            alias_source=alias_source,
            agent_tls=_agent_tls(config),
        )

    # ---- registration -------------------------------------------------------------------------

    def add(self, check: dict[str, Any], *, local: bool = True) -> CheckSpec:
        """Schedule a check (`local`: from a config file rather than the HTTP API)."""
        spec = CheckSpec.from_definition(check, self.output_max_size)
        script_gate(spec, local, self.enable_script_checks, self.enable_local_script_checks)
        if spec.kind != "ttl" and spec.kind not in self._runners:
            raise CheckDefinitionError(f"Check is not valid: unsupported check type {spec.kind}")
        now = self.clock.monotonic()
        old = self._entries.pop(spec.check_id, None)
        if old is not None and old.task is not None:
            old.task.cancel()
        keep = old is not None and not check.get("Status")
        entry = _Entry(
            spec=spec,
            thresholds=Thresholds(
                spec.success_before_passing, spec.failures_before_warning, spec.failures_before_critical
            ),
            status=old.status if keep and old else spec.initial_status,
            output=old.output if keep and old else "",
        )
        if entry.status == CRITICAL:
            entry.critical_since = old.critical_since if keep and old and old.critical_since else now
        if spec.kind == "ttl":
            entry.next_due = now + spec.ttl
        elif spec.kind == "alias":
            entry.next_due = now
        else:
            entry.next_due = now + self._rng.uniform(0, spec.interval)
        self._entries[spec.check_id] = entry
        self._aliases.discard(spec.check_id)
        if spec.kind == "alias":
            self._aliases.add(spec.check_id)
        self._push(entry)
        return spec

    def remove(self, check_id: str) -> bool:
        entry = self._entries.pop(check_id, None)
        self._aliases.discard(check_id)
        if entry is None:
            return False
        if entry.task is not None:
            entry.task.cancel()
        return True

    def check_ids(self) -> list[str]:
        return list(self._entries)

    def status(self, check_id: str) -> tuple[str, str]:
        """(status, output) as last reported; KeyError for an unknown check."""
        e = self._entries[check_id]
        return e.status, e.output

    def ttl_update(self, check_id: str, status: str, output: str) -> None:
        """A TTL check's pass/warn/fail/update. KeyError: unknown check; ValueError: not a TTL check
        or a bad status."""
        entry = self._entries[check_id]
        if entry.spec.kind != "ttl":
            raise ValueError(f'CheckID "{check_id}" does not have associated TTL')
        if status not in STATUSES:
            raise ValueError(f"Unknown check status: {status!r}")
        output = cap_ttl_output(output, entry.spec.output_max_size)
        entry.ttl_last_output = output
        entry.ttl_expired = False
        entry.next_due = self.clock.monotonic() + entry.spec.ttl
        self._push(entry)
        self._set(entry, CheckResult(status, output))

    def notify_state_changed(self) -> None:
        """The agent's health data changed: re-evaluate alias checks now."""
        now = self.clock.monotonic()
        for cid in self._aliases:
            entry = self._entries[cid]
            if entry.next_due > now:
                entry.next_due = now
                self._push(entry)

    # ---- driving ------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._driver is None:
            self._driver = asyncio.get_running_loop().create_task(self._drive(), name="check-scheduler")

    async def stop(self) -> None:
        if self._driver is not None:
            self._driver.cancel()
            try:
                await self._driver
            except asyncio.CancelledError:
                pass
            self._driver = None
        tasks = [e.task for e in self._entries.values() if e.task is not None]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        await self._runners.close()

    async def run_due(self, wait: bool = True) -> int:
        """Start everything due by the clock now (and wait for those runs unless `wait` is
        False); returns how many started."""
        started = self._dispatch_due()
        if started and wait:
            await asyncio.gather(*started, return_exceptions=True)
        return len(started)

    async def _drive(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._dispatch_due()
            delay = self._next_delay()
            self._wake = loop.create_future()
            handle = loop.call_later(delay, _resolve, self._wake)
            try:
                await self._wake
            finally:
                handle.cancel()
                self._wake = None

    def _next_delay(self) -> float:
        now = self.clock.monotonic()
        nxt = self._next_reap
        while self._heap:
            due, _, cid = self._heap[0]
            e = self._entries.get(cid)
            if e is None or e.next_due != due:
                heapq.heappop(self._heap)  # stale: removed, or rescheduled since
                continue
            nxt = min(nxt, due)
            break
        return max(0.0, min(nxt - now, _MAX_SLEEP))

    def _push(self, entry: _Entry) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (entry.next_due, self._seq, entry.spec.check_id))
        if self._wake is not None and not self._wake.done() and self._heap[0][2] == entry.spec.check_id:
            self._wake.set_result(None)

    def _dispatch_due(self) -> list[asyncio.Task[None]]:
        now = self.clock.monotonic()
        started: list[asyncio.Task[None]] = []
        while self._heap and self._heap[0][0] <= now:
            due, _, cid = heapq.heappop(self._heap)
            entry = self._entries.get(cid)
            if entry is None or entry.next_due != due:
                continue
            if entry.spec.kind == "ttl":
                self._expire_ttl(entry)
                continue
            interval = entry.spec.interval
            steps = max(1, int((now - due) // interval) + 1)
            entry.next_due = due + steps * interval
            self._push(entry)
            if entry.task is not None and not entry.task.done():
                entry.skipped += 1
                self.skipped_runs += 1
                continue
            late = now - due
            self.total_runs += 1
            self.max_lateness = max(self.max_lateness, late)
            if self.lateness_samples is not None:
                self.lateness_samples.append(late)
            if late > 1.0:
                self.late_runs += 1
            entry.task = asyncio.get_running_loop().create_task(self._execute(entry))
            started.append(entry.task)
        if now >= self._next_reap:
            self._next_reap = now + self.reap_interval
            self._reap(now)
        return started

    async def _execute(self, entry: _Entry) -> None:
        spec = entry.spec
        runner = self._runners[spec.kind]
        try:
            # Runners enforce their own timeout with their own wording; this is the backstop.
            result = await asyncio.wait_for(runner(spec), spec.timeout + 1.0)
        except TimeoutError:
            result = CheckResult(CRITICAL, f"Timed out ({format_duration(spec.timeout)}) running check")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a runner bug must not stop the other checks
            log.exception("check %s failed to run", spec.check_id)
            result = CheckResult(CRITICAL, f"Check failed to run: {exc}")
        if self._entries.get(spec.check_id) is not entry:
            return  # removed or replaced while running
        entry.runs += 1
        reported = entry.thresholds.apply(result)
        if reported is not None:
            self._set(entry, reported)

    def _expire_ttl(self, entry: _Entry) -> None:
        if entry.ttl_expired:
            return
        entry.ttl_expired = True
        out = "TTL expired"
        if entry.ttl_last_output:
            out = f"TTL expired (last output before timeout follows): {entry.ttl_last_output}"
        self._set(entry, CheckResult(CRITICAL, out))

    def _set(self, entry: _Entry, result: CheckResult) -> None:
        output = "" if self.discard_output else result.output
        if result.status == CRITICAL:
            if entry.status != CRITICAL or entry.critical_since is None:
                entry.critical_since = self.clock.monotonic()
        else:
            entry.critical_since = None
            entry.reaped = False
        entry.status, entry.output = result.status, output
        try:
            self.notifier.update_check(entry.spec.check_id, result.status, output)
        except Exception:
            log.exception("notifier failed for check %s", entry.spec.check_id)

    def _reap(self, now: float) -> None:
        for entry in list(self._entries.values()):
            limit = entry.spec.deregister_after
            if limit <= 0 or entry.reaped or entry.critical_since is None:
                continue
            if now - entry.critical_since > max(limit, self.deregister_min):
                entry.reaped = True
                try:
                    self.notifier.critical_too_long(entry.spec.check_id)
                except Exception:
                    log.exception("notifier failed to deregister for check %s", entry.spec.check_id)


def _agent_tls(config: RuntimeConfig) -> AgentTLS | None:
    """The agent's certificates for checks, when `enable_agent_tls_for_checks` is on."""
    if not config.enable_agent_tls_for_checks:
        return None
    # Consul hands checks the HTTPS interface's files (what its own API presents).
    https = config.tls_settings.https
    return AgentTLS(https.ca_file, https.ca_path, https.cert_file, https.key_file)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
