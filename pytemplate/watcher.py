"""The watcher owns one view per distinct dependency and funnels their news into one queue.

Templates that use the same dependency share its view, so fifty templates over one service cost
one blocking query, not fifty.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from pyconsul.clock import SYSTEM_CLOCK, Clock
from pytemplate.client import ConsulTransport
from pytemplate.dependencies import Dependency
from pytemplate.view import View, ViewOptions

log = logging.getLogger("pytemplate.watcher")


@dataclass(frozen=True)
class GiveUp:
    """A view exhausted its retries: the runner stops with an error, as consul-template does."""

    dep: Dependency
    error: Exception


class Watcher:
    def __init__(self, client: ConsulTransport, options: ViewOptions | None = None,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self.client = client
        self.options = options or ViewOptions()
        self.clock = clock
        self.events: asyncio.Queue[tuple[Dependency, Any]] = asyncio.Queue()
        self.errors: dict[str, Exception] = {}
        self._views: dict[str, View] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def _on_data(self, dep: Dependency, data: Any) -> None:
        self.errors.pop(dep.key, None)
        self.events.put_nowait((dep, data))

    def _on_error(self, dep: Dependency, exc: Exception) -> None:
        self.errors[dep.key] = exc

    def _on_give_up(self, dep: Dependency, exc: Exception) -> None:
        self.events.put_nowait((None, GiveUp(dep, exc)))  # type: ignore[arg-type]

    def add(self, dep: Dependency) -> bool:
        """Start watching `dep`; False if a view for it already runs."""
        if dep.key in self._views:
            return False
        view = View(dep, self.client, self._on_data, on_error=self._on_error, on_give_up=self._on_give_up,
                    options=self.options, clock=self.clock)
        self._views[dep.key] = view
        self._tasks[dep.key] = asyncio.get_running_loop().create_task(self._run(view), name=f"view {dep}")
        log.debug("(watcher) adding %s", dep)
        return True

    async def _run(self, view: View) -> None:
        try:
            await view.run()
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug in one view must not go unnoticed nor kill the others
            log.exception("(watcher) view %s crashed; restarting it", view.dep)
            await asyncio.sleep(1.0)
            if view.dep.key in self._views:
                self._tasks[view.dep.key] = asyncio.get_running_loop().create_task(self._run(view))

    def watching(self, dep: Dependency) -> bool:
        return dep.key in self._views

    def keys(self) -> set[str]:
        return set(self._views)

    def remove(self, key: str) -> None:
        self._views.pop(key, None)
        self.errors.pop(key, None)
        task = self._tasks.pop(key, None)
        if task is not None:
            log.debug("(watcher) removing %s", key)
            task.cancel()

    def fetch_count(self) -> int:
        return sum(v.fetches for v in self._views.values())

    def __len__(self) -> int:
        return len(self._views)

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        self._views.clear()
        self._tasks.clear()
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
