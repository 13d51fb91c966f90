"""The cas-register linearizability checker used by the cluster history test."""

from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.raft.linearizability import CAS, READ, WRITE, Op, check

INF = math.inf


def test_sequential_history_is_linearizable() -> None:
    h = [Op(0, 1, WRITE, "a"), Op(2, 3, READ, out="a"), Op(4, 5, CAS, ("a", "b"), True), Op(6, 7, READ, out="b")]
    assert check(h)


def test_stale_read_after_write_completed_is_not() -> None:
    h = [Op(0, 1, WRITE, "a"), Op(2, 3, WRITE, "b"), Op(4, 5, READ, out="a")]
    assert not check(h)


def test_concurrent_ops_may_go_either_way() -> None:
    h = [Op(0, 10, WRITE, "a"), Op(1, 2, READ, out=None), Op(3, 4, READ, out="a")]
    assert check(h)
    # ...but once a later read saw "a", an even later read may not see the old value again.
    assert not check(h + [Op(5, 6, READ, out=None)])


def test_lost_acknowledged_write_is_caught() -> None:
    h = [Op(0, 1, WRITE, "a"), Op(2, 3, CAS, ("a", "b"), True), Op(4, 5, READ, out="a")]
    assert not check(h)


def test_unknown_outcome_may_or_may_not_have_happened() -> None:
    h = [Op(0, INF, WRITE, "x"), Op(5, 6, READ, out=None)]
    assert check(h)
    h2 = [Op(0, INF, WRITE, "x"), Op(5, 6, READ, out="x"), Op(7, 8, READ, out="x")]
    assert check(h2)
    # It cannot take effect before it was called.
    assert not check([Op(1, 2, READ, out="x"), Op(3, INF, WRITE, "x")])


def test_two_successful_cas_from_same_value_are_not() -> None:
    h = [Op(0, 1, WRITE, "a"), Op(2, 5, CAS, ("a", "b"), True), Op(2, 5, CAS, ("a", "c"), True)]
    assert not check(h)
    h[2] = Op(2, 5, CAS, ("a", "c"), False)
    assert check(h)


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 14))
def test_histories_from_a_real_register_pass(seed: int, n: int) -> None:
    """Run random ops against an atomic register with random overlapping intervals: every
    such history is linearizable by construction (each op took effect at a point inside it)."""
    rng = random.Random(seed)
    value: object = None
    ops: list[Op] = []
    t = 0.0
    for i in range(n):
        t += rng.random()
        start = t - rng.random() * 2  # intervals overlap their neighbours
        end = t + rng.random() * 2
        kind = rng.choice([READ, WRITE, CAS])
        if kind == READ:
            ops.append(Op(start, end, READ, out=value))
        elif kind == WRITE:
            value = f"v{i}"
            ops.append(Op(start, end, WRITE, value))
        else:
            expected = value if rng.random() < 0.6 else "nope"
            ok = value == expected
            if ok:
                value = f"v{i}"
            unknown = rng.random() < 0.15
            ops.append(Op(start, INF if unknown else end, CAS, (expected, f"v{i}"), ok))
    assert check(ops)
