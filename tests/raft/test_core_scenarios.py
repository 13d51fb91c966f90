"""Deterministic scenarios for the pure Raft core on the fake network in tests/raft/sim.py."""

from __future__ import annotations

import itertools

import pytest

from pyconsul.raft.core import ConfigChangeInProgress, NotLeader, Role
from pyconsul.raft.messages import CONFIG, AppendEntries, Entry, Snapshot, encode_voters
from tests.raft.sim import SimCluster


def test_single_server_elects_itself_and_commits() -> None:
    c = SimCluster(1)
    leader = c.wait_leader()
    assert leader == "s1"
    c.propose("s1", b"a")
    c.stabilize()
    assert c.applied_data("s1") == [b"a"]


def test_three_servers_elect_one_leader_and_replicate() -> None:
    c = SimCluster(3, seed=1)
    leader = c.wait_leader()
    for i in range(20):
        c.propose(leader, b"x%d" % i)
    c.stabilize()
    c.run(2)  # heartbeats carry the final commit index to followers
    want = [b"x%d" % i for i in range(20)]
    for sid in c.servers:
        assert c.applied_data(sid) == want
    terms = {c.core(s).term for s in c.servers}
    assert len(terms) == 1


def test_follower_refuses_proposals_and_names_leader() -> None:
    c = SimCluster(3, seed=2)
    leader = c.wait_leader()
    follower = next(s for s in c.servers if s != leader)
    with pytest.raises(NotLeader) as err:
        c.propose(follower, b"x")
    assert err.value.leader == leader


def test_split_vote_resolves_in_a_later_term() -> None:
    c = SimCluster(4, seed=3, pre_vote=False)
    # s1 can only reach s3, s2 only s4: both campaign at once, each gets 2 of 4 votes.
    c.cut("s1", "s2")
    c.cut("s1", "s4")
    c.cut("s2", "s3")
    c.core("s1").campaign()
    c.core("s2").campaign()
    c.stabilize()
    assert c.leaders() == []
    assert c.core("s1").role is Role.CANDIDATE and c.core("s2").role is Role.CANDIDATE
    split_term = c.core("s1").term
    c.recover()
    leader = c.wait_leader()
    assert c.core(leader).term > split_term


def test_isolated_leader_steps_down_and_majority_elects_another() -> None:
    c = SimCluster(3, seed=4)
    old = c.wait_leader()
    c.isolate(old)
    new = None
    for _ in range(200):
        c.tick()
        c.stabilize()
        others = [s for s in c.leaders() if s != old]
        if others and c.core(old).role is not Role.LEADER:
            new = others[0]
            break
    assert new is not None, "majority did not elect a new leader / old one did not step down"
    assert c.core(new).term > c.core(old).term or c.core(old).role is Role.FOLLOWER
    with pytest.raises(NotLeader):
        c.propose(old, b"lost")


def test_divergent_log_of_deposed_leader_is_repaired() -> None:
    c = SimCluster(3, seed=5, check_quorum=False)
    old = c.wait_leader()
    c.propose(old, b"committed")
    c.stabilize()
    c.isolate(old)
    for i in range(30):  # never committed: only the isolated old leader has these
        c.propose(old, b"stale%d" % i)
    c.stabilize()
    rest = [s for s in c.servers if s != old]
    c.core(rest[0]).campaign()
    c.stabilize()
    new = rest[0]
    assert c.core(new).role is Role.LEADER
    for i in range(10):
        c.propose(new, b"new%d" % i)
    c.stabilize()
    c.recover()
    c.run(5)
    want = [b"committed"] + [b"new%d" % i for i in range(10)]
    for sid in c.servers:
        assert c.applied_data(sid) == want, sid
    assert c.core(old).role is Role.FOLLOWER
    old_log = [(e.term, e.data) for e in c.core(old).log.entries]
    new_log = [(e.term, e.data) for e in c.core(new).log.entries]
    assert old_log == new_log


def test_returning_partitioned_server_does_not_depose_leader_with_prevote() -> None:
    c = SimCluster(3, seed=6)
    leader = c.wait_leader()
    term = c.core(leader).term
    lone = next(s for s in c.servers if s != leader)
    c.isolate(lone)
    c.run(100)  # many election timeouts for the lone server
    assert c.core(lone).term == term, "pre-vote must not raise the term of a partitioned server"
    c.recover()
    c.run(30)
    assert c.leader() == leader
    assert c.core(leader).term == term


def test_without_prevote_a_returning_server_disrupts_the_leader() -> None:
    # The contrast that shows what pre-vote buys: same schedule, pre-vote off.
    c = SimCluster(3, seed=6, pre_vote=False, check_quorum=False)
    leader = c.wait_leader()
    term = c.core(leader).term
    lone = next(s for s in c.servers if s != leader)
    c.isolate(lone)
    c.run(100)
    assert c.core(lone).term > term
    c.recover()
    c.run(30)
    assert c.core(c.wait_leader()).term > term


def test_lagging_follower_is_caught_up_by_snapshot() -> None:
    c = SimCluster(3, seed=7, snapshot_every=10, trailing=0)
    leader = c.wait_leader()
    lag = next(s for s in c.servers if s != leader)
    c.crash(lag)
    for i in range(55):
        c.propose(leader, b"v%d" % i)
        c.stabilize()
    assert c.core(leader).log.base.index > 2, "leader should have compacted its log"
    sent_snapshots = []
    orig = c.deliver

    def spy() -> bool:
        sent_snapshots.extend(m for m in c.queue if type(m).__name__ == "InstallSnapshot")
        return orig()

    c.deliver = spy  # type: ignore[method-assign]
    c.restart(lag)
    c.run(5)
    assert sent_snapshots, "a follower behind the compacted log needs a snapshot"
    want = [b"v%d" % i for i in range(55)]
    assert c.applied_data(lag) == want
    assert c.core(lag).log.committed == c.core(leader).log.committed


def test_restart_keeps_term_vote_and_log() -> None:
    c = SimCluster(3, seed=8)
    leader = c.wait_leader()
    for i in range(5):
        c.propose(leader, b"p%d" % i)
    c.stabilize()
    c.run(2)
    for sid in list(c.servers):
        c.crash(sid)
    before = {s: (c.servers[s].durable.term, len(c.servers[s].durable.entries)) for s in c.servers}
    for sid in list(c.servers):
        c.restart(sid)
        assert (c.core(sid).term, c.core(sid).log.last_index) == before[sid]
    leader = c.wait_leader()
    c.propose(leader, b"after")
    c.stabilize()
    c.run(2)
    for sid in c.servers:
        assert c.applied_data(sid) == [b"p%d" % i for i in range(5)] + [b"after"]


def test_add_then_remove_voter() -> None:
    c = SimCluster(3, seed=9)
    leader = c.wait_leader()
    for i in range(5):
        c.propose(leader, b"a%d" % i)
    c.stabilize()
    c.add_server("s4")
    voters = dict(c.core(leader).voters)
    voters["s4"] = "10.0.0.4:8300"
    c.core(leader).propose_config(voters)
    with pytest.raises(ConfigChangeInProgress):
        c.core(leader).propose_config({**voters, "s5": "10.0.0.5:8300"})
    c.stabilize()
    c.run(3)
    assert set(c.core("s4").voters) == {"s1", "s2", "s3", "s4"}
    assert c.applied_data("s4") == [b"a%d" % i for i in range(5)]
    # Now remove a follower; quorum of the remaining three keeps committing without it.
    gone = next(s for s in ["s1", "s2", "s3"] if s != leader)
    voters.pop(gone)
    c.core(leader).propose_config(voters)
    c.stabilize()
    c.crash(gone)
    c.propose(leader, b"after-remove")
    c.stabilize()
    c.run(3)
    for sid in voters:
        assert c.applied_data(sid)[-1] == b"after-remove"
    assert gone not in c.core(leader).prs


def test_leader_removing_itself_steps_down_and_others_elect() -> None:
    c = SimCluster(3, seed=10)
    leader = c.wait_leader()
    voters = dict(c.core(leader).voters)
    voters.pop(leader)
    c.core(leader).propose_config(voters)
    c.stabilize()
    c.run(3)
    assert c.core(leader).role is Role.FOLLOWER
    new = c.wait_leader()
    assert new != leader
    c.propose(new, b"x")
    c.stabilize()
    c.run(2)
    assert c.applied_data(new)[-1] == b"x"
    c.run(100)
    assert c.core(leader).role is Role.FOLLOWER, "a removed server must not campaign"


def test_new_server_waits_for_configuration_instead_of_campaigning() -> None:
    c = SimCluster(1, bootstrap=False)
    c.run(100)
    assert c.leaders() == []
    assert c.core("s1").term == 0


def test_consistent_read_needs_a_quorum() -> None:
    c = SimCluster(3, seed=11)
    leader = c.wait_leader()
    c.propose(leader, b"w")
    c.stabilize()
    c.core(leader).read_index(b"r1")
    c.stabilize()
    assert c.servers[leader].read_results[b"r1"] == c.core(leader).log.committed
    follower = next(s for s in c.servers if s != leader)
    c.core(follower).read_index(b"r2")
    c.stabilize()
    assert c.servers[follower].read_results[b"r2"] == c.core(leader).log.committed
    # An isolated leader never confirms a read; it fails it when it steps down.
    c.isolate(leader)
    c.core(leader).read_index(b"r3")
    c.stabilize()
    assert b"r3" not in c.servers[leader].read_results
    c.run(40)
    assert c.servers[leader].read_results[b"r3"] == -1


def test_lease_read_answers_without_a_round_trip() -> None:
    c = SimCluster(3, seed=12)
    leader = c.wait_leader()
    c.core(leader).read_index(b"lease", lease=True)
    rd = c.core(leader).ready()
    assert [(r.ctx, r.index) for r in rd.read_states] == [(b"lease", c.core(leader).log.committed)]


def test_entries_kept_on_restart_with_config_in_log() -> None:
    # A server restarted from a log that holds its configuration can elect itself.
    import random

    from pyconsul.raft.core import RaftConfig, RaftCore

    ents = [Entry(1, 1, CONFIG, encode_voters({"a": "x:1"})), Entry(2, 1, 0, b"cmd")]
    core = RaftCore(RaftConfig("a"), random.Random(1), term=1, entries=ents)
    for _ in range(30):
        core.tick()
    assert core.role is Role.LEADER
    rd = core.ready()
    assert [e.data for e in rd.committed if e.kind == 0] == [b"cmd"]
    assert core.log.snapshot is None
    snap = core.compact(2, b"state")
    assert snap == Snapshot(2, 1, {"a": "x:1"}, b"state")


def test_figure8_old_term_entry_on_a_majority_is_not_committed_by_counting() -> None:
    """The Raft paper's figure 8: a leader must not commit an entry of an earlier term just
    because a majority holds it; otherwise a later leader can overwrite a committed entry."""
    c = SimCluster(5, seed=13, pre_vote=False, check_quorum=False, max_msg_bytes=1)
    c.elect("s1")
    c.run(1)
    # s1 (term 2) gets X to s2 only.
    for p in ("s3", "s4", "s5"):
        c.cut("s1", p)
    c.propose("s1", b"X")
    c.stabilize()
    assert c.core("s2").log.last_index == 3
    # s1 dies; s5 wins term 3 with s3 and s4, but its own entry never leaves it.
    c.crash("s1")
    c.recover()
    c.cut("s5", "s2")
    c.core("s5").campaign(force=True)
    for _ in range(20):  # deliver votes, not s5's appends
        c.process()
        c.queue = [m for m in c.queue if type(m).__name__ != "AppendEntries"]
        c.deliver()
    assert c.core("s5").role is Role.LEADER and c.core("s5").log.last_term == 3
    c.queue = []
    c.crash("s5")
    # s1 comes back and wins term 4 with s2, s3 (and s4); it spreads X (term 2) to s3, one entry
    # per message, but its own term-4 entry reaches only s2 before it dies.
    c.recover()
    c.restart("s1")
    c.cut("s1", "s4")

    def pump() -> None:
        for _ in range(50):
            c.process()
            # Let s1's own-term entries reach s2 only; s3 gets just the old entry X.
            for m in c.queue:
                if m.dst == "s3" and isinstance(m, AppendEntries):
                    m.entries = list(itertools.takewhile(lambda e: e.term != c.core("s1").term, m.entries))
            if not c.deliver():
                break

    c.core("s1").campaign(force=True)
    pump()
    if c.core("s1").role is not Role.LEADER:
        c.core("s1").campaign(force=True)
        pump()
    assert c.core("s1").role is Role.LEADER and c.core("s1").term >= 4
    assert c.core("s3").log.term(3) == 2, "s3 should hold X now: X is on a majority (s1, s2, s3)"
    assert c.core("s3").log.last_index == 3
    assert c.core("s1").log.committed < 3, "X is on a majority but from an old term: not committed"
    applied_x = [s for s in c.servers if b"X" in c.applied_data(s)]
    c.crash("s1")
    # s5 returns and can win (its last term 3 beats X's 2 on s3 and s4): it overwrites X.
    c.recover()
    c.restart("s5")
    c.cut("s5", "s2")
    for _ in range(3):  # its first tries may hit terms where s3/s4 already voted
        c.core("s5").campaign(force=True)
        c.stabilize()
        if c.core("s5").role is Role.LEADER:
            break
    assert c.core("s5").role is Role.LEADER
    c.run(3)
    assert c.core("s3").log.term(3) == 3
    assert applied_x == [], "an entry that a later leader overwrote must never have been applied"


def test_leadership_transfer_hands_over_without_an_election_timeout() -> None:
    c = SimCluster(3, seed=14)
    old = c.wait_leader()
    target = next(s for s in c.servers if s != old)
    # The target lags: it must be brought up to date before it is told to campaign.
    c.isolate(target)
    for i in range(5):
        c.propose(old, b"t%d" % i)
    c.stabilize()
    c.recover()
    term = c.core(old).term
    c.core(old).transfer_leadership(target)
    with pytest.raises(NotLeader):
        c.propose(old, b"refused while handing over")
    c.stabilize()  # no ticks: only messages
    assert c.core(target).role is Role.LEADER
    assert c.core(target).term == term + 1
    assert c.core(old).role is Role.FOLLOWER
    c.run(2)
    assert c.applied_data(target) == [b"t%d" % i for i in range(5)]


def test_leadership_transfer_gives_up_when_target_is_unreachable() -> None:
    c = SimCluster(3, seed=15)
    old = c.wait_leader()
    target = next(s for s in c.servers if s != old)
    c.cut(old, target)
    c.core(old).transfer_leadership(target)
    c.run(15)
    assert c.leader() == old
    c.propose(old, b"still leading")
