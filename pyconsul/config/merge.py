"""Consul's rules for layering config sources (agent/config/merge.go).

* maps and structs merge key by key, recursively;
* lists append (services, checks, retry_join, recursors... from every file add up);
* scalars: the later source wins, unless it left the key unset (None).
"""

from __future__ import annotations

from typing import Any


def merge(base: Any, over: Any) -> Any:
    """`over` layered on `base`; neither input is modified."""
    if over is None:
        return base
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = merge(base[key], value) if key in base else value
        return out
    if isinstance(base, list) and isinstance(over, list):
        return base + over
    return over


def merge_all(layers: list[dict[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for layer in layers:
        result = merge(result, layer)
    return result
