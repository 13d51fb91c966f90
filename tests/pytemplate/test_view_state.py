"""The blocking-query decision rules, quiescence and backoff, as pure state machines."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytemplate.quiescence import Quiescence
from pytemplate.view import Backoff, Outcome, ViewState

answers = st.lists(st.tuples(st.integers(1, 20), st.integers(0, 3)), max_size=40)


def test_rules_in_order() -> None:
    v = ViewState()
    assert v.on_response(5, 0, ["a"]) is Outcome.NEW_DATA
    assert v.on_response(5, 0, ["a"]) is Outcome.SAME_INDEX
    assert v.on_response(6, 0, ["a"]) is Outcome.SAME_DATA  # an unrelated write woke us
    assert v.last_index == 6
    assert v.on_response(3, 0, ["b"]) is Outcome.INDEX_RESET  # agent restarted
    assert v.last_index == 0  # next read does not block
    assert v.on_response(3, 0, ["b"]) is Outcome.NEW_DATA


def test_absent_key_blocks_until_it_exists() -> None:
    v = ViewState()
    assert v.on_response(2, 0, None, block_on_nil=True) is Outcome.NIL_BLOCKED
    assert not v.received
    assert v.on_response(4, 0, "x", block_on_nil=True) is Outcome.NEW_DATA


def test_stale_answer_past_max_stale_asks_the_leader_once() -> None:
    v = ViewState(max_stale=2.0)
    assert v.allow_stale
    assert v.on_response(5, 3.5, ["old"]) is Outcome.STALE_RETRY
    assert not v.allow_stale and v.last_index == 0
    assert v.on_response(6, 0.0, ["fresh"]) is Outcome.NEW_DATA
    assert v.allow_stale  # later reads may be stale again
    assert not ViewState(max_stale=0).allow_stale


@given(answers)
def test_delivered_data_always_differs_from_the_previous_delivery(seq: list[tuple[int, int]]) -> None:
    v = ViewState()
    delivered: list[int] = []
    for index, data in seq:
        if v.on_response(index, 0, data) is Outcome.NEW_DATA:
            delivered.append(data)
    assert all(a != b for a, b in zip(delivered, delivered[1:], strict=False))
    if delivered:
        assert v.data == delivered[-1]


@given(answers)
def test_index_never_goes_backwards_except_by_reset(seq: list[tuple[int, int]]) -> None:
    v = ViewState()
    for index, data in seq:
        before = v.last_index
        outcome = v.on_response(index, 0, data)
        if outcome is Outcome.INDEX_RESET:
            assert v.last_index == 0
        else:
            assert v.last_index >= before


@given(answers)
def test_latest_data_is_eventually_delivered(seq: list[tuple[int, int]]) -> None:
    """Whatever happened before, a fresh higher index with new data is delivered."""
    v = ViewState()
    for index, data in seq:
        v.on_response(index, 0, data)
    top = max([i for i, _ in seq], default=0) + 1
    outcome = v.on_response(top, 0, 99)
    assert outcome is Outcome.NEW_DATA and v.data == 99


@given(st.floats(0, 10), st.floats(0, 30), st.lists(st.floats(0, 5), min_size=1, max_size=30))
def test_quiescence_deadline_restarts_but_never_passes_max(lo: float, extra: float, gaps: list[float]) -> None:
    q = Quiescence(lo, lo + extra)
    now = 100.0
    first: float | None = None
    for gap in gaps:
        now += gap
        if q.due(now):
            break
        q.observe(now)
        first = now if first is None else first
        assert q.deadline is not None
        assert q.deadline <= first + lo + extra + 1e-9
        assert q.deadline <= now + lo + 1e-9
    assert q.pending()
    q.reset()
    assert not q.pending() and not q.due(1e9)


def test_quiescence_example() -> None:
    q = Quiescence(2.0, 5.0)
    q.observe(0.0)
    assert not q.due(1.9) and q.due(2.0)
    q.observe(1.5)  # a later change restarts min
    assert q.deadline == 3.5
    q.observe(3.4)
    q.observe(4.9)
    assert q.deadline == 5.0  # capped at first + max
    with pytest.raises(ValueError):
        Quiescence(5.0, 1.0)


@given(st.integers(0, 40))
def test_backoff_grows_to_the_cap_and_resets(n: int) -> None:
    b = Backoff(0.25, 10.0, rng=random.Random(n))
    delays = [b.next_delay() for _ in range(n + 1)]
    assert all(0.25 * 0.75 <= x <= 10.0 for x in delays)
    assert delays[-1] >= min(10.0, 0.25 * 2**n) * 0.75
    b.reset()
    assert b.next_delay() <= 0.25
