"""Resolving, rendering and executing a prepared query over a store's tables: what the HTTP
execute endpoint and DNS `<name>.query.consul` both call.

`run(name, rng, near)` returns Consul's execute answer, or None when no query has that ID or name
(no template matches either); a template that fails to render raises TemplateError. `near` is a
node name or `_agent`; when empty the query's own `Near` applies.
"""

from __future__ import annotations

import random
from typing import Any, Protocol

from pyconsul.coordinate.sorting import CoordinateReader, distance_from
from pyconsul.query import execute
from pyconsul.query.template import render

Row = dict[str, Any]


class QueryDefinitions(Protocol):
    def resolve(self, id_or_name: str) -> Row | None: ...


class HealthReader(Protocol):
    def check_service_nodes(
        self, ws: Any, service: str, tags: list[str] | None = None
    ) -> tuple[int, list[Row]]: ...


class QueryRunner:
    def __init__(self, queries: QueryDefinitions, health: HealthReader, coords: CoordinateReader,
                 node_name: str, datacenter: str) -> None:
        self.queries = queries
        self.health = health
        self.coords = coords
        self.node_name = node_name
        self.datacenter = datacenter

    def rendered(self, id_or_name: str) -> Row | None:
        query = self.queries.resolve(id_or_name)
        return None if query is None else render(query, id_or_name)

    def run(self, id_or_name: str, rng: random.Random, near: str = "", limit: int = 0) -> Row | None:
        answer = self.run_sorted(id_or_name, rng, near, limit)
        return None if answer is None else answer[0]

    def run_sorted(self, id_or_name: str, rng: random.Random, near: str = "",
                   limit: int = 0) -> tuple[Row, bool] | None:
        """`run`, and whether the nodes are in distance order (DNS must then keep that order)."""
        found = self.execute(id_or_name, rng, near, limit)
        return None if found is None else (found[1], found[2])

    def execute(self, id_or_name: str, rng: random.Random, near: str = "",
                limit: int = 0) -> tuple[Row, Row, bool] | None:
        """(the rendered query, its answer here, whether the nodes are in distance order)."""
        query = self.rendered(id_or_name)
        if query is None:
            return None
        svc = query["Service"]
        _, entries = self.health.check_service_nodes(None, svc["Service"])
        source = near or svc.get("Near") or ""
        if source == "_agent":
            source = self.node_name
        dist = distance_from(self.coords, source)
        return query, execute.run(query, entries, self.datacenter, rng, dist, limit), dist is not None
