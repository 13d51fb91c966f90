"""A coordinate as one short text, for a gossip tag (pure).

WAN servers publish their WAN coordinate in their WAN pool tags (`wan_coord`), where the other
datacenters' servers read it: Serf carries it on its probe acks; a tag reaches every member the
same way without a new message kind. Eleven numbers, 6 significant digits each, comma-separated
(Vec×8, Error, Adjustment, Height): about 100 bytes, within memberlist's 512-byte meta budget.
"""

from __future__ import annotations

import math

from pyconsul.coordinate.vivaldi import DIMENSIONALITY, Coord, valid

TAG = "wan_coord"


def encode(c: Coord) -> str:
    return ",".join(f"{x:.6g}" for x in (*c["Vec"], c["Error"], c["Adjustment"], c["Height"]))


def decode(text: str | None) -> Coord | None:
    """The coordinate, or None for a missing or malformed text (a member may run another build)."""
    if not text:
        return None
    try:
        nums = [float(x) for x in text.split(",")]
    except ValueError:
        return None
    if len(nums) != DIMENSIONALITY + 3 or not all(math.isfinite(x) for x in nums):
        return None
    c = {"Vec": nums[:DIMENSIONALITY], "Error": nums[DIMENSIONALITY], "Adjustment": nums[DIMENSIONALITY + 1],
         "Height": nums[DIMENSIONALITY + 2]}
    return c if valid(c) else None
