"""Vivaldi network coordinates (Dabek et al., with the height vector and the adjustment term of
Consul's serf/coordinate), pure: no clock, no sockets; RTT samples come in, a coordinate comes out.

A coordinate is Consul's JSON: {"Vec": [8 floats], "Error", "Adjustment", "Height"}; all in
seconds. `distance(a, b)` is the estimated RTT: the Euclidean distance of the vectors plus both
heights, plus both adjustments when that stays positive.

`VivaldiClient.update(node, other_coord, rtt)` is one observation: the sample passes a per-peer
median filter (last 3), the coordinate moves along the spring force weighted by the relative
errors, gravity pulls it slowly back to the origin so the system does not drift, and the
adjustment term is the mean error of the last 20 samples. A sample that is not finite, or an RTT
that is not positive or over 10 s, is refused (ValueError) and changes nothing.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any

Coord = dict[str, Any]

DIMENSIONALITY = 8
ERROR_MAX = 1.5
CE = 0.25  # how far a sample moves the error estimate
CC = 0.25  # how far a sample moves the coordinate
ADJUSTMENT_WINDOW = 20
HEIGHT_MIN = 10.0e-6
LATENCY_FILTER = 3
GRAVITY_RHO = 150.0
MAX_RTT = 10.0
ZERO_THRESHOLD = 1.0e-6


def origin() -> Coord:
    return {"Vec": [0.0] * DIMENSIONALITY, "Error": ERROR_MAX, "Adjustment": 0.0, "Height": HEIGHT_MIN}


def valid(c: Any) -> bool:
    if not isinstance(c, dict):
        return False
    vec = c.get("Vec")
    if not isinstance(vec, list) or len(vec) != DIMENSIONALITY:
        return False
    nums = [*vec, c.get("Error"), c.get("Adjustment"), c.get("Height")]
    return all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in nums)


def _raw_distance(a: Coord, b: Coord) -> float:
    d = math.sqrt(sum((x - y) ** 2 for x, y in zip(a["Vec"], b["Vec"], strict=True)))
    return d + a["Height"] + b["Height"]


def distance(a: Coord, b: Coord) -> float:
    """Estimated RTT in seconds between two coordinates."""
    dist = _raw_distance(a, b)
    adjusted = dist + a["Adjustment"] + b["Adjustment"]
    return adjusted if adjusted > 0.0 else dist


def _unit_vector_at(a: list[float], b: list[float], rng: random.Random) -> tuple[list[float], float]:
    diff = [x - y for x, y in zip(a, b, strict=True)]
    mag = math.sqrt(sum(x * x for x in diff))
    if mag > ZERO_THRESHOLD:
        return [x / mag for x in diff], mag
    # Two coordinates on top of each other: push apart in a random direction.
    rand = [rng.random() - 0.5 for _ in a]
    rmag = math.sqrt(sum(x * x for x in rand))
    if rmag > ZERO_THRESHOLD:
        return [x / rmag for x in rand], 0.0
    return [0.0] * len(a), 0.0


def _apply_force(c: Coord, force: float, other: Coord, rng: random.Random) -> Coord:
    unit, mag = _unit_vector_at(c["Vec"], other["Vec"], rng)
    vec = [x + u * force for x, u in zip(c["Vec"], unit, strict=True)]
    height = c["Height"]
    if mag > ZERO_THRESHOLD:
        height = max((height + other["Height"]) * force / mag + height, HEIGHT_MIN)
    return {"Vec": vec, "Error": c["Error"], "Adjustment": c["Adjustment"], "Height": height}


@dataclass
class VivaldiClient:
    """One node's coordinate and the state its updates need. `rng` only breaks ties between
    coincident coordinates; tests pass a seeded one."""

    rng: random.Random = field(default_factory=random.Random)
    coord: Coord = field(default_factory=origin)
    _origin: Coord = field(default_factory=origin)
    _adjust: deque[float] = field(default_factory=lambda: deque(maxlen=ADJUSTMENT_WINDOW))
    _latency: dict[str, deque[float]] = field(default_factory=dict)
    samples: int = 0

    def forget(self, node: str) -> None:
        self._latency.pop(node, None)

    def _filtered(self, node: str, rtt: float) -> float:
        window = self._latency.setdefault(node, deque(maxlen=LATENCY_FILTER))
        window.append(rtt)
        ordered = sorted(window)
        return ordered[len(ordered) // 2]

    def update(self, node: str, other: Coord, rtt: float) -> Coord:
        if not valid(other):
            raise ValueError("invalid remote coordinate")
        if not (math.isfinite(rtt) and 0.0 < rtt <= MAX_RTT):
            raise ValueError(f"round trip time not in a valid range: {rtt!r}")
        rtt = self._filtered(node, rtt)
        c = self.coord
        dist = _raw_distance(c, other)
        total_error = max(c["Error"] + other["Error"], ZERO_THRESHOLD)
        weight = c["Error"] / total_error
        err_calc = abs(dist - rtt) / rtt
        error = min(err_calc * CE * weight + c["Error"] * (1.0 - CE * weight), ERROR_MAX)
        force = CC * weight * (rtt - dist)
        moved = _apply_force({**c, "Error": error}, force, other, self.rng)
        # Adjustment: half the mean error of recent samples (so distance() absorbs a bias).
        self._adjust.append(rtt - distance({**moved, "Adjustment": 0.0}, {**other, "Adjustment": 0.0}))
        moved["Adjustment"] = sum(self._adjust) / (2.0 * ADJUSTMENT_WINDOW)
        # Gravity toward the origin keeps the whole system from drifting.
        g = _raw_distance(moved, self._origin) / GRAVITY_RHO
        moved = _apply_force(moved, -(g * g), self._origin, self.rng)
        self.coord = moved
        self.samples += 1
        return moved
