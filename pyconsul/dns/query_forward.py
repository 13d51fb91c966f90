"""Prepared queries DNS cannot answer from this agent's catalog alone: `<q>.query.<dc>.consul`
(the query runs in that datacenter, as Consul forwards PreparedQuery.Execute) and `<q>.query.consul`
when no local node passes and the query fails over to other datacenters.

`asked(data)` is synchronous and cheap: it says whether a question needs the trip (a local
query with nodes here, or without failover, stays with the ordinary handler and its cache).
`answer()` runs the query through `Execute` — the servers' `/v1/query/<q>/execute` (which fail
over themselves) — and encodes the answer with a PacketHandler that sees that answer as its
only query. These replies are not cached: they depend on other datacenters' catalogs.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

from pyconsul.config.runtime import RuntimeConfig
from pyconsul.dns import records as r
from pyconsul.dns.handler import PacketHandler
from pyconsul.dns.parser import QueryLookup, parse_labels
from pyconsul.dns.resolver import zone_for
from pyconsul.query.failover import wants_failover
from pyconsul.query.runner import QueryRunner
from pyconsul.state.store import StateStore

log = logging.getLogger("pyconsul.dns")

Row = dict[str, Any]
# (query name or ID, datacenter) → Consul's execute answer, or None (no such query, or unreachable).
Execute = Callable[[str, str], Awaitable[Row | None]]


class _Answered:
    """PreparedQueries for one answer already computed elsewhere."""

    def __init__(self, answer: Row) -> None:
        self.answer = answer

    def run_sorted(self, id_or_name: str, rng: random.Random, near: str = "",
                   limit: int = 0) -> tuple[Row, bool] | None:
        return self.answer, False


class QueryForwarding:
    def __init__(self, config: RuntimeConfig, local: QueryRunner | None, execute: Execute,
                 may_answer: Callable[[], bool] | None = None) -> None:
        self.config = config
        self.local = local
        self.execute = execute
        self.may_answer = may_answer
        self._rng = random.Random()
        self._empty = StateStore().catalog

    def asked(self, data: bytes) -> QueryLookup | None:
        """The query lookup that needs `answer`, else None (the ordinary handler answers)."""
        try:
            req = r.parse_request(data)
        except (r.RequestError, ValueError):
            return None
        lookup = parse_labels(req.labels, req.qtype, zone_for(self.config))
        if not isinstance(lookup, QueryLookup):
            return None
        if lookup.datacenter != self.config.datacenter:
            return lookup
        if self.local is None:
            return None
        try:
            found = self.local.execute(lookup.query, self._rng)
        except Exception:  # a template that does not render (or worse): the handler answers it
            return None
        if found is None:
            return None
        query, answer, _ = found
        if answer["Nodes"] or not wants_failover(query["Service"].get("Failover")):
            return None
        return lookup

    async def answer(self, lookup: QueryLookup, data: bytes, tcp: bool) -> bytes | None:
        if self.may_answer is not None and not self.may_answer():
            return r.header_only_reply(data, r.NXDOMAIN)
        try:
            result = await self.execute(lookup.query, lookup.datacenter)
        except Exception as exc:
            log.debug("dns: query execute failed", extra={"query": lookup.query, "error": str(exc)})
            result = None
        config = self.config
        if lookup.datacenter != config.datacenter:
            config = dataclasses.replace(config, datacenter=lookup.datacenter)
        empty = {"Service": "", "Nodes": [], "DNS": {"TTL": ""}}
        handler = PacketHandler(self._empty, config, self._rng, queries=_Answered(result or empty))
        out = handler.handle(data, tcp)
        return out if isinstance(out, bytes) else None
