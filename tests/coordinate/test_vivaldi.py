"""The Vivaldi core on simulated networks: estimates converge to the true RTTs, bad samples
change nothing, distances are symmetric and non-negative, and the updater only learns from
members whose coordinate it knows."""

from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from pyconsul.coordinate.updater import CoordinateUpdater
from pyconsul.coordinate.vivaldi import ERROR_MAX, VivaldiClient, distance, origin, valid

finite = st.floats(min_value=-10.0, max_value=10.0, allow_nan=False)
coords = st.builds(
    lambda vec, err, adj, h: {"Vec": vec, "Error": err, "Adjustment": adj, "Height": h},
    st.lists(finite, min_size=8, max_size=8),
    st.floats(min_value=0.0, max_value=1.5), st.floats(min_value=-1.0, max_value=1.0),
    st.floats(min_value=1e-5, max_value=1.0),
)


@given(coords, coords)
def test_distance_is_symmetric_and_not_negative(a: dict, b: dict) -> None:
    assert math.isclose(distance(a, b), distance(b, a), rel_tol=1e-9, abs_tol=1e-12)
    assert distance(a, b) >= 0.0


def simulate(truth: dict[tuple[str, str], float], rounds: int, seed: int = 1) -> dict[str, VivaldiClient]:
    rng = random.Random(seed)
    names = sorted({n for pair in truth for n in pair})
    clients = {n: VivaldiClient(random.Random(seed + i)) for i, n in enumerate(names)}
    for _ in range(rounds):
        a, b = rng.sample(names, 2)
        rtt = truth.get((a, b)) or truth[(b, a)]
        clients[a].update(b, clients[b].coord, rtt * rng.uniform(0.95, 1.05))
    return clients


def test_estimates_converge_on_a_two_site_network() -> None:
    """Two sites 50 ms apart with 1 ms inside each: the model learns both scales."""
    sites = {"a1": 0, "a2": 0, "a3": 0, "b1": 1, "b2": 1, "b3": 1}
    truth = {(x, y): (0.001 if sites[x] == sites[y] else 0.050)
             for x in sites for y in sites if x < y}
    clients = simulate(truth, 6000)
    for (x, y), rtt in truth.items():
        est = distance(clients[x].coord, clients[y].coord)
        assert abs(est - rtt) <= max(0.25 * rtt, 0.002), (x, y, est, rtt)
    assert all(c.coord["Error"] < ERROR_MAX for c in clients.values())


@settings(max_examples=50)
@given(st.sampled_from([float("nan"), float("inf"), -0.001, 0.0, 11.0]))
def test_bad_rtt_samples_are_refused_and_change_nothing(rtt: float) -> None:
    c = VivaldiClient(random.Random(0))
    before = dict(c.coord)
    try:
        c.update("peer", origin(), rtt)
    except ValueError:
        pass
    else:
        raise AssertionError("accepted")
    assert c.coord == before and c.samples == 0


def test_invalid_remote_coordinates_are_refused() -> None:
    c = VivaldiClient(random.Random(0))
    for bad in ({"Vec": [0.0] * 3, "Error": 1, "Adjustment": 0, "Height": 0},
                {**origin(), "Error": float("nan")}, None, {**origin(), "Vec": ["x"] * 8}):
        assert not valid(bad)
        try:
            c.update("peer", bad, 0.01)  # type: ignore[arg-type]
        except ValueError:
            continue
        raise AssertionError(bad)


def test_updater_learns_only_from_members_with_a_known_coordinate() -> None:
    up = CoordinateUpdater(random.Random(3))
    assert up.step([("ghost", 0.02)], {}) == origin()
    peer = {**origin(), "Vec": [0.01] + [0.0] * 7}
    moved = up.step([("p", 0.02), ("p", float("nan"))], {"p": peer})
    assert moved != origin() and up.rejected == 1 and up.client.samples == 1
