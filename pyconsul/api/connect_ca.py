"""/v1/connect/ca/*, /v1/agent/connect/ca/*: the CA's roots and configuration, the agent's leaves,
and the internal signing request client agents forward to a server.

On a server the roots and configuration are read from the store (blocking) and leaves are signed
locally; on a client agent the `/v1/agent/...` endpoints ask a server over the server port
(`/v1/connect/ca/roots` for roots, `POST /v1/internal/connect/ca/sign/:service` with the CSR for leaves).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from aiohttp import web

from pyconsul.api.app import APIContext, Reply, dumps, json_reply, read_json
from pyconsul.api.errors import HTTPError
from pyconsul.api.params import QueryOptions
from pyconsul.clock import SYSTEM_CLOCK
from pyconsul.connect import ca, ca_ops, spiffe
from pyconsul.connect.leaf_cache import LeafCache
from pyconsul.state.watch import WatchSet

Row = dict[str, Any]
PEM_CT = "application/pem-certificate-chain"
NOT_READY = "CA has not finished initializing"


def _roots_run(ctx: APIContext) -> Any:
    store = ctx.store

    def run(ws: WatchSet | None) -> tuple[int, Row]:
        idx, roots = store.connect_ca.get_roots(ws)
        return idx, ca_ops.roots_reply(store, roots)

    return run


# Go's strconv.ParseBool, which Consul reads `?pem` with.
_TRUE, _FALSE = {"1", "t", "T", "TRUE", "true", "True"}, {"0", "f", "F", "FALSE", "false", "False"}


def _bool_param(value: str, name: str) -> bool:
    if not value or value in _FALSE:
        return False
    if value in _TRUE:
        return True
    raise HTTPError(400, f"The '{name}' query parameter must be a boolean value")


async def roots(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    """GET /v1/connect/ca/roots (?pem=true: the PEM chain)."""
    if _bool_param(req.rel_url.query.get("pem", ""), "pem"):
        idx, rows = await ctx.blocking(q, lambda ws: ctx.store.connect_ca.get_roots(ws))
        return Reply(ca_ops.roots_pem(rows).encode(), content_type=PEM_CT, index=idx)
    return await ctx.blocking_json(q, req, _roots_run(ctx), filterable=False)


async def agent_roots(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    """GET /v1/agent/connect/ca/roots: the same document, a server's on a client agent."""
    relay = ctx.agent.server_relay
    if relay is None:
        reply = await ctx.blocking_json(q, req, _roots_run(ctx), filterable=False)
        reply.headers["X-Cache"] = "MISS"
        return reply
    status, headers, body = await relay.request("GET", "/v1/connect/ca/roots" + _qs(req), None, _auth(q))
    if status != 200:
        raise HTTPError(status, body.decode(errors="replace"))
    return Reply(body, index=int(headers.get("X-Consul-Index", "1") or 1), headers={"X-Cache": "MISS"})


def _qs(req: web.Request) -> str:
    return ("?" + req.query_string) if req.query_string else ""


def _auth(q: QueryOptions) -> dict[str, str]:
    return {"X-Consul-Token": q.token} if q.token else {}


async def get_configuration(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    await ctx.read_barrier(q)
    idx, row = ctx.store.connect_ca.get_config(None)
    if row is None:
        raise HTTPError(500, NOT_READY)
    return Reply(dumps(ca_ops.public_config(row), q.pretty), index=max(idx, 1))


async def set_configuration(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    body = await read_json(req)
    if not isinstance(body, dict):
        raise HTTPError(400, "Request decode failed: expected a JSON object")
    try:
        await ca_ops.set_config(ctx.write, ctx.store, SYSTEM_CLOCK, body)
    except ca.CAError as exc:
        raise HTTPError(400, str(exc)) from None
    except ca_ops.CANotReady as exc:
        raise HTTPError(500, str(exc)) from None
    return Reply(b"")


# -- signing -----------------------------------------------------------------------------------
async def sign(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    """POST /v1/internal/connect/ca/sign/:service {"CSR": pem}: ConnectCA.Sign for client agents.
    The route checks service:write on :service (the service named in the path, so a token limited
    to it passes the gate); the CSR must be for that same service."""
    body = await read_json(req)
    csr = body.get("CSR") if isinstance(body, dict) else None
    if not isinstance(csr, str):
        raise HTTPError(400, "Request decode failed: expected {\"CSR\": \"...\"}")
    try:
        ident = spiffe.parse(ca.csr_uri(csr))
        if not isinstance(ident, spiffe.ServiceID):
            raise ca.CAError("SPIFFE ID in CSR must be a service ID")
        if ident.service != req.match_info["service"]:
            raise ca.CAError(f"CSR is for service {ident.service!r}, not {req.match_info['service']!r}")
        reply = await ca_ops.sign(ctx.write, ctx.store, SYSTEM_CLOCK, csr, ctx.agent.config.datacenter)
    except (ca.CAError, spiffe.SpiffeError) as exc:
        raise HTTPError(400, str(exc)) from None
    except ca_ops.CANotReady as exc:
        raise HTTPError(500, str(exc)) from None
    return json_reply(reply)


def _from_wan_server(ctx: APIContext, req: web.Request) -> bool:
    """A request another datacenter's server forwarded over our server port (the gate admits the
    forward header only from the WAN pool's servers)."""
    from pyconsul.api.port import WAN_FORWARD_HEADER

    sockname = req.transport.get_extra_info("sockname") if req.transport is not None else None
    port = ctx.agent.config.ports.server
    return WAN_FORWARD_HEADER in req.headers and bool(sockname) and port > 0 and sockname[1] == port


async def sign_intermediate(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    """POST /v1/internal/connect/ca/sign-intermediate {"CSR": pem}: ConnectCA.SignIntermediate,
    answered by the primary datacenter for a secondary's leader, and only over the server port."""
    if not _from_wan_server(ctx, req):
        raise HTTPError(404, "404 page not found")
    cfg = ctx.agent.config
    if cfg.primary_datacenter and cfg.primary_datacenter != cfg.datacenter:
        raise HTTPError(400, "Cannot sign intermediate certificates outside the primary datacenter")
    body = await read_json(req)
    csr = body.get("CSR") if isinstance(body, dict) else None
    if not isinstance(csr, str):
        raise HTTPError(400, "Request decode failed: expected {\"CSR\": \"...\"}")
    try:
        reply = await ca_ops.sign_intermediate(ctx.write, ctx.store, SYSTEM_CLOCK, csr)
    except ca.CAError as exc:
        raise HTTPError(400, str(exc)) from None
    except ca_ops.CANotReady as exc:
        raise HTTPError(500, str(exc)) from None
    return json_reply(reply)


class StoreLeafSource:
    """A server's leaves: signed here, roots from the local store."""

    def __init__(self, ctx: APIContext) -> None:
        self.ctx = ctx

    async def sign(self, csr_pem: str, token: str) -> Row:
        ctx = self.ctx
        return await ca_ops.sign(ctx.write, ctx.store, SYSTEM_CLOCK, csr_pem, ctx.agent.config.datacenter)

    async def roots(self, min_index: int, wait: float) -> tuple[int, Row]:
        from pyconsul.api.blocking import blocking_query

        return await blocking_query(self.ctx.store.watches, _roots_run(self.ctx), min_index, wait)


class RelayLeafSource:
    """A client agent's leaves: signed by a server over the server port."""

    def __init__(self, ctx: APIContext) -> None:
        self.ctx = ctx

    async def sign(self, csr_pem: str, token: str) -> Row:
        relay = self.ctx.agent.server_relay
        assert relay is not None
        headers = {"Content-Type": "application/json", **({"X-Consul-Token": token} if token else {})}
        service = str(spiffe.parse(ca.csr_uri(csr_pem)).service)  # type: ignore[union-attr]
        status, _, body = await relay.request("POST", f"/v1/internal/connect/ca/sign/{quote(service, safe='')}",
                                              json.dumps({"CSR": csr_pem}).encode(), headers)
        if status != 200:
            raise HTTPError(status, body.decode(errors="replace"))
        return dict(json.loads(body))

    async def roots(self, min_index: int, wait: float) -> tuple[int, Row]:
        relay = self.ctx.agent.server_relay
        assert relay is not None
        qs = f"?index={min_index}&wait={int(wait)}s" if min_index else ""
        status, headers, body = await relay.request("GET", "/v1/connect/ca/roots" + qs)
        if status != 200:
            raise HTTPError(status, body.decode(errors="replace"))
        return int(headers.get("X-Consul-Index", "0") or 0), dict(json.loads(body))


def leaf_cache(ctx: APIContext) -> LeafCache:
    """The agent's leaf cache, made on first use (it lives as long as the API context)."""
    cache = ctx.connect
    if cache is None:
        source = RelayLeafSource(ctx) if ctx.agent.server_relay is not None else StoreLeafSource(ctx)
        cache = ctx.connect = LeafCache(source, SYSTEM_CLOCK, ctx.agent.config.datacenter)
    assert isinstance(cache, LeafCache)
    return cache


async def leaf(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    """GET /v1/agent/connect/ca/leaf/:service (service:write on it, checked by the route)."""
    service = req.match_info["service"]
    try:
        got = await leaf_cache(ctx).get(service, q.token, q.index, q.wait)
    except (LookupError, ca_ops.CANotReady) as exc:
        raise HTTPError(500, str(exc)) from None
    except (ca.CAError, spiffe.SpiffeError) as exc:
        raise HTTPError(400, str(exc)) from None
    reply = Reply(dumps(got.reply, q.pretty), index=max(got.index, 1))
    reply.headers["X-Cache"] = "HIT" if q.index else "MISS"
    return reply
