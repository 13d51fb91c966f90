"""/v1/acl/role, /v1/acl/role/:id, /v1/acl/role/name/:name and /v1/acl/roles (Consul's shapes).

Reads need acl:read, writes acl:write (checked by `acl_ep.dispatch` before these run). A role
links policies by ID or Name, and carries service and node identities; a missing role reads as
404 (py-consul's `role.read` then answers None) and deletes as a no-op `true`, as Consul does.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from pyconsul.acl.objects import role_row
from pyconsul.api.acl_ep import checked_templated, links, lower, write
from pyconsul.api.acl_identities import node_identities, service_identities
from pyconsul.api.app import APIContext, Reply, json_reply, read_json
from pyconsul.api.errors import HTTPError
from pyconsul.api.params import QueryOptions
from pyconsul.fsm import commands as c

Row = dict[str, Any]
NOT_FOUND = "ACL role not found"


async def roles(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    _, rows = ctx.store.acl.list_roles(None, req.rel_url.query.get("policy", ""))
    return json_reply(rows, q=q)


async def role(ctx: APIContext, req: web.Request, q: QueryOptions, rest: list[str]) -> Reply:
    method = req.method
    table = ctx.store.acl
    if method == "GET" and rest:
        if rest[0] == "name" and len(rest) > 1:
            _, row = table.role_by_name(None, "/".join(rest[1:]))
        else:
            _, row = table.role_by_id(None, rest[0])
        if row is None:
            raise HTTPError(404, NOT_FOUND)
        return json_reply(row, q=q)
    if method == "DELETE" and len(rest) == 1:
        if table.role_by_id(None, rest[0])[1] is not None:
            await write(ctx, c.ACLRoleDelete(role_id=rest[0]))
        return json_reply(True, q=q)
    if method != "PUT" or len(rest) > 1:
        raise HTTPError(405, f"method {method} not allowed")
    body = lower(await read_json(req), "Role")
    if not rest and body.get("id"):
        raise HTTPError(400, "Cannot specify the ID when creating a new role")
    if rest and body.get("id") and body["id"] != rest[0]:
        raise HTTPError(400, "Role ID in URL and payload do not match")
    name = str(body.get("name") or "")
    if not name:
        raise HTTPError(400, "Missing role Name")
    role_id = rest[0] if rest else str(uuid.uuid4())
    old = table.role_by_id(None, role_id)[1] if rest else None
    if rest and old is None:
        raise HTTPError(404, "Cannot find role to update")
    row = role_row(role_id, name, str(body.get("description") or ""), links(ctx, body.get("policies"), "policy"),
                   service_identities(body.get("serviceidentities")), node_identities(body.get("nodeidentities")),
                   checked_templated(body.get("templatedpolicies"), "role"))
    return json_reply(await write(ctx, c.ACLRoleSet(role=row)), q=q)
