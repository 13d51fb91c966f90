"""`connect { enabled = false }`: the endpoints Consul's servers refuse without Connect.

Consul's CA, intentions and discovery-chain RPCs answer `Connect must be enabled in order to use
this endpoint` (a 500 through the HTTP layer) on a server whose Connect is off: the CA roots and
configuration, leaf signing, intentions old and new, authorize and the discovery chain. Config
entries, the mesh catalog (`/v1/health/connect`, `/v1/catalog/connect`) and sidecar registration
keep working, as in Consul. A client agent relays these to the servers, which decide.
"""

from __future__ import annotations

from aiohttp import web

from pyconsul.api.app import APIContext, Handler, Reply
from pyconsul.api.errors import HTTPError
from pyconsul.api.params import QueryOptions

NOT_ENABLED = "Connect must be enabled in order to use this endpoint"


def connect_off(ctx: APIContext) -> bool:
    cfg = ctx.agent.config
    return bool(cfg.server) and not cfg.connect.enabled


def connect_required(handler: Handler) -> Handler:
    async def run(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply | web.StreamResponse:
        if connect_off(ctx):
            raise HTTPError(500, NOT_ENABLED)
        return await handler(ctx, req, q)

    run.__name__ = getattr(handler, "__name__", "handler")
    run.__doc__ = handler.__doc__
    return run
