"""A linearizability checker for a compare-and-set register (Wing & Gong search with
memoisation, as in Lowe's and Porcupine's checkers).

Operations: `write(v)`, `read() -> v`, `cas(expected, new) -> bool`. Every written value is
unique, so a Consul check-and-set on a ModifyIndex is a cas on the value that index belongs to.
An operation whose outcome is unknown (timeout, error) has `ret = inf`: it may have taken
effect at any point after its call, or never.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

READ, WRITE, CAS = "read", "write", "cas"


@dataclass(frozen=True)
class Op:
    call: float
    ret: float  # math.inf: outcome unknown
    kind: str
    arg: Any = None  # write: value; cas: (expected, new)
    out: Any = None  # read: value seen; cas: True/False (ignored when ret is inf)

    @property
    def known(self) -> bool:
        return self.ret != math.inf


def _step(state: Any, op: Op) -> tuple[bool, Any]:
    """Can `op` take effect on `state`, and what state follows."""
    if op.kind == READ:
        return (not op.known or op.out == state), state
    if op.kind == WRITE:
        return True, op.arg
    expected, new = op.arg
    if not op.known:
        return (state == expected), new  # the failing branch is "never happened"
    if op.out:
        return state == expected, new
    return state != expected, state


def check(history: list[Op], init: Any = None, max_states: int = 2_000_000) -> bool:
    """True if some order of the operations respects real time and the register's semantics."""
    ops = sorted(history, key=lambda o: o.call)
    must = sum(1 << i for i, o in enumerate(ops) if o.known)
    seen: set[tuple[int, Any]] = set()
    stack: list[tuple[int, Any]] = [(0, init)]
    while stack:
        done, state = stack.pop()
        if done & must == must:
            return True
        if (done, state) in seen:
            continue
        seen.add((done, state))
        if len(seen) > max_states:
            raise RuntimeError("history too large to check")
        # Nothing may go next that was called after some pending known operation returned.
        horizon = min((o.ret for i, o in enumerate(ops) if not done >> i & 1 and o.known), default=math.inf)
        for i, o in enumerate(ops):
            if done >> i & 1:
                continue
            if o.call > horizon:
                break
            ok, nxt = _step(state, o)
            if ok:
                stack.append((done | 1 << i, nxt))
            # An unknown op that never takes effect simply stays undone: `must` excludes it.
    return False
