"""Properties of the gossip protocol on a simulated lossy network (hypothesis picks size, loss, seed)."""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pyconsul.gossip.config import suspicion_timeout
from pyconsul.gossip.messages import Suspect
from pyconsul.gossip.state import NodeStatus
from tests.gossip.sim import SimNetwork

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def all_agree(net: SimNetwork, expect: dict[str, str]) -> bool:
    return all(view == expect for view in net.views().values())


def start(n: int, seed: int, loss: float, join_targets: list[int]) -> SimNetwork:
    net = SimNetwork(seed, loss)
    for i in range(n):
        net.add(f"n{i}")
    for i in range(1, n):
        net.join(f"n{i}", f"n{join_targets[i - 1] % i}")  # join any member started earlier
    return net


@SETTINGS
@given(
    n=st.integers(2, 8),
    loss=st.floats(0.0, 0.25),
    seed=st.integers(0, 2**32),
    join_targets=st.lists(st.integers(0, 100), min_size=7, max_size=7),
    killed=st.sets(st.integers(1, 7), max_size=2),
)
def test_every_live_member_converges_on_the_same_member_list(
    n: int, loss: float, seed: int, join_targets: list[int], killed: set[int]
) -> None:
    net = start(n, seed, loss, join_targets)
    everyone = {f"n{i}": "alive" for i in range(n)}
    # push/pull every 30s repairs what lossy gossip missed, so two rounds bound convergence
    assert net.run_until(lambda: all_agree(net, everyone), 2 * net.config.push_pull_interval + 5), net.views()
    victims = {f"n{i}" for i in killed if i < n}
    for name in victims:
        net.kill(name)
    expect = {name: ("failed" if name in victims else "alive") for name in everyone}
    assert net.run_until(lambda: all_agree(net, expect), 120), net.views()


def _accuse(n: int, loss: float, seed: int, victim: int, accuser: int) -> tuple[SimNetwork, str, int]:
    """A converged network in which one member wrongly suspects a live one; returns the victim."""
    net = start(n, seed, loss, list(range(7)))
    everyone = {f"n{i}": "alive" for i in range(n)}
    assert net.run_until(lambda: all_agree(net, everyone), 70)
    v, a = f"n{victim % n}", f"n{(victim + 1 + accuser % (n - 1)) % n}"
    before = net.core(v).local.incarnation
    net.core(a).handle_packet(net.addr_of(v), [Suspect(before, v, "someone-else")])
    net._flush(net.addr_of(a))
    assert net.status(a, v) == NodeStatus.SUSPECT
    net.run_for(net.config.suspicion_max_timeout_mult * suspicion_timeout(
        net.config.suspicion_mult, n, net.config.probe_interval) + 2)
    return net, v, before


@SETTINGS
@given(n=st.integers(3, 8), seed=st.integers(0, 2**32), victim=st.integers(0, 7), accuser=st.integers(0, 7))
def test_a_false_suspicion_is_refuted_before_anyone_declares_it_failed(
    n: int, seed: int, victim: int, accuser: int
) -> None:
    # Without loss nobody ever declares the victim failed: it raised its incarnation to refute
    # and every member sees it alive.
    net, v, before = _accuse(n, 0.0, seed, victim, accuser)
    assert net.core(v).local.incarnation > before
    assert not any(e.kind == "member-failed" and e.node.name == v for c in net.live() for e in net.events(c.name))
    assert all(c.get(v).status == NodeStatus.ALIVE for c in net.live()), net.views()


@SETTINGS
@given(
    n=st.integers(3, 8),
    loss=st.floats(0.0, 0.2),
    seed=st.integers(0, 2**32),
    victim=st.integers(0, 7),
    accuser=st.integers(0, 7),
)
@example(n=7, loss=0.12109375, seed=44888, victim=5, accuser=2)  # the accuser declares it failed first
def test_a_false_suspicion_under_loss_is_refuted_and_the_victim_ends_alive(
    n: int, loss: float, seed: int, victim: int, accuser: int
) -> None:
    # Under loss the refutation can miss the accuser until its suspicion has already expired:
    # push/pull merges count as independent confirmations (as in memberlist), shortening the
    # timer to its minimum. SWIM bounds how long that lasts, not whether it happens, so the
    # property is that the victim refutes and every member ends up seeing it alive.
    net, v, before = _accuse(n, loss, seed, victim, accuser)
    assert net.core(v).local.incarnation > before
    everyone_alive = {f"n{i}": "alive" for i in range(n)}
    assert net.run_until(lambda: all_agree(net, everyone_alive), 2 * net.config.push_pull_interval + 5), net.views()


@SETTINGS
@given(
    n=st.integers(3, 8),
    loss=st.floats(0.0, 0.2),
    seed=st.integers(0, 2**32),
    victim=st.integers(0, 7),
)
def test_a_killed_member_is_declared_failed_within_the_bound(n: int, loss: float, seed: int, victim: int) -> None:
    net = start(n, seed, loss, list(range(7)))
    everyone = {f"n{i}": "alive" for i in range(n)}
    assert net.run_until(lambda: all_agree(net, everyone), 70)
    v = f"n{victim % n}"
    net.kill(v)
    cfg = net.config
    # Each member probes everyone within n intervals (round-robin), then waits at most the
    # unconfirmed suspicion timeout; gossip only makes it sooner.
    bound = n * cfg.probe_interval + cfg.suspicion_max_timeout_mult * suspicion_timeout(
        cfg.suspicion_mult, n, cfg.probe_interval) + cfg.probe_interval
    assert net.run_until(lambda: all(net.status(c.name, v) == NodeStatus.DEAD for c in net.live()), bound), (
        net.views())
