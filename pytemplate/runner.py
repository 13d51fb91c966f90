"""The runner: render passes driven by dependency changes, quiescence and commands.

Each pass renders the templates whose data changed (and whose quiescence timer, if any, has run
out), writes only changed bytes, then runs each distinct command at most once. A failing command
is logged and kept pending, so the next pass runs it again even if no file changed then.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from pyconsul.clock import SYSTEM_CLOCK, Clock
from pytemplate.brain import Brain
from pytemplate.child import Child
from pytemplate.client import ConsulTransport
from pytemplate.config import Config, TemplateConfig
from pytemplate.dependencies import Dependency
from pytemplate.gotmpl import TemplateError
from pytemplate.quiescence import Quiescence
from pytemplate.renderer import RenderError, write_if_changed
from pytemplate.shell import run_command
from pytemplate.template import Template
from pytemplate.view import ViewOptions
from pytemplate.watcher import GiveUp, Watcher

log = logging.getLogger("pytemplate.runner")

_STOP = "stop"
_CHILD_EXIT = "child-exit"


@dataclass
class TemplateState:
    config: TemplateConfig
    template: Template
    quiescence: Quiescence | None
    used: set[str] = field(default_factory=set)
    complete: bool = False
    last_dry: bytes | None = None


@dataclass
class Stats:
    passes: int = 0
    renders: int = 0  # template evaluations
    writes: int = 0  # files actually rewritten
    command_runs: int = 0
    command_failures: int = 0
    template_errors: int = 0


def load_template(cfg: TemplateConfig) -> Template:
    opts: dict[str, Any] = {
        "engine": cfg.engine, "left_delimiter": cfg.left_delimiter, "right_delimiter": cfg.right_delimiter,
        "error_on_missing_key": cfg.error_on_missing_key,
    }
    if cfg.contents is not None:
        return Template(cfg.contents, name=cfg.display_name, **opts)
    return Template.from_file(cfg.source, **opts)


def _command_key(command: str | list[str]) -> str:
    return command if isinstance(command, str) else "\0".join(command)


class Runner:
    def __init__(self, config: Config, client: ConsulTransport, *, clock: Clock = SYSTEM_CLOCK,
                 env: Mapping[str, str] | None = None, out: IO[str] | None = None) -> None:
        self.config = config
        self.client = client
        self.clock = clock
        self.env = dict(os.environ if env is None else env)
        self.out = out or sys.stdout
        self.brain = Brain()
        self.stats = Stats()
        self.watcher = Watcher(client, ViewOptions(
            block_wait=config.block_query_wait, max_stale=config.max_stale,
            retry_base=config.consul.retry_base, retry_max=config.consul.retry_max,
            retry_attempts=config.consul.retry_attempts,
        ), clock)
        self.templates: list[TemplateState] = []
        for tc in config.templates:
            wait = tc.wait if tc.wait is not None else config.wait
            q = Quiescence(wait.min, wait.max) if wait is not None and wait.enabled and not config.once else None
            self.templates.append(TemplateState(tc, load_template(tc), q))
        self.failed_commands: dict[str, tuple[str | list[str], float]] = {}
        self.child: Child | None = Child(config.exec, self.env) if config.exec else None
        self._child_task: asyncio.Task[None] | None = None
        self._stopping = False

    # --- lifecycle ------------------------------------------------------------------------
    def stop(self) -> None:
        self._stopping = True
        self.watcher.events.put_nowait((None, _STOP))  # type: ignore[arg-type]

    async def run(self) -> int:
        """Watch until stopped (or, with `once`, until every template rendered). Returns an exit code."""
        try:
            return await self._loop()
        finally:
            await self.watcher.stop()
            if self._child_task is not None:
                self._child_task.cancel()
            if self.child is not None:
                await self.child.stop()

    async def _loop(self) -> int:
        dirty: set[int] = set(range(len(self.templates)))
        while not self._stopping:
            now = self.clock.monotonic()
            due = sorted(i for i in dirty if self._is_due(i, now))
            if due:
                dirty.difference_update(due)
                code = await self._pass(due)
                if code is not None:
                    return code
                if self.config.once and all(t.complete for t in self.templates):
                    return 1 if self.failed_commands else 0
            item = await self._next_event(self._timeout(dirty, now))
            if item is None:
                continue
            batch = [item]
            while not self.watcher.events.empty():
                batch.append(self.watcher.events.get_nowait())
            for dep, data in batch:
                if dep is None:
                    if isinstance(data, GiveUp):
                        log.error("(runner) %s: giving up: %s", data.dep, data.error)
                        return 1
                    if data == _CHILD_EXIT:
                        code = self.child.proc.returncode if self.child and self.child.proc else 0
                        log.info("(runner) child exited with %s; stopping", code)
                        return int(code or 0)
                    continue
                self._on_data(dep, data, dirty)
        return 0

    def _on_data(self, dep: Dependency, data: Any, dirty: set[int]) -> None:
        if not self.watcher.watching(dep):
            return  # a late answer for a view that was just removed
        if not self.brain.remember(dep, data):
            return
        log.debug("(runner) %s changed", dep)
        now = self.clock.monotonic()
        for i, t in enumerate(self.templates):
            if dep.key in t.used:
                dirty.add(i)
                if t.quiescence is not None and t.complete:
                    t.quiescence.observe(now)

    def _is_due(self, i: int, now: float) -> bool:
        t = self.templates[i]
        # Until a template has rendered once, it renders at once to discover its dependencies.
        if t.quiescence is None or not t.complete:
            return True
        return t.quiescence.due(now)

    def _timeout(self, dirty: set[int], now: float) -> float | None:
        deadlines = [t.quiescence.deadline for i, t in enumerate(self.templates)
                     if i in dirty and t.quiescence is not None and t.quiescence.deadline is not None]
        return max(0.0, min(deadlines) - now) if deadlines else None

    async def _next_event(self, timeout: float | None) -> tuple[Dependency, Any] | None:
        try:
            return await asyncio.wait_for(self.watcher.events.get(), timeout)
        except TimeoutError:
            return None

    # --- one pass -------------------------------------------------------------------------
    async def _pass(self, indices: list[int]) -> int | None:
        self.stats.passes += 1
        commands: dict[str, tuple[str | list[str], float]] = {}
        wrote_any = False
        for i in indices:
            t = self.templates[i]
            if t.quiescence is not None:
                t.quiescence.reset()
            try:
                result = t.template.render(self.brain, self.env, self.clock.time())
            except TemplateError as exc:
                self.stats.template_errors += 1
                log.error("(runner) template error: %s", exc)
                if self.config.once:
                    return 1
                continue
            self.stats.renders += 1
            t.used = set(result.used)
            for dep in result.used.values():
                self.watcher.add(dep)
            if not result.complete:
                log.debug("(runner) %s: waiting for %s", t.config.display_name,
                          ", ".join(sorted(result.missing)))
                continue
            t.complete = True
            if self.config.dry:
                if result.contents != t.last_dry:
                    t.last_dry = result.contents
                    self.out.write(f"> {t.config.destination}\n{result.contents.decode()}")
                    self.out.flush()
                continue
            try:
                outcome = write_if_changed(t.config.destination, result.contents, t.config.perms,
                                           t.config.backup, t.config.create_dest_dirs)
            except RenderError as exc:
                log.error("(runner) failed writing %s: %s", t.config.destination, exc)
                continue
            if outcome.did_render:
                wrote_any = True
                self.stats.writes += 1
                log.info("(runner) rendered %s => %s", t.config.display_name, t.config.destination)
                if t.config.command:
                    commands.setdefault(_command_key(t.config.command), (t.config.command, t.config.command_timeout))
        for key, cmd in list(self.failed_commands.items()):
            commands.setdefault(key, cmd)
        await self._run_commands(commands)
        self._collect_unused_views()
        return await self._drive_child(wrote_any)

    async def _run_commands(self, commands: dict[str, tuple[str | list[str], float]]) -> None:
        for key, (command, timeout) in commands.items():
            shown = command if isinstance(command, str) else " ".join(command)
            log.info("(runner) executing command %r", shown)
            self.stats.command_runs += 1
            result = await run_command(command, timeout, self.env)
            if result.ok:
                self.failed_commands.pop(key, None)
                continue
            self.stats.command_failures += 1
            self.failed_commands[key] = (command, timeout)
            log.error("(runner) command %r failed: %s; it will run again on the next change",
                      shown, result.describe())

    def _collect_unused_views(self) -> None:
        in_use: set[str] = set()
        for t in self.templates:
            in_use |= t.used
        for key in self.watcher.keys() - in_use:
            # Forget its data too: if a template needs it again, it waits for fresh data.
            self.watcher.remove(key)
            self.brain.forget(key)

    async def _drive_child(self, wrote_any: bool) -> int | None:
        if self.child is None or not all(t.complete for t in self.templates):
            return None
        try:
            if self.child.proc is None:
                await self.child.start()
                self._child_task = asyncio.get_running_loop().create_task(self._watch_child())
            elif wrote_any:
                await self.child.changed()
        except (OSError, ValueError) as exc:
            log.error("(runner) cannot start exec command %r: %s", self.child.config.command, exc)
            return 1
        return None

    async def _watch_child(self) -> None:
        assert self.child is not None
        while True:
            await self.child.wait()
            # A restart (no reload signal) replaces proc; only report a child that stayed down.
            if self.child.restarting:
                await asyncio.sleep(0.05)
                continue
            if not self.child.running:
                self.watcher.events.put_nowait((None, _CHILD_EXIT))  # type: ignore[arg-type]
                return
