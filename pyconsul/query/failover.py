"""Which datacenters a prepared query fails over to, and in what order (pure).

Consul's rules (PreparedQuery.Execute's failover), given the other datacenters nearest first:
- The `NearestN` nearest other datacenters come first, then every listed datacenter not already
  chosen, in the order written: `Targets` (Consul 1.14+) when present, else `Datacenters`.
  A `Peer` target needs cluster peering, which has no path here, so it is skipped.
- A datacenter the router does not know is skipped (Consul logs it and moves on), as is the
  local one: it was just tried.
- `Failovers` in the answer counts the datacenters tried, whether they answered or not; the
  first one with any node ends the search.
"""

from __future__ import annotations

from typing import Any

Row = dict[str, Any]


def failover_datacenters(failover: Row | None, nearest: list[str], local_dc: str) -> list[str]:
    """The datacenters to try, in order. `nearest`: the known datacenters sorted by estimated
    RTT (the local one may be among them; it is never returned)."""
    failover = failover or {}
    known = [dc for dc in nearest if dc != local_dc]
    n = int(failover.get("NearestN") or 0)
    wanted = known[:n] if n > 0 else []
    targets = failover.get("Targets")
    if targets:
        wanted += [t.get("Datacenter") or "" for t in targets if not t.get("Peer")]
    else:
        wanted += list(failover.get("Datacenters") or ())
    out: list[str] = []
    for dc in wanted:
        if dc and dc in known and dc not in out:
            out.append(dc)
    return out


def wants_failover(failover: Row | None) -> bool:
    """True when the query names any way to fail over."""
    f = failover or {}
    return bool(f.get("NearestN") or f.get("Datacenters") or f.get("Targets"))
