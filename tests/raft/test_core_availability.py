"""Availability under faults on the simulated network: requests follow a new leader, elections
finish promptly after a heal, and no leader with a quorum is unseated."""

from __future__ import annotations

from tests.raft.sim import SimCluster

ELECTION = 10  # SimCluster's election_tick


def _ticks_until(c: SimCluster, done: object, limit: int) -> int:
    for n in range(1, limit + 1):
        c.tick()
        c.stabilize()
        if done():  # type: ignore[operator]
            return n
    raise AssertionError(f"not done within {limit} ticks")


def _new_leader(c: SimCluster, old: str) -> str:
    ls = [s for s in c.leaders() if s != old and c.core(s).committed_in_term()]
    return ls[0] if ls else ""


def test_read_forwarded_to_a_crashed_leader_is_answered_by_the_next_one() -> None:
    c = SimCluster(3, seed=21)
    old = c.wait_leader()
    c.propose(old, b"w")
    c.stabilize()
    follower = next(s for s in c.servers if s != old)
    c.crash(old)
    c.core(follower).read_index(b"r")
    c.stabilize()  # the ReadIndex went to the dead leader and is lost
    _ticks_until(c, lambda: _new_leader(c, old), 20 * ELECTION)
    new = _new_leader(c, old)
    # Within a heartbeat or two of the new leader being known, not after the caller's timeout.
    _ticks_until(c, lambda: b"r" in c.servers[follower].read_results, 3)
    got = c.servers[follower].read_results[b"r"]
    assert got >= 2 and got <= c.core(new).log.committed  # covers the write made before the read


def test_read_held_without_a_leader_is_answered_once_one_is_elected() -> None:
    c = SimCluster(3, seed=22)
    old = c.wait_leader()
    follower = next(s for s in c.servers if s != old)
    c.crash(old)
    # Wait until the follower knows the leader is gone (it campaigns: no leader named).
    _ticks_until(c, lambda: c.core(follower).lead in ("", follower), 20 * ELECTION)
    c.core(follower).read_index(b"held", hold=True)
    c.stabilize()
    _ticks_until(c, lambda: b"held" in c.servers[follower].read_results, 20 * ELECTION)
    assert c.servers[follower].read_results[b"held"] > 0
    assert _new_leader(c, old)


def test_forgotten_read_is_not_forwarded_again() -> None:
    c = SimCluster(3, seed=23)
    old = c.wait_leader()
    follower = next(s for s in c.servers if s != old)
    c.crash(old)
    c.core(follower).read_index(b"gone")
    c.core(follower).forget_read(b"gone")
    _ticks_until(c, lambda: _new_leader(c, old), 20 * ELECTION)
    c.run(3)
    assert b"gone" not in c.servers[follower].read_results


def test_read_on_a_follower_that_wins_the_election_is_served_by_it() -> None:
    c = SimCluster(3, seed=24)
    old = c.wait_leader()
    c.crash(old)
    a, b = (s for s in c.servers if s != old)
    c.core(a).read_index(b"mine")
    c.core(b).read_index(b"mine")
    _ticks_until(c, lambda: _new_leader(c, old), 20 * ELECTION)
    c.run(3)
    assert c.servers[a].read_results[b"mine"] > 0
    assert c.servers[b].read_results[b"mine"] > 0


def test_write_placed_by_a_crashed_leader_is_known_lost_once_the_next_leader_commits() -> None:
    c = SimCluster(3, seed=25)
    old = c.wait_leader()
    for i in range(3):
        c.propose(old, b"ok%d" % i)
    c.stabilize()
    c.run(2)
    # Two more writes reach only the old leader's log, then it dies.
    c.isolate(old)
    placed = [c.propose(old, b"lost%d" % i) for i in range(3)]
    c.stabilize()
    c.crash(old)
    c.recover()
    follower = next(s for s in c.servers if s != old)
    assert not any(c.core(follower).superseded(i, t) for i, t in placed)
    _ticks_until(c, lambda: _new_leader(c, old), 20 * ELECTION)
    c.run(2)
    # The new leader's log is shorter than the lost indexes: nothing will be applied at the last
    # ones until new writes arrive, yet every server can tell they will never commit (the first
    # is overwritten by the new leader's own entry, which applying reports).
    beyond = [(i, t) for i, t in placed if i > c.core(follower).log.committed]
    assert beyond
    for sid in c.servers:
        if sid != old:
            core = c.core(sid)
            assert all(core.superseded(i, t) for i, t in beyond), sid
            assert all(core.log.term(i) != t for i, t in placed if (i, t) not in beyond), sid


def test_committed_entry_is_never_superseded() -> None:
    c = SimCluster(3, seed=26)
    leader = c.wait_leader()
    i, t = c.propose(leader, b"x")
    c.stabilize()
    c.run(2)
    c.crash(leader)
    _ticks_until(c, lambda: _new_leader(c, leader), 20 * ELECTION)
    c.run(2)
    assert not any(c.core(s).superseded(i, t) for s in c.servers if s != leader)
