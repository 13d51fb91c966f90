"""Availability properties over random fault schedules on the simulated network, with Consul's
timing (an election timeout of 10 ticks, the leader's lease 5): once the network heals and every
server is back, a leader that has committed in its term is elected within `K` election
timeouts, and from then on — the network being healthy — it never steps down."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyconsul.raft.core import NotLeader, Role
from pyconsul.raft.timing import raft_timing
from tests.raft.sim import SimCluster
from tests.raft.test_core_properties import IDS, Checker, action

TIMING = raft_timing(1)
ELECTION = TIMING.election_tick
# A healed cluster agrees on a leader within this many election timeouts (a randomised timeout
# is up to two, a pre-vote and a vote round follow, a split vote costs another).
K = 4
# How long a healthy network is watched for a leader stepping down.
WATCH = 10 * ELECTION


def _run_schedule(c: SimCluster, ids: list[str], actions: list[tuple], chk: Checker) -> None:
    n = len(ids)
    counter = 0
    for act in actions:
        kind = act[0]
        if kind == "tick":
            for _ in range(act[1]):
                c.tick()
                c.stabilize()
        elif kind == "propose":
            sid = ids[act[1] % n]
            if c.servers[sid].up:
                counter += 1
                try:
                    c.propose(sid, b"cmd%d" % counter)
                except NotLeader:
                    pass
        elif kind == "cut":
            a, b = ids[act[1] % n], ids[act[2] % n]
            if a != b:
                c.cut(a, b)
        elif kind == "isolate":
            c.isolate(ids[act[1] % n])
        elif kind == "drop":
            c.drop(ids[act[1] % n], ids[act[2] % n], act[3])
        elif kind == "recover":
            c.recover()
        elif kind == "crash":
            if sum(1 for s in c.servers.values() if not s.up) < n // 2:
                c.crash(ids[act[1] % n])
        elif kind == "restart":
            sid = ids[act[1] % n]
            if not c.servers[sid].up:
                c.restart(sid)
        elif kind == "transfer":
            to = ids[act[1] % n]
            for leader in c.leaders():
                if to != leader and to in c.core(leader).prs:
                    c.core(leader).transfer_leadership(to)
        c.stabilize()
        chk.check()


def _serving_leader(c: SimCluster) -> str:
    """The one leader that has committed in its term and that every server names, or ""."""
    ls = [s for s in c.leaders() if c.core(s).committed_in_term()]
    if len(ls) != 1:
        return ""
    lead = ls[0]
    return lead if all(c.core(s).lead == lead for s in c.servers) else ""


@settings(
    max_examples=int(os.environ.get("RAFT_PROP_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**16), n=st.sampled_from([3, 5]), actions=st.lists(action, min_size=5, max_size=60))
def test_healed_cluster_elects_within_k_election_timeouts_and_keeps_its_leader(
    seed: int, n: int, actions: list[tuple]
) -> None:
    c = SimCluster(n, seed=seed, election_tick=ELECTION, lease_tick=TIMING.lease_tick)
    ids = IDS[:n]
    chk = Checker(c)
    _run_schedule(c, ids, actions, chk)

    c.recover()
    for sid in ids:
        if not c.servers[sid].up:
            c.restart(sid)
    leader = ""
    for _ in range(K * ELECTION):
        c.tick()
        c.stabilize()
        chk.check()
        leader = _serving_leader(c)
        if leader:
            break
    assert leader, f"no leader named by every server {K} election timeouts after the heal: {c.leaders()}"
    term = c.core(leader).term
    # A handover begun before the heal may still complete: that is a leader stepping aside on
    # purpose, not being unseated.
    handing_over = bool(c.core(leader).transferee)
    for _ in range(WATCH):
        c.tick()
        c.stabilize()
        chk.check()
        if handing_over:
            continue
        core = c.core(leader)
        assert core.role is Role.LEADER and core.term == term, (
            f"{leader} (term {term}) stepped down on a healthy network: now {core.role.value} in "
            f"term {core.term}, leaders {c.leaders()}")
    c.propose(c.leaders()[0], b"final")
    c.run(3)
    logs = {sid: c.applied_data(sid) for sid in ids}
    assert all(got == logs[c.leaders()[0]] for got in logs.values())
