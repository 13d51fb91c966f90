"""/v1/acl/*: the ACL endpoints.

Until this agent can enforce ACLs (acl.enabled is refused at start), every ACL endpoint answers
as Consul does with ACLs off: 401 `ACL support disabled` (py-consul raises ACLDisabled on it, the
Go and npm clients show the text), never 404, so a client learns why its call failed.
"""

from __future__ import annotations

from aiohttp import web

from pyconsul.acl.errors import ACL_DISABLED
from pyconsul.api.app import APIContext, Reply
from pyconsul.api.errors import HTTPError
from pyconsul.api.params import QueryOptions


async def disabled(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    raise HTTPError(401, ACL_DISABLED)
