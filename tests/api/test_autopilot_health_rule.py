"""Autopilot's server health rule (pure): gossip status, LastContactThreshold for followers and
MaxTrailingLogs against the leader's log."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pyconsul.api.operator import server_healthy


def test_each_condition_alone_makes_a_server_unhealthy() -> None:
    ok = {"serf_alive": True, "is_leader": False, "last_contact": 0.05, "last_index": 990,
          "leader_index": 1000, "threshold": 0.2, "max_trailing_logs": 250}
    assert server_healthy(**ok)
    assert not server_healthy(**{**ok, "serf_alive": False})
    assert not server_healthy(**{**ok, "last_contact": 0.21})
    assert not server_healthy(**{**ok, "last_index": 749})
    assert server_healthy(**{**ok, "last_index": 750})  # exactly MaxTrailingLogs behind is fine
    assert server_healthy(**{**ok, "is_leader": True, "last_contact": 5.0})  # the leader is never "stale"


@given(st.floats(min_value=0, max_value=10), st.floats(min_value=0, max_value=10),
       st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=10_000))
def test_a_larger_threshold_or_trailing_allowance_never_makes_a_server_less_healthy(
    contact: float, threshold: float, behind: int, allowance: int
) -> None:
    def healthy(th: float, allow: int) -> bool:
        return server_healthy(True, False, contact, 10_000 - behind, 10_000, th, allow)

    if healthy(threshold, allowance):
        assert healthy(threshold * 2 + 0.1, allowance + 1)
