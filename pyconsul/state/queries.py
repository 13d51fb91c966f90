"""Prepared queries: definitions keyed by ID, unique by name, with template prefix lookup.

A composed table (`store.queries`). Rows are Consul's PreparedQuery JSON (ID, Name, Session,
Token, Template, Service, DNS, CreateIndex, ModifyIndex); validation of their shape happens before
a command is written (`pyconsul/query/definition.py`), so `set` only enforces what needs the
table: a name or ID that another query already holds is refused on every replica alike.

Watch topic: `watch.table(QUERIES)`; the index is the "prepared-queries" table index.
"""

from __future__ import annotations

from typing import Any

from pyconsul.state import watch
from pyconsul.state.errors import StateError
from pyconsul.state.txn import IndexTable, WriteTxn
from pyconsul.state.watch import WatchSet

Row = dict[str, Any]

QUERIES = "prepared-queries"


def is_template(row: Row) -> bool:
    return bool((row.get("Template") or {}).get("Type"))


class QueryTable:
    def __init__(self, txn: WriteTxn, indexes: IndexTable) -> None:
        self.txn = txn
        self.indexes = indexes
        self.clear()

    def clear(self) -> None:
        self.by_id: dict[str, Row] = {}

    # -- writes ----------------------------------------------------------------------------------
    def set(self, idx: int, query: Row, create: bool) -> str:
        """Create a query, or update the one with its ID; returns the ID."""
        qid = query["ID"]
        name = query.get("Name") or ""
        if name in self.by_id and name != qid:
            raise StateError(f'name "{name}" aliases an existing query ID')
        for other in self.by_id.values():
            if other["ID"] == qid:
                continue
            if name and other.get("Name") == name:
                raise StateError(f'name "{name}" aliases an existing query name')
            if not name and is_template(query) and is_template(other) and not other.get("Name"):
                raise StateError("a query template with an empty name already exists")
        old = self.by_id.get(qid)
        if old is None and not create:
            raise StateError(f"Cannot modify non-existent prepared query: '{qid}'")
        row = dict(query)
        row["CreateIndex"] = old["CreateIndex"] if old else idx
        row["ModifyIndex"] = idx
        self.by_id[qid] = row
        self.txn.bump(idx, QUERIES)
        return qid

    def delete(self, idx: int, qid: str) -> bool:
        if self.by_id.pop(qid, None) is None:
            raise StateError(f"Cannot delete non-existent prepared query: '{qid}'")
        self.txn.bump(idx, QUERIES)
        return True

    def delete_for_session(self, idx: int, session_id: str) -> None:
        """A query tied to a session ends with it (Consul's session invalidation)."""
        gone = [qid for qid, row in self.by_id.items() if row.get("Session") == session_id]
        for qid in gone:
            del self.by_id[qid]
        if gone:
            self.txn.bump(idx, QUERIES)

    # -- reads -----------------------------------------------------------------------------------
    def index(self) -> int:
        return self.indexes.get(QUERIES)

    def get(self, ws: WatchSet | None, qid: str) -> tuple[int, Row | None]:
        if ws is not None:
            ws.add(watch.table(QUERIES))
        return self.index(), self.by_id.get(qid)

    def list(self, ws: WatchSet | None) -> tuple[int, list[Row]]:
        if ws is not None:
            ws.add(watch.table(QUERIES))
        rows = sorted(self.by_id.values(), key=lambda r: r["ID"])
        return self.index(), rows

    def resolve(self, id_or_name: str) -> Row | None:
        """What `/v1/query/<x>/execute` runs: the query with that ID, else the one with that exact
        name, else the template whose name is the longest prefix of it (an empty-named template
        matches everything)."""
        row = self.by_id.get(id_or_name)
        if row is not None:
            return row
        best: Row | None = None
        for r in self.by_id.values():
            name = r.get("Name") or ""
            if name == id_or_name and id_or_name:
                return r
            if is_template(r) and id_or_name.startswith(name):
                if best is None or len(name) > len(best.get("Name") or ""):
                    best = r
        return best

    # -- snapshot --------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {"prepared_queries": list(self.by_id.values())}

    def restore(self, snap: dict[str, Any]) -> None:
        self.clear()
        for row in snap.get("prepared_queries", []):
            self.by_id[row["ID"]] = row
