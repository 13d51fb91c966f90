"""Anti-entropy timing: how often an agent fully re-syncs with the catalog.

Consul scales the 60 s base interval with the cluster size so that large clusters do not flood
the servers: for more than 128 nodes the interval is multiplied by ceil(log2(n) - log2(128)) + 1.
A random stagger of up to a sixteenth spreads agents that started together.
"""

from __future__ import annotations

import math
import random

BASE_INTERVAL = 60.0
SCALE_THRESHOLD = 128


def scale_interval(base: float, nodes: int) -> float:
    if nodes <= SCALE_THRESHOLD:
        return base
    return base * (math.ceil(math.log2(nodes) - math.log2(SCALE_THRESHOLD)) + 1)


def next_sync_delay(nodes: int, rng: random.Random, base: float = BASE_INTERVAL) -> float:
    interval = scale_interval(base, nodes)
    return interval + rng.random() * interval / 16
