"""`consul.api.http` timing for every route, and the RPC counters its requests stand for.

Consul times each request by its route pattern (`method`, `path` labels) and counts the RPC a
server answers for it (`rpc.request`; `rpc.query` when it blocks; `rpc.request_error` when it
fails). Here the API reads the state store directly, so the request is the RPC; /v1/agent/*
stays on the agent, as in Consul.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from pyconsul.telemetry.names import http_path_label
from pyconsul.telemetry.registry import METRICS, Labels

Route = Callable[[web.Request], Awaitable[web.StreamResponse]]


def http_labels(method: str, pattern: str) -> Labels:
    return (("method", method), ("path", http_path_label(pattern)))


def timed_route(pattern: str, handler: Route) -> Route:
    label_cache: dict[str, Labels] = {}
    is_rpc = pattern.startswith("/v1/") and not pattern.startswith("/v1/agent/")
    clock = time.perf_counter

    async def route(req: web.Request) -> web.StreamResponse:
        start = clock()
        status = 500
        try:
            resp = await handler(req)
            status = resp.status
            return resp
        finally:
            labels = label_cache.get(req.method)
            if labels is None:
                labels = label_cache[req.method] = http_labels(req.method, pattern)
            METRICS.add_sample("api.http", (clock() - start) * 1000.0, labels)
            if is_rpc:
                METRICS.incr_counter("rpc.request")
                if req.query.get("index", "0") not in ("", "0"):
                    METRICS.incr_counter("rpc.query")
                if status >= 500:
                    METRICS.incr_counter("rpc.request_error")

    return route


class ReadCounters:
    """A catalog or health service read's own counters, as Consul's servers count them:
    `<kind>.service.query` per read, `<kind>.service.query-tag` per tag asked for, and
    `<kind>.service.not-found` when nothing matched. Built once per request shape; the fast path
    keeps it with the cached reply and emits it on every hit."""

    __slots__ = ("_each", "_not_found")

    def __init__(self, kind: str, service: str, tags: list[str] | None) -> None:
        svc: Labels = (("service", service),)
        each = [(f"{kind}.service.query", svc)]
        each += [(f"{kind}.service.query-tag", (("service", service), ("tag", t))) for t in tags or ()]
        self._each = tuple(each)
        self._not_found = (f"{kind}.service.not-found", svc)

    def emit(self, body: bytes) -> None:
        for name, labels in self._each:
            METRICS.incr_counter(name, 1.0, labels)
        if body.strip() == b"[]":
            METRICS.incr_counter(self._not_found[0], 1.0, self._not_found[1])
