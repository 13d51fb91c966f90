"""Which datacenters a prepared query fails over to (pure; Consul's queryFailover order)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pyconsul.query.failover import failover_datacenters, wants_failover

NEAREST = ["dc1", "dc3", "dc2", "dc4"]  # local first, then by RTT


def test_nearest_n_first_then_the_listed_ones_not_yet_chosen() -> None:
    f = {"NearestN": 2, "Datacenters": ["dc4", "dc3", "dc9"]}
    assert failover_datacenters(f, NEAREST, "dc1") == ["dc3", "dc2", "dc4"]


def test_listed_only_in_the_order_written_unknown_and_local_skipped() -> None:
    f = {"NearestN": 0, "Datacenters": ["dc9", "dc4", "dc1", "dc2"]}
    assert failover_datacenters(f, NEAREST, "dc1") == ["dc4", "dc2"]


def test_targets_replace_datacenters_and_peers_are_skipped() -> None:
    f = {"NearestN": 1, "Datacenters": ["dc4"], "Targets": [{"Peer": "p1"}, {"Datacenter": "dc2"}]}
    assert failover_datacenters(f, NEAREST, "dc1") == ["dc3", "dc2"]


def test_nothing_configured_means_no_failover() -> None:
    assert failover_datacenters(None, NEAREST, "dc1") == []
    assert not wants_failover({"NearestN": 0, "Datacenters": None, "Targets": None})
    assert wants_failover({"NearestN": 0, "Datacenters": ["dc2"], "Targets": None})


dcs = st.lists(st.sampled_from(["dc1", "dc2", "dc3", "dc4", "dc5", "dc9"]), max_size=8)


@settings(deadline=None)  # a loaded machine is slow; the examples are derandomized
@given(st.integers(0, 6), dcs, st.permutations(["dc1", "dc2", "dc3", "dc4", "dc5"]))
def test_each_known_other_datacenter_at_most_once(n: int, listed: list[str], nearest: list[str]) -> None:
    out = failover_datacenters({"NearestN": n, "Datacenters": listed}, nearest, "dc1")
    assert len(out) == len(set(out))
    assert "dc1" not in out and set(out) <= set(nearest)
    others = [dc for dc in nearest if dc != "dc1"]
    assert out[: min(n, len(others))] == others[:n]
    assert set(out) == set(others[:n]) | (set(listed) & set(others))
