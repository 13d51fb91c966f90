"""Gossip timing knobs and the scaling rules memberlist applies to them.

Defaults are memberlist's LAN profile as Consul uses it; `gossip_lan` in the agent config
overrides them (Consul's keys: gossip_nodes, gossip_interval, probe_interval, probe_timeout,
retransmit_mult, suspicion_mult).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from pyconsul.durations import parse_duration as go_duration

# The keys Consul accepts under `gossip_lan`.
CONSUL_GOSSIP_KEYS = frozenset(
    {"gossip_nodes", "gossip_interval", "probe_interval", "probe_timeout", "retransmit_mult", "suspicion_mult"})


@dataclass(frozen=True)
class GossipConfig:
    probe_interval: float = 1.0
    probe_timeout: float = 0.5
    indirect_checks: int = 3
    suspicion_mult: int = 4
    suspicion_max_timeout_mult: int = 6
    # Lifeguard: a member that misses acks and nacks doubts itself and stretches its probe timing.
    awareness_max_multiplier: int = 8
    retransmit_mult: int = 4
    gossip_interval: float = 0.2
    gossip_nodes: int = 3
    # Dead members still receive gossip this long, so they learn they were declared dead.
    gossip_to_the_dead_time: float = 30.0
    push_pull_interval: float = 30.0
    # Serf-level housekeeping: retry failed members, forget old ones.
    reconnect_interval: float = 30.0
    reap_interval: float = 15.0
    reconnect_timeout: float = 72 * 3600.0
    tombstone_timeout: float = 24 * 3600.0
    # Byte budget for one UDP packet (piggybacked updates stop here).
    udp_buffer_size: int = 1400

    @classmethod
    def wan_profile(cls) -> GossipConfig:
        """memberlist's DefaultWANConfig, which Consul's WAN pool starts from: slower probes
        with longer timeouts and more patient suspicion, for links between datacenters."""
        return cls(probe_interval=5.0, probe_timeout=3.0, suspicion_mult=6, push_pull_interval=60.0,
                   gossip_nodes=4, gossip_interval=0.5, gossip_to_the_dead_time=60.0)

    @classmethod
    def from_consul(cls, gossip_lan: Any, reconnect_timeout: float | None = None,
                    base: GossipConfig | None = None, block: str = "gossip_lan") -> GossipConfig:
        """Build from Consul's `gossip_lan` (or, with `base` the WAN profile, `gossip_wan`)
        block; raises ValueError on a bad value."""
        cfg = base or cls()
        changes: dict[str, Any] = {}
        if isinstance(gossip_lan, list) and all(isinstance(b, dict) for b in gossip_lan):
            gossip_lan = {k: v for part in gossip_lan for k, v in part.items()}  # HCL block form
        if not isinstance(gossip_lan, dict | None):
            raise ValueError(f"{block}: expected an object")
        for key, value in (gossip_lan or {}).items():
            if key not in CONSUL_GOSSIP_KEYS:
                raise ValueError(f"{block}: unknown key {key!r} (valid: {', '.join(sorted(CONSUL_GOSSIP_KEYS))})")
            if key.endswith(("_interval", "_timeout")):
                try:
                    changes[key] = parse_duration(value)
                except ValueError as exc:
                    raise ValueError(f"{block}.{key}: {exc}") from None
            else:
                try:
                    changes[key] = int(value)
                except (TypeError, ValueError):
                    raise ValueError(f"{block}.{key}: expected an integer, got {value!r}") from None
            if changes[key] <= 0:
                raise ValueError(f"{block}.{key}: must be positive, got {value!r}")
        if reconnect_timeout is not None:
            changes["reconnect_timeout"] = float(reconnect_timeout)
            # Serf checks for reapable members every 15s; a shorter timeout gets a finer check
            # so it is honoured to within a fraction of itself.
            changes["reap_interval"] = min(cfg.reap_interval, max(0.1, float(reconnect_timeout) / 8))
        return replace(cfg, **changes)




def parse_duration(value: Any) -> float:
    """Seconds from a number (already seconds) or a Go duration string like "1m30s" / "200ms"."""
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return go_duration(value.strip())
        except ValueError:
            pass
    raise ValueError(f"invalid duration {value!r}")


def retransmit_limit(mult: int, n: int) -> int:
    """How many times an update is piggybacked: mult * ceil(log10(n + 1))."""
    return mult * max(1, math.ceil(math.log10(n + 1)))


def suspicion_timeout(mult: int, n: int, interval: float) -> float:
    """Minimum time a suspect has to refute: grows with log10 of the cluster size."""
    scale = max(1.0, math.log10(max(1, n)))
    return mult * scale * interval


def push_pull_scale(interval: float, n: int) -> float:
    """Past 32 members the full-state sync slows down so its total load stays flat."""
    threshold = 32
    if n <= threshold:
        return interval
    mult = math.ceil(math.log2(n) - math.log2(threshold)) + 1
    return interval * mult
