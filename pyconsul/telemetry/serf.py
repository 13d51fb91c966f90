"""`serf.member.*` counters from membership events, and serf's flap rule: a member that
rejoins within 60 s of failing has flapped (`serf.member.flap`)."""

from __future__ import annotations

import time

from pyconsul.telemetry.names import SERF_MEMBER_COUNTER
from pyconsul.telemetry.registry import METRICS, Registry

FLAP_TIMEOUT = 60.0


class SerfMetrics:
    def __init__(self, reg: Registry = METRICS) -> None:
        self.reg = reg
        self.failed_at: dict[str, float] = {}

    def member_event(self, kind: str, name: str) -> None:
        counter = SERF_MEMBER_COUNTER.get(kind)
        if counter is None:
            return
        self.reg.incr_counter(counter)
        now = time.monotonic()
        if kind == "member-failed":
            self.failed_at[name] = now
        elif kind == "member-join":
            failed = self.failed_at.pop(name, None)
            if failed is not None and now - failed < FLAP_TIMEOUT:
                self.reg.incr_counter("serf.member.flap")
        elif kind in ("member-leave", "member-reap"):
            self.failed_at.pop(name, None)


SERF = SerfMetrics()
