"""Raft timing from Consul's `performance { raft_multiplier }`: a pure function of the setting.

Consul scales hashicorp/raft's timeouts by the multiplier m (default 5, 1 in production):
heartbeat timeout 1 s × m (a follower that heard nothing for a random 1–2× of it stands for
election), election timeout 1 s × m (a candidate's, randomised the same way) and leader lease
0.5 s × m (a leader that has not heard from a quorum for that long steps down). A leader sends
heartbeats ten times per heartbeat timeout. Our core counts ticks, so one tick is a tenth of the
heartbeat timeout: elections after 10–20 ticks, a heartbeat every tick, the lease 5 ticks.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_RAFT_MULTIPLIER = 5
MAX_RAFT_MULTIPLIER = 10
HEARTBEAT_TIMEOUT_AT_1 = 1.0
ELECTION_TIMEOUT_AT_1 = 1.0
LEADER_LEASE_TIMEOUT_AT_1 = 0.5
TICKS_PER_HEARTBEAT_TIMEOUT = 10


@dataclass(frozen=True)
class RaftTiming:
    multiplier: int
    heartbeat_timeout: float
    election_timeout: float
    leader_lease_timeout: float

    @property
    def tick_interval(self) -> float:
        return self.heartbeat_timeout / TICKS_PER_HEARTBEAT_TIMEOUT

    @property
    def election_tick(self) -> int:
        return round(self.election_timeout / self.tick_interval)

    @property
    def heartbeat_tick(self) -> int:
        return 1

    @property
    def lease_tick(self) -> int:
        return max(1, round(self.leader_lease_timeout / self.tick_interval))


def multiplier_error(value: int) -> str:
    """Consul's text for a multiplier out of range ("" when it is fine; 0 means the default)."""
    if value == 0 or 1 <= value <= MAX_RAFT_MULTIPLIER:
        return ""
    return f"performance.raft_multiplier cannot be {value}. Must be between 1 and {MAX_RAFT_MULTIPLIER}"


def raft_timing(multiplier: int | None) -> RaftTiming:
    """The timing for `multiplier` (None or 0: Consul's default, 5)."""
    m = int(multiplier or DEFAULT_RAFT_MULTIPLIER)
    if multiplier_error(m):
        raise ValueError(multiplier_error(m))
    return RaftTiming(m, HEARTBEAT_TIMEOUT_AT_1 * m, ELECTION_TIMEOUT_AT_1 * m, LEADER_LEASE_TIMEOUT_AT_1 * m)
