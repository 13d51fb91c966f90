"""One way to wait for a condition: poll a predicate until it returns something truthy.

Tests never sleep to synchronise; they poll with a deadline. On timeout the error names what was
awaited and shows the predicate's last value or the exception it last raised (chained as the
cause), so a failure says why instead of just "timed out".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

# A predicate that raises one of these is "not yet" (agent still starting, connection refused,
# body not JSON yet, an assert inside the predicate); anything else is a bug and fails at once.
TRANSIENT: tuple[type[BaseException], ...] = (OSError, AssertionError, ValueError, KeyError, IndexError)


class WaitTimeout(AssertionError):
    """The condition did not hold before the deadline (an AssertionError, so pytest reports a failure)."""


def _timed_out(what: str, timeout: float, last: Any, last_exc: BaseException | None) -> WaitTimeout:
    shown = f"last error: {last_exc!r}" if last_exc is not None else f"last value: {last!r}"
    return WaitTimeout(f"timed out after {timeout}s waiting for {what} ({shown})")


def wait_until(pred: Callable[[], T], timeout: float = 10.0, what: str = "condition", interval: float = 0.05,
               ignore: tuple[type[BaseException], ...] = TRANSIENT) -> T:
    """Call `pred` every `interval` seconds until it returns a truthy value, and return that value.

    Exceptions in `ignore` count as "not yet"; at the deadline raise WaitTimeout naming `what`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    last_exc: BaseException | None = None
    while True:
        try:
            last, last_exc = pred(), None
            if last:
                return last
        except ignore as exc:
            last_exc = exc
        if time.monotonic() >= deadline:
            raise _timed_out(what, timeout, last, last_exc) from last_exc
        time.sleep(interval)


async def async_wait_until(pred: Callable[[], T | Awaitable[T]], timeout: float = 10.0, what: str = "condition",
                           interval: float = 0.02, ignore: tuple[type[BaseException], ...] = TRANSIENT) -> T:
    """The asyncio twin of `wait_until`: `pred` may be a plain or an async function; the loop keeps
    running between polls."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: Any = None
    last_exc: BaseException | None = None
    while True:
        try:
            value = pred()
            last, last_exc = (await value if isinstance(value, Awaitable) else value), None
            if last:
                return last  # type: ignore[no-any-return]
        except ignore as exc:
            last_exc = exc
        if loop.time() >= deadline:
            raise _timed_out(what, timeout, last, last_exc) from last_exc
        await asyncio.sleep(interval)
