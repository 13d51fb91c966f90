"""Quiescence (`wait = "min:max"`): let a burst of changes settle before rendering.

The first change starts a `min` timer; each later change restarts it, but the deadline never
moves past `first change + max`, so a constant trickle of changes still renders every `max`.
Pure: callers pass the time in.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Quiescence:
    min_wait: float
    max_wait: float
    first: float | None = None
    deadline: float | None = None

    def __post_init__(self) -> None:
        if self.min_wait < 0 or self.max_wait < self.min_wait:
            raise ValueError(f"wait: need 0 <= min <= max, got {self.min_wait}:{self.max_wait}")

    def observe(self, now: float) -> None:
        if self.first is None:
            self.first = now
        self.deadline = min(now + self.min_wait, self.first + self.max_wait)

    def pending(self) -> bool:
        return self.deadline is not None

    def due(self, now: float) -> bool:
        return self.deadline is not None and now >= self.deadline

    def reset(self) -> None:
        self.first = None
        self.deadline = None
