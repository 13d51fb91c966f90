"""/v1/coordinate/*: datacenters, nodes, node/:node, update.

Coordinates live in the state store (CoordinateBatchUpdate through Raft). `node/:node` answers 404
with no body when the node has none, as Consul does; a bad coordinate is 400.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pyconsul.api.acl_names import require_name
from pyconsul.api.app import APIContext, Reply, json_reply, read_json
from pyconsul.api.errors import HTTPError
from pyconsul.api.params import QueryOptions
from pyconsul.coordinate.vivaldi import valid
from pyconsul.fsm import commands as c
from pyconsul.state.watch import WatchSet

Row = dict[str, Any]

SERVER_SERVICE = "consul"


async def datacenters(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    """The WAN view: each datacenter with its servers' WAN coordinates, named `<node>.<dc>`
    (without a WAN pool: our datacenter, from its servers' LAN coordinates)."""
    maps = ctx.agent.datacenter_maps()
    if maps is not None:
        return json_reply(maps, q=q)
    store = ctx.store
    dc = ctx.agent.config.datacenter
    _, servers = store.catalog.check_service_nodes(None, SERVER_SERVICE)
    coords = []
    for entry in servers:
        name = entry["Node"]["Node"]
        coord = store.coordinates.get(name)
        if coord is not None:
            coords.append({"Node": f"{name}.{dc}", "Segment": "", "Coord": coord})
    return json_reply([{"Datacenter": dc, "AreaID": "wan", "Coordinates": coords}], q=q)


async def nodes(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    store = ctx.store
    segment = req.rel_url.query.get("segment")

    def run(ws: WatchSet | None) -> tuple[int, list[Row]]:
        idx, rows = store.coordinates.list(ws)
        if segment is not None:
            rows = [r for r in rows if r["Segment"] == segment]
        return idx, rows

    return await ctx.blocking_json(q, req, run, acl="coordinates")


async def node(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    name = req.match_info["node"]
    store = ctx.store
    reply = await ctx.blocking_json(q, req, lambda ws: store.coordinates.node(ws, name))
    if reply.body == b"[]":
        return Reply(b"", status=404, content_type="text/plain; charset=utf-8", index=reply.index)
    return reply


def _update_row(body: Any, default_node: str) -> Row:
    if not isinstance(body, dict):
        kind = "array" if isinstance(body, list) else type(body).__name__
        raise HTTPError(400, f"Request decode failed: json: cannot unmarshal {kind} into Go value of type "
                             f"structs.CoordinateUpdateRequest")
    by_low = {str(k).lower(): v for k, v in body.items()}
    node = by_low.get("node") or default_node
    segment = by_low.get("segment") or ""
    coord = by_low.get("coord")
    if isinstance(coord, dict):
        names = {"vec": "Vec", "error": "Error", "adjustment": "Adjustment", "height": "Height"}
        coord = {names.get(str(k).lower(), k): v for k, v in coord.items()}
    if not isinstance(node, str) or not isinstance(segment, str):
        raise HTTPError(400, "Request decode failed: Node and Segment must be strings")
    if not valid(coord):
        raise HTTPError(400, "invalid coordinate")
    return {"Node": node, "Segment": segment, "Coord": coord}


async def update(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    row = _update_row(await read_json(req), ctx.agent.node_name)
    require_name(req, "node", "write", row["Node"])
    await ctx.write(c.CoordinateBatchUpdate(updates=[row]))
    return Reply(b"")
