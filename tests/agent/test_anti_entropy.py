"""Anti-entropy: interval scaling with cluster size, and check-output rate limiting."""

from __future__ import annotations

import asyncio
import random

from hypothesis import given
from hypothesis import strategies as st

from pyconsul.agent.anti_entropy import next_sync_delay, scale_interval
from pyconsul.agent.local_state import LocalState
from pyconsul.clock import FakeClock
from pyconsul.fsm import commands as c


def test_scale_matches_consul() -> None:
    assert scale_interval(60, 1) == 60
    assert scale_interval(60, 128) == 60
    assert scale_interval(60, 129) == 120
    assert scale_interval(60, 256) == 120
    assert scale_interval(60, 257) == 180
    assert scale_interval(60, 100_000) == 60 * 11


@given(st.integers(1, 1_000_000), st.integers(0, 2**32))
def test_delay_is_scaled_interval_plus_bounded_stagger(nodes: int, seed: int) -> None:
    d = next_sync_delay(nodes, random.Random(seed))
    base = scale_interval(60, nodes)
    assert base <= d <= base * (1 + 1 / 16)


async def test_output_only_changes_are_rate_limited_status_changes_are_not() -> None:
    writes: list[c.Command] = []

    async def write(cmd: c.Command) -> bool:
        writes.append(cmd)
        return True

    clock = FakeClock()
    local = LocalState("n1", write, lambda: {"Node": "n1", "Address": "127.0.0.1"}, clock=clock,
                       check_update_interval=300)
    local.syncing = True
    await local.add_check({"CheckID": "mem", "Name": "mem", "Type": "ttl", "TTL": "60s", "Status": "passing"})
    n = len(writes)
    await local.update_check("mem", "passing", "used 10%")
    assert len(writes) == n + 1  # the first output after a sync goes out at once
    await local.update_check("mem", "passing", "used 11%")
    await local.update_check("mem", "passing", "used 12%")
    assert len(writes) == n + 1  # within the interval: held back
    assert local.checks["mem"]["Output"] == "used 12%"  # but the agent's own view is current
    await local.update_check("mem", "critical", "out of memory")
    assert len(writes) == n + 2  # a status change is never delayed
    clock.advance(301)
    await local.update_check("mem", "critical", "still out of memory")
    assert len(writes) == n + 3
    await asyncio.sleep(0)
