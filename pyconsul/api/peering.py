"""?peer= on catalog and health reads. This agent has no cluster peerings, so a read for a named
peer finds none of its rows: the answer is empty (never the local data), at the table's index so
blocking queries on it still work."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyconsul.api.params import QueryOptions
from pyconsul.state.watch import WatchSet

Run = Callable[[WatchSet | None], tuple[int, Any]]


def _empty_like(value: Any) -> Any:
    if isinstance(value, list):
        return []
    if isinstance(value, dict):
        return {}
    return None


def for_peer(q: QueryOptions, run: Run, empty: Callable[[Any], Any] = _empty_like) -> Run:
    """`run` itself for local reads; for a named peer, the same index with no rows."""
    if not q.peer:
        return run

    def peered(ws: WatchSet | None) -> tuple[int, Any]:
        idx, value = run(ws)
        return idx, empty(value)

    return peered
