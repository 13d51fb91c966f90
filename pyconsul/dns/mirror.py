"""CatalogMirror: a client agent's local, read-only copy of the servers' catalog, for DNS.

A client agent keeps no catalog of its own, yet CoreDNS or dnsmasq may forward `.consul` to it.
The mirror is a real StateStore kept in step with the servers by blocking queries (as
consul-template watches do): one on `/v1/catalog/nodes`, one on `/v1/catalog/services`, one
on `/v1/health/service/<name>` per service, one on `/v1/query` and one on `/v1/coordinate/nodes`. Each answer is reconciled into the local store through
the FSM (register what is new or changed, deregister what is gone), so the mirror's `max_index`
moves exactly when DNS answers may change and the DNS cache stays correct.

Rules: reads are stale by at most one blocking-query round trip (Consul's default DNS reads are
stale too); an index that goes backwards restarts that watch from 0; errors retry after `retry`
seconds, doubling up to MAX_BACKOFF while they last; `close()` stops every watch.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from pyconsul.fsm import commands as c
from pyconsul.fsm.machine import StateMachine
from pyconsul.state.store import StateStore

log = logging.getLogger("pyconsul.dns")

# (method, path with query) → (status, headers, body): e.g. the client agent's Forwarder.request.
Fetch = Callable[[str, str], Awaitable[tuple[int, dict[str, str], bytes]]]
Row = dict[str, Any]
MAX_BACKOFF = 5.0


class CatalogMirror:
    def __init__(self, fetch: Fetch, wait: str = "5m", retry: float = 1.0) -> None:
        self.fetch = fetch
        self.wait = wait
        self.retry = retry
        self.store = StateStore()
        self._fsm = StateMachine(self.store)
        self._local_index = 0
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.synced = asyncio.Event()  # set once nodes and services were read at least once
        self._nodes_synced = False
        self._services_synced = False

    # -- CatalogReader --------------------------------------------------------------------------
    def max_index(self, *tables: str) -> int:
        return self.store.max_index(*tables)

    def nodes(self, ws: Any) -> tuple[int, list[Row]]:
        return self.store.catalog.nodes(ws)

    def get_node(self, ws: Any, name: str) -> tuple[int, Row | None]:
        return self.store.catalog.get_node(ws, name)

    def node_services(self, ws: Any, node: str) -> tuple[int, list[Row]]:
        return self.store.catalog.node_services(ws, node)

    def check_service_nodes(self, ws: Any, service: str, tags: list[str] | None = None) -> tuple[int, list[Row]]:
        return self.store.catalog.check_service_nodes(ws, service, tags)

    def check_connect_service_nodes(self, ws: Any, service: str,
                                    tags: list[str] | None = None) -> tuple[int, list[Row]]:
        return self.store.catalog.check_connect_service_nodes(ws, service, tags)

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        self._spawn("nodes", self._watch("/v1/catalog/nodes", self._sync_nodes))
        self._spawn("services", self._watch("/v1/catalog/services", self._sync_services))
        # Prepared queries and coordinates too, so `<name>.query.consul` runs here on the same
        # data a server would run it on (Near sorts by the mirrored coordinates).
        self._spawn("queries", self._watch("/v1/query", self._sync_queries))
        self._spawn("coordinates", self._watch("/v1/coordinate/nodes", self._sync_coordinates))

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _spawn(self, key: str, coro: Awaitable[None]) -> None:
        self._tasks[key] = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]

    # -- blocking queries -----------------------------------------------------------------------
    async def _watch(self, path: str, apply: Callable[[Any], None]) -> None:
        index = 0
        sep = "&" if "?" in path else "?"
        failures = 0
        while True:
            try:
                status, headers, body = await self.fetch("GET", f"{path}{sep}stale&index={index}&wait={self.wait}")
                if status != 200:
                    raise ValueError(f"{path}: HTTP {status}: {body[:200]!r}")
                data = json.loads(body)
                new = _header_index(headers)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.debug("catalog mirror: %s failed: %r", path, exc)
                # Back off while no server answers (doubling, at most MAX_BACKOFF seconds).
                await asyncio.sleep(min(self.retry * (2 ** min(failures, 10)), max(self.retry, MAX_BACKOFF)))
                failures += 1
                continue
            failures = 0
            # A server restored from an older snapshot, or another server behind: start over.
            index = 0 if new < index else new
            apply(data)

    # -- reconciliation -------------------------------------------------------------------------
    def _apply(self, cmd: c.Command) -> None:
        self._local_index += 1
        out = self._fsm.apply_command(self._local_index, cmd)
        if isinstance(out, Exception):
            log.debug("catalog mirror: %s refused: %s", cmd.TYPE, out)

    def _sync_nodes(self, rows: list[Row]) -> None:
        seen = set()
        for row in rows:
            seen.add(row["Node"])
            self._apply(c.Register(node=_node(row)))
        for name in list(self.store.catalog.nodes_by_name):
            if name not in seen:
                self._apply(c.Deregister(node=name))
        self._nodes_synced = True
        self._mark_synced()

    def _sync_services(self, services: dict[str, Any]) -> None:
        for name in services:
            key = "svc:" + name
            if key not in self._tasks:
                self._spawn(key, self._watch(f"/v1/health/service/{quote(name, safe='')}",
                                             lambda entries, n=name: self._sync_service(n, entries)))
        for key in [k for k in self._tasks if k.startswith("svc:") and k[4:] not in services]:
            self._tasks.pop(key).cancel()
            self._sync_service(key[4:], [])
        self._services_synced = True
        self._mark_synced()

    def _sync_service(self, name: str, entries: list[Row]) -> None:
        wanted: dict[tuple[str, str], Row] = {}
        for e in entries:
            wanted[(e["Node"]["Node"], e["Service"]["ID"])] = e
            self._apply(c.Register(node=_node(e["Node"]), service=e["Service"], checks=list(e.get("Checks") or [])))
        _, mine = self.store.catalog.check_service_nodes(None, name)
        for e in mine:
            key = (e["Node"]["Node"], e["Service"]["ID"])
            theirs = wanted.get(key)
            if theirs is None:
                self._apply(c.Deregister(node=key[0], service_id=key[1]))
                continue
            keep = {chk["CheckID"] for chk in theirs.get("Checks") or ()}
            for chk in e["Checks"]:
                if chk["CheckID"] not in keep:
                    self._apply(c.Deregister(node=key[0], check_id=chk["CheckID"]))

    def _sync_queries(self, rows: list[Row] | None) -> None:
        theirs = {r["ID"]: _query(r) for r in rows or ()}
        mine = self.store.queries.by_id
        changed = [qid for qid, q in theirs.items() if qid not in mine or _query(mine[qid]) != q]
        # Changed ones are dropped before any is written, so a swap of two names never collides.
        for qid in [q for q in mine if q not in theirs or q in changed]:
            self._apply(c.PreparedQueryDelete(query_id=qid))
        for qid in changed:
            self._apply(c.PreparedQuerySet(query=theirs[qid], create=True))

    def _sync_coordinates(self, rows: list[Row] | None) -> None:
        updates = [{"Node": r["Node"], "Segment": r.get("Segment") or "", "Coord": r["Coord"]}
                   for r in rows or () if r.get("Coord")]
        if updates:
            self._apply(c.CoordinateBatchUpdate(updates=updates))

    def _mark_synced(self) -> None:
        if self._nodes_synced and self._services_synced:
            self.synced.set()


def _query(row: Row) -> Row:
    return {k: v for k, v in row.items() if k not in ("CreateIndex", "ModifyIndex")}


def _node(row: Row) -> Row:
    return {k: row.get(k) for k in ("ID", "Node", "Address", "Datacenter", "TaggedAddresses", "Meta")}


def _header_index(headers: dict[str, str]) -> int:
    for k, v in headers.items():
        if k.lower() == "x-consul-index":
            try:
                return max(0, int(v))
            except ValueError:
                return 0
    return 0
