"""Watch types of `consul watch`: which endpoint each reads and how its result is shaped.

Pure: `plan_for(params)` validates parameters with Consul's messages and returns a WatchPlan
whose `path`/`params` name the blocking query and whose `shape` turns the API reply into the
value handed to the handler. `event_index` is Consul's event-ID → index mapping.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class WatchError(ValueError):
    pass


@dataclass
class WatchPlan:
    type: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    shape: Callable[[Any, int], Any] = lambda data, _last: data
    not_found_is_empty: bool = False


def _kv_pair(pair: dict[str, Any]) -> dict[str, Any]:
    """api.KVPair field order (what Consul's watch encodes), not the HTTP API's order."""
    out = {k: pair.get(k, d) for k, d in (("Key", ""), ("CreateIndex", 0), ("ModifyIndex", 0),
                                            ("LockIndex", 0), ("Flags", 0), ("Value", None),
                                            ("Session", ""))}
    for opt in ("Namespace", "Partition"):
        if pair.get(opt):
            out[opt] = pair[opt]
    return out


def event_index(event_id: str) -> int:
    """Consul's IDToIndex: XOR of the UUID's two 64-bit halves (the event list's index)."""
    hexed = event_id.replace("-", "")
    if len(hexed) != 32:
        return 0
    try:
        return int(hexed[:16], 16) ^ int(hexed[16:], 16)
    except ValueError:
        return 0


def new_events(events: list[dict[str, Any]] | None, last_index: int) -> list[dict[str, Any]]:
    """Only the events after the one the previous index named (all of them the first time)."""
    events = list(events or [])
    for i, ev in enumerate(events):
        if last_index and event_index(str(ev.get("ID", ""))) == last_index:
            return events[i + 1:]
    return events


def plan_for(p: dict[str, Any]) -> WatchPlan:
    kind = p.get("type", "")
    if kind == "key":
        key = p.get("key", "")
        if not key:
            raise WatchError("Must specify a single key to watch")
        return WatchPlan(kind, f"/v1/kv/{key}",
                         shape=lambda d, _l: _kv_pair(d[0]) if d else None, not_found_is_empty=True)
    if kind == "keyprefix":
        prefix = p.get("prefix", "")
        if not prefix:
            raise WatchError("Must specify a single prefix to watch")
        return WatchPlan(kind, f"/v1/kv/{prefix}", {"recurse": ""},
                         shape=lambda d, _l: [_kv_pair(x) for x in d] if d else None,
                         not_found_is_empty=True)
    if kind == "services":
        return WatchPlan(kind, "/v1/catalog/services",
                         shape=lambda d, _l: {k: (d or {})[k] for k in sorted(d or {})})
    if kind == "nodes":
        return WatchPlan(kind, "/v1/catalog/nodes")
    if kind == "service":
        service = p.get("service", "")
        if not service:
            raise WatchError("Must specify a single service to watch")
        params: dict[str, str] = {}
        if p.get("tag"):
            params["tag"] = p["tag"]
        if p.get("passingonly"):
            params["passing"] = "1"
        return WatchPlan(kind, f"/v1/health/service/{service}", params)
    if kind == "checks":
        service, state = p.get("service", ""), p.get("state", "")
        if service and state:
            raise WatchError("Cannot specify service and state")
        if service:
            return WatchPlan(kind, f"/v1/health/checks/{service}")
        return WatchPlan(kind, f"/v1/health/state/{state or 'any'}")
    if kind == "event":
        params = {"name": p["name"]} if p.get("name") else {}
        return WatchPlan(kind, "/v1/event/list", params, shape=lambda d, last: new_events(d, last))
    raise WatchError(f"Unsupported watch type: {kind}")
