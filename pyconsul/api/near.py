"""`?near=` on catalog and health reads (and prepared query execute): order list answers by
estimated RTT from one node. `_agent` names the agent answering, `_ip` the node whose address is
the caller's IP; anything else is a node name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from pyconsul.api.app import APIContext
from pyconsul.coordinate.sorting import distance_from, sort_by_distance

Row = dict[str, Any]


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


def _node_name(row: Row) -> str:
    node = row.get("Node")
    return str(node.get("Node") if isinstance(node, dict) else node)


def near_shape(ctx: APIContext, req: web.Request) -> Callable[[Any], Any] | None:
    """A reply shape sorting list answers by `?near=`, or None when the request has none."""
    near = req.rel_url.query.get("near", "")
    if not near:
        return None

    def shape(value: Any) -> Any:
        dist = distance_from(ctx.store.coordinates, source_node(ctx, req, near))
        if dist is None or not isinstance(value, list):
            return value
        return sort_by_distance(value, dist, _node_name)

    return shape
