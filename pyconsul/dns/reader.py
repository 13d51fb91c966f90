"""CatalogReader: the one narrow interface through which DNS reads the catalog.

The store's catalog table (`store.catalog`) and the client agent's CatalogMirror satisfy it. Every
read returns `(index, value)`; DNS passes `ws=None` because it never blocks. Rows are the store's
own dicts in Consul's JSON shapes and must not be mutated.
"""

from __future__ import annotations

import random
from typing import Any, Protocol

Row = dict[str, Any]

# Tables whose index changes whenever anything DNS could answer changes.
CATALOG_TABLES = ("nodes", "services", "checks", "prepared-queries")
COORDINATES = "coordinates"  # only distance-sorted answers depend on it


class CatalogReader(Protocol):
    def max_index(self, *tables: str) -> int: ...

    def nodes(self, ws: Any) -> tuple[int, list[Row]]: ...

    def get_node(self, ws: Any, name: str) -> tuple[int, Row | None]: ...

    def node_services(self, ws: Any, node: str) -> tuple[int, list[Row]]: ...

    def check_service_nodes(
        self, ws: Any, service: str, tags: list[str] | None = None
    ) -> tuple[int, list[Row]]: ...

    def check_connect_service_nodes(
        self, ws: Any, service: str, tags: list[str] | None = None
    ) -> tuple[int, list[Row]]: ...


class PreparedQueries(Protocol):
    """What `<name>.query.consul` runs (pyconsul.query.runner.QueryRunner): Consul's execute
    answer for a query name or ID and whether its nodes are in distance order (`Near`), or None
    when there is no such query."""

    def run_sorted(self, id_or_name: str, rng: random.Random, near: str = "",
                   limit: int = 0) -> tuple[Row, bool] | None: ...
