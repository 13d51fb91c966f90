"""/v1/acl/templated-policies, /v1/acl/templated-policy/name/:name and
/v1/acl/templated-policy/preview/:name (POST, the template's variables as the body).

All need acl:read (checked by `acl_ep.dispatch`; preview is a POST but writes nothing, so it is
held to read like the others). An unknown name is 400 `Invalid templated policy Name: <name>`.
"""

from __future__ import annotations

from aiohttp import web

from pyconsul.acl import templated
from pyconsul.api.app import APIContext, Reply, json_reply, read_json
from pyconsul.api.errors import HTTPError
from pyconsul.api.params import QueryOptions

HEADS = ("templated-policies", "templated-policy")


def _template(name: str) -> templated.Template:
    t = templated.TEMPLATES.get(name)
    if t is None:
        raise HTTPError(400, f"Invalid templated policy Name: {name}")
    return t


async def dispatch(ctx: APIContext, req: web.Request, q: QueryOptions, head: str, rest: list[str]) -> Reply:
    method = req.method
    if head == "templated-policies" and not rest and method == "GET":
        return json_reply({name: templated.describe(t) for name, t in sorted(templated.TEMPLATES.items())}, q=q)
    if head == "templated-policy" and len(rest) > 1 and rest[0] == "name" and method == "GET":
        return json_reply(templated.describe(_template("/".join(rest[1:]))), q=q)
    if head == "templated-policy" and len(rest) > 1 and rest[0] == "preview" and method == "POST":
        t = _template("/".join(rest[1:]))
        body = await read_json(req, required=False, prefix="Failed to decode request body")
        try:
            name = templated.check_variables(t, body if body is not None else {})
        except templated.TemplateError as exc:
            raise HTTPError(400, f"validation error for templated policy: {t.name}: {exc}") from None
        return json_reply(templated.synthetic_policy(t, name), q=q)
    raise HTTPError(405, f"method {method} not allowed")

