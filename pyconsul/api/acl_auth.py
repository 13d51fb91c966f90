"""/v1/acl/auth-method(s), /v1/acl/binding-rule(s), /v1/acl/login and /v1/acl/logout.

Reads need acl:read, writes acl:write (checked by `acl_ep.dispatch` before these run); login and
logout need no right. A missing method or rule reads as 404 (py-consul answers None) and
deletes as `true`, as Consul does. Login verifies the bearer token with the method (only `jwt`
with static keys is served), applies the method's binding rules and writes a token carrying
`AuthMethod`, local unless the method's TokenLocality is "global", expiring after the method's
MaxTokenTTL. A login whose rules grant nothing, or a bad bearer token, is 403. Logout deletes
only a token a login made.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from aiohttp import web

from pyconsul.acl import auth_methods as am
from pyconsul.acl import jwt_method
from pyconsul.acl.errors import ACL_NOT_FOUND
from pyconsul.acl.objects import rfc3339, token_row
from pyconsul.api.acl_ep import write
from pyconsul.api.app import APIContext, Reply, json_reply, read_json
from pyconsul.api.errors import HTTPError
from pyconsul.api.params import QueryOptions
from pyconsul.clock import SYSTEM_CLOCK
from pyconsul.fsm import commands as c

Row = dict[str, Any]
HEADS = ("auth-method", "auth-methods", "binding-rule", "binding-rules")
LOGIN_DESCRIPTION = "token created via login"


def _bad(exc: Exception) -> HTTPError:
    return HTTPError(400, str(exc))


async def dispatch(ctx: APIContext, req: web.Request, q: QueryOptions, head: str, rest: list[str]) -> Reply:
    method, table = req.method, ctx.store.acl
    if head == "auth-methods" and not rest and method == "GET":
        _, rows = table.list_auth_methods(None)
        return json_reply([am.method_stub(r) for r in rows], q=q)
    if head == "binding-rules" and not rest and method == "GET":
        _, rows = table.list_binding_rules(None, req.rel_url.query.get("authmethod", ""))
        return json_reply(rows, q=q)
    if head == "auth-method":
        return await _auth_method(ctx, req, q, "/".join(rest))
    if head == "binding-rule" and len(rest) <= 1:
        return await _binding_rule(ctx, req, q, rest[0] if rest else "")
    raise HTTPError(405, f"method {method} not allowed")


async def _auth_method(ctx: APIContext, req: web.Request, q: QueryOptions, name: str) -> Reply:
    method, table = req.method, ctx.store.acl
    if method not in ("GET", "PUT", "DELETE"):
        raise HTTPError(405, f"method {method} not allowed")
    if not name and method != "PUT":
        raise HTTPError(400, "Missing auth method name")
    if method == "GET":
        row = table.auth_method(None, name)[1]
        if row is None:
            raise HTTPError(404, "ACL auth method not found")
        return json_reply(row, q=q)
    if method == "DELETE":
        if table.auth_method(None, name)[1] is not None:
            await write(ctx, c.ACLAuthMethodDelete(name=name))
        return json_reply(True, q=q)
    try:
        body = am.lower(await read_json(req), "AuthMethod")
        if name:
            if body.get("name") and body["name"] != name:
                raise HTTPError(400, "AuthMethod Name in URL and payload do not match")
            body["name"] = name
        existing = table.auth_method(None, str(body.get("name") or ""))[1] if isinstance(body.get("name"), str) else None
        row = am.method_row(body, existing)
    except am.MethodError as exc:
        raise _bad(exc) from None
    return json_reply(await write(ctx, c.ACLAuthMethodSet(method=row)), q=q)


async def _binding_rule(ctx: APIContext, req: web.Request, q: QueryOptions, rule_id: str) -> Reply:
    method, table = req.method, ctx.store.acl
    if method not in ("GET", "PUT", "DELETE"):
        raise HTTPError(405, f"method {method} not allowed")
    if not rule_id and method != "PUT":
        raise HTTPError(400, "Missing binding rule ID")
    if method == "GET":
        row = table.binding_rule(None, rule_id)[1]
        if row is None:
            raise HTTPError(404, "ACL binding rule not found")
        return json_reply(row, q=q)
    if method == "DELETE":
        if table.binding_rule(None, rule_id)[1] is not None:
            await write(ctx, c.ACLBindingRuleDelete(rule_id=rule_id))
        return json_reply(True, q=q)
    try:
        body = am.lower(await read_json(req), "BindingRule")
        if body.get("id") and body["id"] != rule_id:
            raise HTTPError(400, "BindingRule ID in URL and payload do not match")
        existing = None
        if rule_id:
            try:
                uuid.UUID(rule_id)
            except ValueError:
                raise HTTPError(400, "Binding Rule ID invalid UUID") from None
            existing = table.binding_rule(None, rule_id)[1]
            if existing is None:
                raise HTTPError(400, f"cannot find binding rule {rule_id}")
        name = body.get("authmethod") or (existing or {}).get("AuthMethod", "")
        auth = table.auth_method(None, name)[1] if isinstance(name, str) and name else None
        row = am.rule_row(body, rule_id or str(uuid.uuid4()), existing, auth)
    except am.MethodError as exc:
        raise _bad(exc) from None
    return json_reply(await write(ctx, c.ACLBindingRuleSet(rule=row)), q=q)


def _datacenter(ctx: APIContext) -> str:
    return str(getattr(ctx.agent.config, "datacenter", "") or "dc1")


async def login(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    try:
        body = am.lower(await read_json(req, prefix="Failed to decode request body"), "Failed to decode request body")
    except am.MethodError as exc:
        raise _bad(exc) from None
    name, meta = body.get("authmethod") or "", body.get("meta") or {}
    if not isinstance(name, str) or not isinstance(meta, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise HTTPError(400, "Failed to decode request body: AuthMethod must be a string and Meta a map of strings")
    table = ctx.store.acl
    method = table.auth_method(None, name)[1]
    if method is None:
        raise HTTPError(403, f'{ACL_NOT_FOUND}: auth method "{name}" not found')
    now = SYSTEM_CLOCK.time()
    try:
        identity = jwt_method.verify(jwt_method.parse_config(method.get("Config")), body.get("bearertoken"), now)
        bindings = am.bind(table.list_binding_rules(None, name)[1], identity, _datacenter(ctx))
    except (jwt_method.LoginError, jwt_method.ConfigError, am.MethodError) as exc:
        raise HTTPError(403, f"Permission denied: {exc}") from None
    roles = [{"ID": r["ID"], "Name": r["Name"]} for n in bindings.role_names
             if (r := table.role_by_name(None, n)[1]) is not None]
    policies = [{"ID": p["ID"], "Name": p["Name"]} for n in bindings.policy_names
                if (p := table.policy_by_name(None, n)[1]) is not None]
    if not (roles or policies or bindings.service_identities or bindings.node_identities
            or bindings.templated_policies):
        raise HTTPError(403, "Permission denied")
    description = LOGIN_DESCRIPTION
    if meta:
        description += ": " + json.dumps(meta, separators=(",", ":"), sort_keys=True)
    ttl = am.method_ttl(method)
    row = token_row(
        accessor_id=str(uuid.uuid4()), secret_id=str(uuid.uuid4()), description=description,
        policies=policies, roles=roles, service_identities=bindings.service_identities or None,
        node_identities=bindings.node_identities or None, templated_policies=bindings.templated_policies or None,
        local=method.get("TokenLocality") != "global", expiration_time=rfc3339(now + ttl) if ttl else "",
        create_time=now, auth_method=name,
    )
    return json_reply(await write(ctx, c.ACLTokenSet(token=row)), q=q)


async def logout(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    if not q.token:
        raise HTTPError(401, "Supplied token does not exist")
    token = ctx.store.acl.token_by_secret(None, q.token)[1]
    if token is None:
        raise HTTPError(403, ACL_NOT_FOUND)
    if not token.get("AuthMethod"):
        raise HTTPError(403, "Permission denied")  # only a login's token can be logged out
    await write(ctx, c.ACLTokenDelete(accessor_ids=[token["AccessorID"]]))
    return json_reply(True, q=q)
