"""Raft timing from performance.raft_multiplier, as Consul scales hashicorp/raft's timeouts."""

from __future__ import annotations

import pytest

from pyconsul.config.errors import ConfigError
from pyconsul.config.loader import load_agent_config
from pyconsul.raft.core import Role
from pyconsul.raft.timing import raft_timing
from tests.raft.sim import SimCluster


@pytest.mark.parametrize(("m", "heartbeat", "lease", "tick"), [(None, 5.0, 2.5, 0.5), (0, 5.0, 2.5, 0.5),
                                                            (1, 1.0, 0.5, 0.1), (10, 10.0, 5.0, 1.0)])
def test_timeouts_scale_with_the_multiplier(m: int | None, heartbeat: float, lease: float, tick: float) -> None:
    t = raft_timing(m)
    assert (t.heartbeat_timeout, t.election_timeout, t.leader_lease_timeout) == (heartbeat, heartbeat, lease)
    assert t.tick_interval == pytest.approx(tick)
    assert (t.election_tick, t.heartbeat_tick, t.lease_tick) == (10, 1, 5)


@pytest.mark.parametrize("m", [11, -1])
def test_config_refuses_a_multiplier_out_of_range(m: int) -> None:
    with pytest.raises(ConfigError, match=f"performance.raft_multiplier cannot be {m}. Must be between 1 and 10"):
        load_agent_config(["-hcl", f"performance {{ raft_multiplier = {m} }}", "-data-dir", "/tmp/x"])


def test_isolated_leader_steps_down_when_its_lease_runs_out_not_at_the_election_timeout() -> None:
    t = raft_timing(1)
    c = SimCluster(3, seed=5, election_tick=t.election_tick, lease_tick=t.lease_tick)
    leader = c.wait_leader()
    c.isolate(leader)
    ticks = 0
    while c.core(leader).role is Role.LEADER and ticks < 3 * t.election_tick:
        c.tick()
        c.stabilize()
        ticks += 1
    assert ticks == t.lease_tick
