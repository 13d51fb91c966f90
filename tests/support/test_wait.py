"""The poll helper: returns the predicate's value, times out naming what it waited for and why."""

from __future__ import annotations

import itertools
import time

import pytest

from tests.support.wait import WaitTimeout, async_wait_until, wait_until


def test_returns_the_first_truthy_value() -> None:
    calls = itertools.count()
    assert wait_until(lambda: [n] if (n := next(calls)) >= 3 else [], 5, interval=0.001) == [3]


def test_timeout_names_what_and_shows_the_last_value() -> None:
    started = time.monotonic()
    with pytest.raises(WaitTimeout, match=r"timed out after 0.2s waiting for the answer \(last value: 0\)"):
        wait_until(lambda: 0, 0.2, what="the answer", interval=0.01)
    assert 0.2 <= time.monotonic() - started < 2


def test_transient_errors_are_retried_and_the_last_one_is_the_cause() -> None:
    attempts = itertools.count()

    def refused() -> bool:
        raise ConnectionRefusedError(f"attempt {next(attempts)}")

    with pytest.raises(WaitTimeout, match="last error: ConnectionRefusedError") as info:
        wait_until(refused, 0.1, interval=0.01)
    assert isinstance(info.value.__cause__, ConnectionRefusedError)
    assert next(attempts) > 2


def test_a_bug_in_the_predicate_fails_at_once() -> None:
    started = time.monotonic()
    with pytest.raises(TypeError):
        wait_until(lambda: None + 1, 10)  # type: ignore[operator]
    assert time.monotonic() - started < 1


async def test_async_twin_awaits_async_predicates_and_times_out_the_same_way() -> None:
    calls = itertools.count()

    async def ready() -> int:
        return next(calls) >= 2 and 42

    assert await async_wait_until(ready, 5, interval=0.001) == 42
    assert await async_wait_until(lambda: "plain", 5) == "plain"
    with pytest.raises(WaitTimeout, match="waiting for never"):
        await async_wait_until(lambda: False, 0.05, what="never", interval=0.01)
