"""Network coordinates per (node, segment), as `Coordinate.Update` writes them in batches.

A composed table (`store.coordinates`). Like Consul, an update for a node the catalog does not
know is skipped (coordinates and the catalog are not written together), and a node that leaves
the catalog stops being listed. Watch topic: `watch.table(COORDINATES)`.
"""

from __future__ import annotations

from typing import Any

from pyconsul.coordinate.vivaldi import valid
from pyconsul.state import watch
from pyconsul.state.catalog import CatalogTable
from pyconsul.state.txn import IndexTable, WriteTxn
from pyconsul.state.watch import WatchSet

Row = dict[str, Any]

COORDINATES = "coordinates"


class CoordinateTable:
    def __init__(self, txn: WriteTxn, indexes: IndexTable, catalog: CatalogTable) -> None:
        self.txn = txn
        self.indexes = indexes
        self.catalog = catalog
        self.clear()

    def clear(self) -> None:
        self.rows: dict[tuple[str, str], Row] = {}

    def batch_update(self, idx: int, updates: list[Row]) -> int:
        """Store each {Node, Segment, Coord}; returns how many were applied."""
        applied = 0
        for u in updates:
            node = u.get("Node")
            if not isinstance(node, str) or node not in self.catalog.nodes_by_name or not valid(u.get("Coord")):
                continue
            seg = u.get("Segment") or ""
            self.rows[(node, seg)] = {"Node": node, "Segment": seg, "Coord": u["Coord"]}
            applied += 1
        if applied:
            self.txn.bump(idx, COORDINATES)
        return applied

    def _live(self) -> list[Row]:
        known = self.catalog.nodes_by_name
        return [r for key, r in sorted(self.rows.items()) if key[0] in known]

    def list(self, ws: WatchSet | None) -> tuple[int, list[Row]]:
        if ws is not None:
            ws.add(watch.table(COORDINATES))
            ws.add(watch.nodes())
        return self.indexes.max(COORDINATES, "nodes"), self._live()

    def node(self, ws: WatchSet | None, name: str) -> tuple[int, list[Row]]:
        idx, rows = self.list(ws)
        return idx, [r for r in rows if r["Node"] == name]

    def get(self, name: str, segment: str = "") -> Row | None:
        """A node's coordinate (the default segment), or None."""
        if name not in self.catalog.nodes_by_name:
            return None
        row = self.rows.get((name, segment))
        return row["Coord"] if row else None

    def snapshot(self) -> dict[str, Any]:
        return {"coordinates": list(self.rows.values())}

    def restore(self, snap: dict[str, Any]) -> None:
        self.clear()
        for r in snap.get("coordinates", []):
            self.rows[(r["Node"], r.get("Segment") or "")] = r
