"""The agent's side of network coordinates: gossip RTTs from membership, peers' coordinates and
the update itself through the state store on a server, through the servers on a client."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pyconsul.coordinate.vivaldi import Coord
from pyconsul.fsm import commands as c

if TYPE_CHECKING:
    from pyconsul.agent.agent import Agent


class AgentCoordinateHost:
    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    def take_rtts(self) -> list[tuple[str, float]]:
        membership = self.agent.membership
        return membership.take_rtts() if membership is not None else []

    async def peer_coordinates(self) -> Mapping[str, Coord]:
        relay = self.agent.forwarder
        if relay is None:
            _, rows = self.agent.store.coordinates.list(None)
        else:
            status, _, body = await relay.request("GET", "/v1/coordinate/nodes?stale")
            rows = json.loads(body) if status == 200 else []
        return {r["Node"]: r["Coord"] for r in rows if not r.get("Segment")}

    async def send_coordinate(self, coord: Coord) -> None:
        update: dict[str, Any] = {"Node": self.agent.node_name, "Segment": "", "Coord": coord}
        relay = self.agent.forwarder
        if relay is None:
            await self.agent.write(c.CoordinateBatchUpdate(updates=[update]))
            return
        status, _, body = await relay.request("PUT", "/v1/coordinate/update", json.dumps(update).encode())
        if status != 200:
            raise RuntimeError(body.decode(errors="replace"))
