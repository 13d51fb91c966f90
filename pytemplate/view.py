"""One view per dependency: the blocking-query loop that keeps its data fresh.

`ViewState` is the pure decision core (consul-template's rules): skip a result whose index is
unchanged, reset to a non-blocking read when the index goes backwards (the store was restored or
the agent restarted), drop data equal to the last, hold back an absent key that must block, and
re-ask the leader when a stale answer is older than `max_stale`. `Backoff` spaces retries after
errors. `View.run` is the thin async shell around them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from pyconsul.clock import SYSTEM_CLOCK, Clock
from pytemplate.client import ACLDenied, ConsulError, ConsulTransport
from pytemplate.dependencies import Dependency, FileQuery

log = logging.getLogger("pytemplate.view")


class Outcome(Enum):
    NEW_DATA = "new data"
    SAME_INDEX = "index unchanged"
    INDEX_RESET = "index went backwards; resetting"
    SAME_DATA = "data unchanged"
    NIL_BLOCKED = "value absent; blocking"
    STALE_RETRY = "stale answer past max_stale; asking the leader"


@dataclass
class ViewState:
    max_stale: float = 0.0
    last_index: int = 0
    data: Any = None
    received: bool = False
    allow_stale: bool = field(init=False)

    def __post_init__(self) -> None:
        self.allow_stale = self.max_stale > 0

    def on_response(self, index: int, last_contact: float, data: Any, block_on_nil: bool = False) -> Outcome:
        if self.allow_stale and last_contact > self.max_stale:
            self.allow_stale = False
            return Outcome.STALE_RETRY
        if self.max_stale > 0:
            self.allow_stale = True
        if index == self.last_index and self.received:
            return Outcome.SAME_INDEX
        if index < self.last_index:
            self.last_index = 0
            return Outcome.INDEX_RESET
        self.last_index = index
        if self.received and data == self.data:
            return Outcome.SAME_DATA
        if data is None and block_on_nil:
            return Outcome.NIL_BLOCKED
        self.data = data
        self.received = True
        return Outcome.NEW_DATA


@dataclass
class Backoff:
    """Exponential backoff with jitter: base, 2·base, 4·base … capped at `maximum`."""

    base: float = 0.25
    maximum: float = 60.0
    attempts: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next_delay(self) -> float:
        delay = min(self.maximum, self.base * (2 ** min(self.attempts, 30)))
        self.attempts += 1
        return delay * (0.75 + 0.25 * self.rng.random())

    def reset(self) -> None:
        self.attempts = 0


@dataclass
class ViewOptions:
    block_wait: float = 60.0  # the `wait` sent with each blocking query
    max_stale: float = 2.0
    min_interval: float = 0.1  # no view asks more than ~10 times a second (storm guard)
    poll_interval: float = 15.0  # non-blocking endpoints (datacenters)
    file_poll_interval: float = 1.0
    retry_base: float = 0.25
    retry_max: float = 60.0
    retry_attempts: int = 12  # retries before giving up; 0 retries forever, -1 never retries


Sleep = Callable[[float], Awaitable[None]]


def format_wait(seconds: float) -> str:
    return f"{max(1, int(seconds * 1000))}ms"


class View:
    def __init__(self, dep: Dependency, client: ConsulTransport,
                 on_data: Callable[[Dependency, Any], None],
                 on_error: Callable[[Dependency, Exception], None] | None = None,
                 on_give_up: Callable[[Dependency, Exception], None] | None = None,
                 options: ViewOptions | None = None, clock: Clock = SYSTEM_CLOCK,
                 sleep: Sleep = asyncio.sleep) -> None:
        self.dep = dep
        self.client = client
        self.on_data = on_data
        self.on_error = on_error
        self.on_give_up = on_give_up
        self.options = options or ViewOptions()
        self.state = ViewState(max_stale=self.options.max_stale)
        self.backoff = Backoff(self.options.retry_base, self.options.retry_max)
        self.clock = clock
        self.sleep = sleep
        self.fetches = 0
        self._node_name = ""

    async def run(self) -> None:
        first = True
        while True:
            start = self.clock.monotonic()
            try:
                data, index, last_contact = await self.fetch()
            except ACLDenied as exc:
                # No retry can succeed with this token: one line names the missing permission.
                if self.on_give_up is not None:
                    self.on_give_up(self.dep, exc)  # the runner reports it and stops
                else:
                    log.error("(view) %s: %s", self.dep, exc)
                return
            except (ConsulError, OSError) as exc:
                limit = self.options.retry_attempts  # 0: forever; -1: retries disabled
                if limit != 0 and self.backoff.attempts >= max(limit, 0):
                    log.error("(view) %s: %s (giving up after %d attempts)", self.dep, exc,
                              self.backoff.attempts + 1)
                    if self.on_give_up is not None:
                        self.on_give_up(self.dep, exc)
                    return
                delay = self.backoff.next_delay()
                log.warning("(view) %s: %s (retry in %.2fs)", self.dep, exc, delay)
                if self.on_error is not None:
                    self.on_error(self.dep, exc)
                await self.sleep(delay)
                continue
            self.backoff.reset()
            elapsed = self.clock.monotonic() - start
            if not first and elapsed < self.options.min_interval:
                await self.sleep(self.options.min_interval - elapsed)
            first = False
            outcome = self.state.on_response(index, last_contact, data, self.dep.block_on_nil)
            log.debug("(view) %s: %s (index %d)", self.dep, outcome.value, index)
            if outcome is Outcome.NEW_DATA:
                self.on_data(self.dep, data)
            if not self.dep.blocking and outcome is not Outcome.STALE_RETRY:
                await self.sleep(self.options.file_poll_interval if self.dep.is_file
                                 else self.options.poll_interval)

    async def fetch(self) -> tuple[Any, int, float]:
        """(data, index, last_contact) for one round."""
        self.fetches += 1
        if isinstance(self.dep, FileQuery):
            return self._read_file()
        if self.dep.needs_node_name and not self._node_name:
            self._node_name = await self.client.node_name()
        req = self.dep.request(self._node_name)
        params = list(req.params)
        if self.dep.blocking and self.state.last_index > 0:
            params += [("index", str(self.state.last_index)), ("wait", format_wait(self.options.block_wait))]
        if self.state.allow_stale:
            params.append(("stale", ""))
        timeout = self.options.block_wait * 1.1 + 10.0
        resp = await self.client.get(req.path, params, timeout)
        return self.dep.decode(resp.status, resp.body), resp.index, resp.last_contact

    def _read_file(self) -> tuple[Any, int, float]:
        path = self.dep.path  # type: ignore[attr-defined]
        try:
            st = os.stat(path)
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError as exc:
            raise ConsulError(f"file: {exc.strerror or exc}: {path}") from None
        # A changed stat is a new "index"; equal contents are still dropped by ViewState.
        return text, max(1, st.st_mtime_ns // 1000 + st.st_size), 0.0
