"""Scenarios for the pure gossip protocol on the simulated network."""

from __future__ import annotations

from dataclasses import replace

from pyconsul.gossip.config import GossipConfig, suspicion_timeout
from pyconsul.gossip.core import EVENT_FAILED, EVENT_JOIN, EVENT_LEAVE, EVENT_REAP, EVENT_UPDATE
from pyconsul.gossip.messages import Suspect
from pyconsul.gossip.state import NodeStatus
from tests.gossip.sim import SimNetwork


def cluster(n: int, seed: int = 7, loss: float = 0.0, config: GossipConfig | None = None) -> SimNetwork:
    net = SimNetwork(seed, loss, config)
    for i in range(n):
        net.add(f"n{i}", tags={"role": "node"})
    for i in range(1, n):
        net.join(f"n{i}", "n0")
    assert net.run_until(lambda: converged(net, n), 90), net.views()
    return net


def converged(net: SimNetwork, size: int, expect: dict[str, str] | None = None) -> bool:
    views = list(net.views().values())
    return all(v == views[0] for v in views) and len(views[0]) == size and (
        expect is None or all(views[0].get(k) == s for k, s in expect.items())
    )


def test_join_makes_both_sides_see_each_other_alive_with_tags() -> None:
    net = SimNetwork(1)
    net.add("a", tags={"role": "consul"})
    net.add("b", tags={"role": "node"})
    net.join("b", "a")
    net.run_for(0.1)
    assert net.core("a").get("b").tags == {"role": "node"}
    assert net.core("b").get("a").tags == {"role": "consul"}
    assert [e.node.name for e in net.events("a") if e.kind == EVENT_JOIN] == ["b"]


def test_killed_member_is_declared_failed_everywhere_within_the_suspicion_bound() -> None:
    net = cluster(5)
    net.kill("n3")
    start = net.clock.monotonic()
    assert net.run_until(lambda: all(v["n3"] == "failed" for v in net.views().values()), 60)
    took = net.clock.monotonic() - start
    cfg = net.config
    bound = 5 * cfg.probe_interval + cfg.suspicion_max_timeout_mult * suspicion_timeout(
        cfg.suspicion_mult, 5, cfg.probe_interval)
    assert took <= bound, took
    assert any(e.kind == EVENT_FAILED and e.node.name == "n3" for e in net.events("n0"))


def test_a_false_suspicion_is_refuted_with_a_higher_incarnation() -> None:
    net = cluster(4)
    victim = net.core("n2")
    before = victim.local.incarnation
    net.core("n0").handle_packet(net.addr_of("n1"), [Suspect(before, "n2", "n1")])
    assert net.status("n0", "n2") == NodeStatus.SUSPECT
    net._flush(net.addr_of("n0"))
    assert net.run_until(lambda: all(c.get("n2").incarnation > before and c.get("n2").status == NodeStatus.ALIVE
                                     for c in net.live()), 10)
    net.run_for(30)
    assert not any(e.kind == EVENT_FAILED for n in ("n0", "n1", "n3") for e in net.events(n))


def test_graceful_leave_shows_left_not_failed() -> None:
    net = cluster(4)
    net.core("n1").leave()
    net._flush(net.addr_of("n1"))
    assert net.run_until(lambda: net.core("n1").pending_broadcasts() == 0, 5)
    net.kill("n1")
    assert net.run_until(lambda: all(net.status(o, "n1") == NodeStatus.LEFT for o in ("n0", "n2", "n3")), 10)
    net.run_for(30)
    assert all(net.status(o, "n1") == NodeStatus.LEFT for o in ("n0", "n2", "n3"))
    assert any(e.kind == EVENT_LEAVE for e in net.events("n0"))
    assert not any(e.kind == EVENT_FAILED for e in net.events("n0"))


def test_force_leave_turns_a_failed_member_into_left_everywhere() -> None:
    net = cluster(4)
    net.kill("n3")
    assert net.run_until(lambda: all(v["n3"] == "failed" for v in net.views().values()), 60)
    assert not net.core("n0").force_leave("nobody") and not net.core("n0").force_leave("n0")
    assert net.core("n0").force_leave("n3")
    net._flush(net.addr_of("n0"))
    assert net.run_until(lambda: all(v["n3"] == "left" for v in net.views().values()), 10)
    # -prune: forgotten everywhere, and push/pull does not bring it back
    assert net.core("n1").force_leave("n3", prune=True)
    net._flush(net.addr_of("n1"))
    assert net.run_until(lambda: all("n3" not in v for v in net.views().values()), 10)
    net.run_for(2 * net.config.push_pull_interval)
    assert all("n3" not in v for v in net.views().values())


def test_force_leave_of_a_live_member_is_refuted_and_it_stays_in() -> None:
    net = cluster(4)
    assert net.core("n0").force_leave("n2")
    net._flush(net.addr_of("n0"))
    assert net.run_until(lambda: net.core("n2").local.incarnation > 0, 5)
    assert net.run_until(lambda: converged(net, 4, {"n2": "alive"}), 30), net.views()


def test_failed_member_is_reaped_after_reconnect_timeout() -> None:
    cfg = replace(GossipConfig(), reconnect_timeout=120.0, reap_interval=5.0)
    net = cluster(3, config=cfg)
    net.kill("n2")
    assert net.run_until(lambda: net.status("n0", "n2") == NodeStatus.DEAD, 60)
    failed_at = net.clock.monotonic()
    assert net.run_until(lambda: net.core("n0").get("n2") is None, 200)
    assert net.clock.monotonic() - failed_at >= 120.0 - 20  # status_since precedes the observation
    assert [e.node.name for e in net.events("n0") if e.kind == EVENT_REAP] == ["n2"]


def test_restarted_member_comes_back_alive_by_refuting_its_death() -> None:
    net = cluster(4)
    net.kill("n3")
    assert net.run_until(lambda: all(v["n3"] == "failed" for v in net.views().values()), 60)
    old_inc = net.core("n0").get("n3").incarnation
    net.add("n3", tags={"role": "node"}, host=net.addr_of("n3")[0])
    net.join("n3", "n1")
    assert net.run_until(lambda: converged(net, 4, {"n3": "alive"}), 30), net.views()
    assert net.core("n0").get("n3").incarnation > old_inc


def test_failed_member_that_reappears_is_reconnected_without_rejoining() -> None:
    net = cluster(3)
    addr = net.addr_of("n2")
    net.down.add(addr)
    assert net.run_until(lambda: net.status("n0", "n2") == NodeStatus.DEAD, 60)
    net.down.discard(addr)  # network heals; the member never ran join again
    assert net.run_until(lambda: converged(net, 3, {"n2": "alive"}), 120), net.views()


def test_tag_change_spreads_as_an_update() -> None:
    net = cluster(4)
    net.core("n2").set_tags({"role": "node", "build": "1.17.0"})
    net._flush(net.addr_of("n2"))
    assert net.run_until(lambda: all(c.get("n2").tags.get("build") == "1.17.0" for c in net.live()), 10)
    assert any(e.kind == EVENT_UPDATE and e.node.name == "n2" for e in net.events("n0"))


def test_packets_stay_within_the_udp_budget_in_a_large_cluster() -> None:
    net = cluster(20, loss=0.0)
    for i in range(20):
        net.core(f"n{i}").set_tags({"k": "v" * 100})
        net._flush(net.addr_of(f"n{i}"))
    assert net.run_until(lambda: all(len(c.get("n7").tags.get("k", "")) == 100 for c in net.live()), 60)
    assert 1000 < net.max_udp_bytes <= net.config.udp_buffer_size


def test_gossip_lan_settings_are_read_like_consul_and_bad_ones_rejected() -> None:
    import pytest

    cfg = GossipConfig.from_consul({"probe_interval": "200ms", "suspicion_mult": 3, "gossip_interval": 0.05},
                                   reconnect_timeout=3600)
    assert (cfg.probe_interval, cfg.suspicion_mult, cfg.gossip_interval, cfg.reconnect_timeout) == (
        0.2, 3, 0.05, 3600.0)
    assert GossipConfig.from_consul([{"gossip_nodes": 5}]).gossip_nodes == 5  # an HCL block
    for bad, text in (({"probe_interval": "fast"}, "probe_interval"), ({"nope": 1}, "unknown key"),
                      ({"gossip_nodes": 0}, "must be positive"), ({"retransmit_mult": "x"}, "integer")):
        with pytest.raises(ValueError, match=text):
            GossipConfig.from_consul(bad)


def test_a_member_that_hears_nothing_doubts_itself_not_the_others() -> None:
    net = cluster(5)
    deaf = net.addr_of("n4")
    net.deaf.add(deaf)
    net.run_for(10)
    # Its probes fail without nacks from the helpers, so its own health score rises...
    assert net.core("n4").health_score > 0
    # ...while the others, whose helpers nack when n4 does not answer, stay confident.
    assert all(net.core(f"n{i}").health_score == 0 for i in range(4))
    assert all(net.status(f"n{i}", "n4") == NodeStatus.DEAD for i in range(4))
    net.deaf.discard(deaf)
    assert net.run_until(lambda: converged(net, 5, {"n4": "alive"}) and net.core("n4").health_score == 0, 60)


def test_an_update_reaches_64_members_in_a_few_gossip_rounds() -> None:
    import math

    from pyconsul.gossip.config import retransmit_limit

    net = cluster(64, seed=11)
    net.run_for(3)
    start = net.clock.monotonic()
    net.core("n9").set_tags({"role": "node", "v": "2"})
    net._flush(net.addr_of("n9"))
    assert net.run_until(lambda: all(c.get("n9").tags.get("v") == "2" for c in net.live()), 30)
    rounds = (net.clock.monotonic() - start) / net.config.gossip_interval
    assert rounds <= 2 * math.log2(64), rounds  # epidemic spread: O(log n) rounds
    # ...and each member repeats it only a bounded number of times (then it is dropped).
    assert retransmit_limit(net.config.retransmit_mult, 64) == 8
    assert net.run_until(lambda: all(c.pending_broadcasts() == 0 for c in net.live()), 10)


def test_direct_probe_acks_report_their_round_trip_time() -> None:
    """Network coordinates learn from probe RTTs: every acked direct probe yields one sample of
    about twice the simulated one-way latency, and take_rtts() hands each out once."""
    net = cluster(3)
    net.core("n0").take_rtts()
    net.run_for(10.0)
    samples = net.core("n0").take_rtts()
    assert samples and {name for name, _ in samples} <= {"n1", "n2"}
    assert all(0.001 <= rtt <= 0.0101 for _, rtt in samples)  # two hops of 0.5–5 ms
    assert net.core("n0").take_rtts() == []
