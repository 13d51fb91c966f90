"""`?near=` and a prepared query's `Near`: order answers by estimated RTT from one node.

`_agent` names the agent answering, `_ip` the node whose address is the caller's IP; anything
else is a node name. With no coordinate for that node the order is left as it is (Consul's rule:
sorting needs a source coordinate); nodes without one sort last.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from pyconsul.api.app import APIContext
from pyconsul.coordinate.vivaldi import distance

Row = dict[str, Any]
Distance = Callable[[str], float | None]


def source_node(ctx: APIContext, req: web.Request, near: str) -> str:
    if near == "_agent":
        return ctx.agent.node_name
    if near == "_ip":
        ip = req.remote or ""
        for row in ctx.store.catalog.nodes_by_name.values():
            if row.get("Address") == ip:
                return str(row["Node"])
        return ""
    return near


def distance_from(ctx: APIContext, req: web.Request, near: str) -> Distance | None:
    if not near:
        return None
    coords = ctx.store.coordinates
    src = coords.get(source_node(ctx, req, near))
    if src is None:
        return None

    def rtt(node: str) -> float | None:
        other = coords.get(node)
        return None if other is None else distance(src, other)

    return rtt


def sort_rows(rows: list[Row], dist: Distance, node_of: Callable[[Row], str]) -> list[Row]:
    keyed = [(dist(node_of(r)), r) for r in rows]
    keyed.sort(key=lambda pair: (pair[0] is None, pair[0] or 0.0))
    return [r for _, r in keyed]


def _node_name(row: Row) -> str:
    node = row.get("Node")
    return str(node.get("Node") if isinstance(node, dict) else node)


def near_shape(ctx: APIContext, req: web.Request) -> Callable[[Any], Any] | None:
    """A reply shape sorting list answers by `?near=`, or None when the request has none."""
    near = req.rel_url.query.get("near", "")
    if not near:
        return None

    def shape(value: Any) -> Any:
        dist = distance_from(ctx, req, near)
        if dist is None or not isinstance(value, list):
            return value
        return sort_rows(value, dist, _node_name)

    return shape
