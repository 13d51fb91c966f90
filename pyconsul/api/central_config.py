"""`?merge-central-config` on /v1/catalog/service and /v1/health/service: the rows with central
config merged in (pyconsul.entries.merge); the answer then also depends on config entries, so
its index is the higher of the two and a blocking query wakes for either."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyconsul.entries.merge import merge_central_config
from pyconsul.state.config_entries import CONFIG_ENTRIES
from pyconsul.state.store import StateStore
from pyconsul.state.watch import WatchSet, table

Row = dict[str, Any]
Run = Callable[[WatchSet | None], tuple[int, list[Row]]]


def merged(store: StateStore, run: Run, service_key: str) -> Run:
    """`run` whose rows (health entries: `service_key` "Service"; catalog rows: "" for the
    ServiceNode's Service* fields) carry merged central config."""
    entries = store.config_entries

    def lookup(kind: str, name: str) -> Row | None:
        return entries.get(None, kind, name)[1]

    def merged_run(ws: WatchSet | None) -> tuple[int, list[Row]]:
        idx, rows = run(ws)
        if ws is not None:
            ws.add(table(CONFIG_ENTRIES))
        out = []
        for row in rows:
            if service_key:
                out.append({**row, service_key: merge_central_config(row[service_key], lookup)})
            else:
                svc = {"Kind": row.get("ServiceKind"), "Service": row.get("ServiceName"),
                       "Proxy": row.get("ServiceProxy")}
                out.append({**row, "ServiceProxy": merge_central_config(svc, lookup)["Proxy"]})
        return max(idx, entries.index()), out

    return merged_run
