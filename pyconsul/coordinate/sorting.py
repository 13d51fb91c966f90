"""Ordering by estimated RTT from one node, over any reader of coordinates (pure).

With no coordinate for the source node there is no order to give (None: leave answers as they
are, Consul's rule); nodes without a coordinate of their own sort last.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from pyconsul.coordinate.vivaldi import Coord, distance

T = TypeVar("T")
Distance = Callable[[str], float | None]  # node name → estimated RTT in seconds, None: unknown


class CoordinateReader(Protocol):
    def get(self, name: str, segment: str = "") -> Coord | None: ...


def distance_from(coords: CoordinateReader, source: str) -> Distance | None:
    src = coords.get(source) if source else None
    if src is None:
        return None

    def rtt(node: str) -> float | None:
        other = coords.get(node)
        return None if other is None else distance(src, other)

    return rtt


def sort_by_distance(items: list[T], dist: Distance, node_of: Callable[[T], str]) -> list[T]:
    """A stable sort: items at equal (or unknown) distance keep their order."""
    keyed: list[tuple[float | None, Any]] = [(dist(node_of(i)), i) for i in items]
    keyed.sort(key=lambda pair: (pair[0] is None, pair[0] or 0.0))
    return [i for _, i in keyed]
