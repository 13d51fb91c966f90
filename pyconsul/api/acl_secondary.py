"""A secondary datacenter's ACL endpoints (ACL replication on): writes of what the primary owns
go to the primary, and `/v1/acl/replication` reports the replication loop.

Rules (Consul's, for a datacenter whose `primary_datacenter` is another one):
- Policy and role writes, and writes of global tokens, are answered by the primary datacenter
  (forwarded over the WAN); replication then brings them here. A token write whose body says
  `"Local": true`, or that names a token stored here as local, stays here.
- Bootstrapping is refused in a secondary: 401 `ACL support disabled`, as Consul answers it.
- Auth methods, binding rules and login stay with this datacenter.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from pyconsul.api.app import APIContext, Reply, json_reply
from pyconsul.api.errors import HTTPError
from pyconsul.api.params import QueryOptions

ACL_DISABLED = "ACL support disabled"
_PRIMARY_OWNED = ("policy", "role", "token")


async def primary_target(ctx: APIContext, req: web.Request) -> str:
    """The primary datacenter when this request must be answered there, else ""."""
    primary = ctx.agent.config.primary_datacenter
    if req.method not in ("PUT", "POST", "DELETE") or not req.path.startswith("/v1/acl/"):
        return ""
    parts = req.path[len("/v1/acl/"):].split("/")
    if parts[0] == "bootstrap":
        raise HTTPError(401, ACL_DISABLED)
    if parts[0] not in _PRIMARY_OWNED:
        return ""
    if parts[0] == "token":
        if len(parts) > 1 and parts[1]:
            _, row = ctx.store.acl.token_by_accessor(None, parts[1])
            if row is not None and row.get("Local"):
                return ""
        body: Any = None
        raw = await req.read()
        if raw.strip():
            try:
                body = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                return ""  # the handler answers its 400
        if isinstance(body, dict) and any(str(k).lower() == "local" and v is True for k, v in body.items()):
            return ""
    return primary


async def replication(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    """GET /v1/acl/replication: Consul's ACLReplicationStatus (disabled outside a secondary)."""
    if ctx.acl is None:
        raise HTTPError(401, ACL_DISABLED)
    status = ctx.agent.acl_replication_status()
    return json_reply(status, q=q)
