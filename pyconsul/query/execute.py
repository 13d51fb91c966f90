"""Running a (rendered) prepared query over a service's health entries (pure).

Rules (Consul's PreparedQuery.Execute in one datacenter):
- An instance with a critical check is left out (checks named in `IgnoreCheckIDs` do not count);
  with `OnlyPassing`, one with a warning check is too.
- `Tags` must all be present, compared without case; `!tag` must be absent.
- `NodeMeta` / `ServiceMeta` must all match exactly.
- The survivors are shuffled, then, when a distance is known (`Near`, or `?near=`), sorted by it
  with unknown distances last (a stable sort keeps the shuffle among equals); `limit` > 0 cuts.
- Failover to other datacenters is query/remote.py's: here `Failovers` is 0.
"""

from __future__ import annotations

import random
from typing import Any

from pyconsul.coordinate.sorting import Distance, sort_by_distance

Row = dict[str, Any]


def passes_health(entry: Row, only_passing: bool, ignore: frozenset[str]) -> bool:
    for chk in entry.get("Checks") or ():
        if chk.get("CheckID") in ignore:
            continue
        status = chk.get("Status")
        if status == "critical" or (only_passing and status == "warning"):
            return False
    return True


def matches_tags(service_tags: list[str] | None, wanted: list[str] | None) -> bool:
    have = {t.lower() for t in service_tags or ()}
    for tag in wanted or ():
        low = tag.lower()
        if low.startswith("!"):
            if low[1:] in have:
                return False
        elif low not in have:
            return False
    return True


def _meta_ok(meta: dict[str, str] | None, want: dict[str, str] | None) -> bool:
    meta = meta or {}
    return all(meta.get(k) == v for k, v in (want or {}).items())


def select(service_query: Row, entries: list[Row]) -> list[Row]:
    ignore = frozenset(service_query.get("IgnoreCheckIDs") or ())
    only_passing = bool(service_query.get("OnlyPassing"))
    tags = service_query.get("Tags")
    node_meta = service_query.get("NodeMeta")
    svc_meta = service_query.get("ServiceMeta")
    return [
        e for e in entries
        if passes_health(e, only_passing, ignore)
        and matches_tags(e["Service"].get("Tags"), tags)
        and _meta_ok(e["Node"].get("Meta"), node_meta)
        and _meta_ok(e["Service"].get("Meta"), svc_meta)
    ]


def order(entries: list[Row], rng: random.Random, distance: Distance | None) -> list[Row]:
    out = list(entries)
    rng.shuffle(out)
    if distance is not None:
        out = sort_by_distance(out, distance, lambda e: str(e["Node"]["Node"]))
    return out


def run(
    query: Row, entries: list[Row], datacenter: str, rng: random.Random,
    distance: Distance | None = None, limit: int = 0,
) -> Row:
    """The execute answer: {Service, Nodes, DNS, Datacenter, Failovers}."""
    svc = query["Service"]
    nodes = order(select(svc, entries), rng, distance)
    if limit > 0:
        nodes = nodes[:limit]
    return {
        "Service": svc["Service"],
        "Nodes": nodes,
        "DNS": dict(query.get("DNS") or {"TTL": ""}),
        "Datacenter": datacenter,
        "Failovers": 0,
    }
