"""/v1/catalog/gateway-services/:gateway and /v1/health/ingress/:service: the gateway side of the mesh.

Both read the ingress-/terminating-gateway config entries together with the catalog, so their
index is the higher of the two and a blocking query wakes for either.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pyconsul.api.app import APIContext, Reply
from pyconsul.api.health import healthy
from pyconsul.api.params import QueryOptions, query_bool
from pyconsul.entries.gateways import gateway_services, ingress_gateways_for
from pyconsul.entries.kinds import INGRESS_GATEWAY, TERMINATING_GATEWAY
from pyconsul.state import watch
from pyconsul.state.watch import WatchSet

Row = dict[str, Any]


def _typical(services: dict[str, list[str]], catalog: Any) -> list[str]:
    """Catalog services a wildcard can stand for: not proxies or gateways, not Consul itself."""
    out = []
    for name in services:
        rows = catalog.service_instances_rows(name)
        if name != "consul" and rows and not any(svc.get("Kind") for _, svc in rows):
            out.append(name)
    return out


def _has_wildcard(entry: Row | None) -> bool:
    if entry is None:
        return False
    named = list(entry.get("Services") or [])
    named += [s for listener in entry.get("Listeners") or [] for s in listener.get("Services") or []]
    return any(s.get("Name") == "*" for s in named)


async def gateway_services_ep(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    gateway = req.match_info["gateway"]
    store = ctx.store
    entries, catalog = store.config_entries, store.catalog

    def run(ws: WatchSet | None) -> tuple[int, list[Row]]:
        idx, ingress = entries.get(ws, INGRESS_GATEWAY, gateway)
        _, terminating = entries.get(ws, TERMINATING_GATEWAY, gateway)
        services: dict[str, list[str]] = {}
        if _has_wildcard(ingress) or _has_wildcard(terminating):
            sidx, services = catalog.services(ws)
            idx = max(idx, sidx)
        return idx, gateway_services(ingress, terminating, _typical(services, catalog))

    return await ctx.blocking_json(q, req, run)


async def health_ingress(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    service = req.match_info["service"]
    passing = query_bool(req, "passing")
    store = ctx.store
    entries, catalog = store.config_entries, store.catalog

    def run(ws: WatchSet | None) -> tuple[int, list[Row]]:
        idx, ingress = entries.list(ws, INGRESS_GATEWAY)
        if ws is not None:
            ws.add(watch.config_kind(INGRESS_GATEWAY))
        rows: list[Row] = []
        for name in ingress_gateways_for(service, ingress):
            sidx, found = catalog.check_service_nodes(ws, name)
            idx = max(idx, sidx)
            rows += [e for e in found if e["Service"].get("Kind") == INGRESS_GATEWAY]
        if passing:
            rows = [r for r in rows if healthy(r)]
        return idx, rows

    return await ctx.blocking_json(q, req, run)
