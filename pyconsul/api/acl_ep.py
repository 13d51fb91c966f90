"""/v1/acl/*: bootstrap, tokens (with clone and expiry), policies, roles (`api.acl_roles`), auth
methods, binding rules, login and logout (`api.acl_auth`) and templated policies
(`api.acl_templated`).

With ACLs off every ACL endpoint answers as Consul does: 401 `ACL support disabled` (py-consul
raises ACLDisabled on it). With them on, each endpoint checks its own need (the route table
declares these IN_HANDLER): bootstrap and token/self need no right, reads need acl:read, writes
acl:write. Secrets in lists are `<hidden>` unless the caller has acl:write.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from aiohttp import web

from pyconsul.acl import builtins, templated
from pyconsul.acl.enforce import require
from pyconsul.acl.errors import ACL_DISABLED, ACL_NOT_FOUND, PermissionDenied
from pyconsul.acl.objects import (
    anonymous_token,
    global_management_policy,
    management_token,
    parse_rfc3339,
    policy_row,
    rfc3339,
    token_row,
)
from pyconsul.acl.resolver import INITIAL_MANAGEMENT_ACCESSOR, ACLNotFound, Identity
from pyconsul.acl.rules import RulesError, parse_rules
from pyconsul.api.acl_filter import IDENTITY_KEY
from pyconsul.api.acl_identities import node_identities, service_identities
from pyconsul.api.app import APIContext, Reply, json_reply, read_json
from pyconsul.api.errors import HTTPError
from pyconsul.api.params import QueryOptions
from pyconsul.clock import SYSTEM_CLOCK
from pyconsul.durations import parse_duration
from pyconsul.fsm import commands as c
from pyconsul.state.errors import StateError

Row = dict[str, Any]
HIDDEN = "<hidden>"
RESET_FILE = "acl-bootstrap-reset"
MIN_EXPIRATION_TTL, MAX_EXPIRATION_TTL = 60.0, 86400.0  # Consul's acl_token_{min,max}_expiration_ttl


def _identity(ctx: APIContext, req: web.Request, q: QueryOptions) -> Identity:
    identity = req.get(IDENTITY_KEY)
    if identity is None:
        assert ctx.acl is not None
        try:
            identity = ctx.acl.resolver.resolve(q.token)
        except ACLNotFound:
            raise HTTPError(403, ACL_NOT_FOUND) from None
    return identity


def _need(identity: Identity, access: str) -> None:
    try:
        require(identity, "acl", access)
    except PermissionDenied as exc:
        raise HTTPError(403, str(exc)) from None


def lower(body: Any, what: str) -> dict[str, Any]:
    """Consul decodes these bodies case-insensitively (py-consul sends "rules")."""
    if not isinstance(body, dict):
        raise HTTPError(400, f"{what} decoding failed: expected an object")
    return {str(k).lower(): v for k, v in body.items()}


async def write(ctx: APIContext, cmd: c.Command) -> Any:
    result = await ctx.agent.write(cmd)
    if ctx.acl is not None:
        ctx.acl.resolver.forget()  # this agent sees its own change at once
    if isinstance(result, StateError):
        text = str(result)
        raise HTTPError(403 if "Permission denied" in text else 400, text)
    return result


async def dispatch(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    from pyconsul.api import acl_auth, acl_roles, acl_templated  # they build on this module's helpers

    if ctx.acl is None:
        raise HTTPError(401, ACL_DISABLED)
    parts = req.match_info.get("path", "").split("/")
    method = req.method
    head, rest = parts[0], parts[1:]
    if head == "bootstrap" and method == "PUT" and not rest:
        return await bootstrap(ctx, req, q)
    if head in ("login", "logout") and not rest:  # these need no right, and login takes no token
        if method != "POST":
            raise HTTPError(405, f"method {method} not allowed")
        return await (acl_auth.login if head == "login" else acl_auth.logout)(ctx, req, q)
    identity = _identity(ctx, req, q)
    if not (head == "token" and rest == ["self"]):
        # a templated-policy preview is a POST that writes nothing: read is enough
        _need(identity, "read" if method == "GET" or head == "templated-policy" else "write")
    if head == "token" and rest == ["self"] and method == "GET":
        expanded = "expanded" in req.rel_url.query
        _, row = ctx.store.acl.token_by_accessor(None, identity.accessor_id)
        if row is None and expanded:
            row = _unstored_self(identity)
        if row is None:
            raise HTTPError(404, "Supplied token does not exist")
        if expanded:  # a client agent resolving this token: its own policies and roles with it
            row = {**row, **_expansion(ctx, row)}
        return json_reply(row, q=q)
    if head == "tokens" and method == "GET" and not rest:
        _need(identity, "read")
        query = req.rel_url.query
        _, rows = ctx.store.acl.list_tokens(None, query.get("policy", ""), query.get("role", ""))
        if query.get("servicename"):
            rows = [r for r in rows if any(s["ServiceName"] == query["servicename"]
                                           for s in r.get("ServiceIdentities") or ())]
        if query.get("authmethod"):
            rows = [r for r in rows if r.get("AuthMethod") == query["authmethod"]]
        if not identity.authorizer.allowed("acl", "write"):
            rows = [{**r, "SecretID": HIDDEN} for r in rows]
        return json_reply(rows, q=q)
    if head == "policies" and method == "GET" and not rest:
        _need(identity, "read")
        _, rows = ctx.store.acl.list_policies(None)
        return json_reply([{k: v for k, v in r.items() if k != "Rules"} for r in rows], q=q)
    if head == "roles" and method == "GET" and not rest:
        return await acl_roles.roles(ctx, req, q)
    if head == "role":
        return await acl_roles.role(ctx, req, q, rest)
    if head in acl_auth.HEADS:
        return await acl_auth.dispatch(ctx, req, q, head, rest)
    if head in acl_templated.HEADS:
        return await acl_templated.dispatch(ctx, req, q, head, rest)
    if head == "token":
        return await _token(ctx, req, q, identity, rest)
    if head == "policy":
        return await _policy(ctx, req, q, identity, rest)
    raise HTTPError(404, "Invalid URL path: not a recognized HTTP API endpoint")


def _unstored_self(identity: Identity) -> Row | None:
    """Tokens that resolve without a state row: the anonymous token before it is written, and
    the configured initial-management secret (a management token)."""
    if identity.anonymous or identity.accessor_id == builtins.ANONYMOUS_ACCESSOR_ID:
        return anonymous_token(0.0)
    if identity.accessor_id == INITIAL_MANAGEMENT_ACCESSOR:
        return management_token(INITIAL_MANAGEMENT_ACCESSOR, "", builtins.INITIAL_MANAGEMENT_DESCRIPTION, 0.0)
    return None


def _expansion(ctx: APIContext, token: Row) -> Row:
    """`?expanded` on token/self: the rows of the token's roles and of every policy it reaches."""
    table = ctx.store.acl
    roles = [r for link in token.get("Roles") or () if (r := table.role_by_id(None, link["ID"])[1]) is not None]
    policy_ids = [p["ID"] for holder in (token, *roles) for p in holder.get("Policies") or ()]
    policies = [p for pid in dict.fromkeys(policy_ids) if (p := table.policy_by_id(None, pid)[1]) is not None]
    return {"ExpandedPolicies": policies, "ExpandedRoles": roles}


async def disabled(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    raise HTTPError(401, ACL_DISABLED)


async def bootstrap(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    body = lower(await read_json(req, required=False) or {}, "Bootstrap")
    secret = str(body.get("bootstrapsecret") or uuid.uuid4())
    reset_path = Path(ctx.agent.config.data_dir or ".") / RESET_FILE
    reset_index = 0
    try:
        reset_index = int(reset_path.read_text().strip())
    except (OSError, ValueError):
        pass
    if ctx.store.acl.policy_by_id(None, builtins.GLOBAL_MANAGEMENT_ID)[1] is None:
        await write(ctx, c.ACLPolicySet(policy=global_management_policy()))
    token = management_token(str(uuid.uuid4()), secret, builtins.BOOTSTRAP_DESCRIPTION, SYSTEM_CLOCK.time())
    row = await write(ctx, c.ACLBootstrap(token=token, reset_index=reset_index))
    if reset_index:
        try:
            os.unlink(reset_path)
        except OSError:
            pass
    return json_reply({**row, "ID": row["SecretID"]}, q=q)


def links(ctx: APIContext, items: Any, kind: str) -> list[Row]:
    """Policy or role links by ID or Name, as Consul accepts them; an unknown one is a 400."""
    table = ctx.store.acl
    by_id, by_name = getattr(table, f"{kind}_by_id"), getattr(table, f"{kind}_by_name")
    out: list[Row] = []
    for item in items or ():
        link = lower(item, "Token")
        pid, name = str(link.get("id") or ""), str(link.get("name") or "")
        row = by_id(None, pid)[1] if pid else by_name(None, name)[1]
        if row is None:
            raise HTTPError(400, f"No such ACL {kind} with {'ID' if pid else 'name'} \"{pid or name}\"")
        out.append({"ID": row["ID"], "Name": row["Name"]})
    return out


def checked_templated(items: Any, holder: str) -> list[Row] | None:
    try:
        return templated.templated_policies(items, holder)
    except templated.TemplateError as exc:
        raise HTTPError(400, str(exc)) from None


def _expiration(body: Row, now: float) -> str:
    """ExpirationTTL (a duration, or nanoseconds) or ExpirationTime (RFC 3339), 1m to 24h ahead."""
    ttl_in, time_in = body.get("expirationttl"), body.get("expirationtime")
    if ttl_in and time_in:
        raise HTTPError(400, "Expiration TTL and Expiration Time cannot both be set")
    if time_in:
        try:
            ttl = parse_rfc3339(str(time_in)) - now
        except ValueError:
            raise HTTPError(400, "Token decoding failed: invalid ExpirationTime") from None
    elif ttl_in:
        try:
            ttl = parse_duration(ttl_in) if isinstance(ttl_in, str) else float(ttl_in) / 1e9
        except (TypeError, ValueError):
            raise HTTPError(400, "Token decoding failed: invalid ExpirationTTL") from None
    else:
        return ""
    if ttl < 0:
        raise HTTPError(400, "Token Expiration TTL/Time cannot be in the past" if time_in
                        else "Token Expiration TTL cannot be negative")
    if not MIN_EXPIRATION_TTL <= ttl <= MAX_EXPIRATION_TTL:
        raise HTTPError(400, "Invalid Token: ExpirationTTL must be between 1m0s and 24h0m0s")
    return rfc3339(now + ttl)


async def _token(ctx: APIContext, req: web.Request, q: QueryOptions, identity: Identity, rest: list[str]) -> Reply:
    method = req.method
    if method == "GET" and len(rest) == 1:
        _need(identity, "read")
        _, row = ctx.store.acl.token_by_accessor(None, rest[0])
        if row is None:
            raise HTTPError(403, ACL_NOT_FOUND)
        if not identity.authorizer.allowed("acl", "write"):
            row = {**row, "SecretID": HIDDEN}
        return json_reply(row, q=q)
    _need(identity, "write")
    if method == "DELETE" and len(rest) == 1:
        if rest[0] == identity.accessor_id:
            raise HTTPError(403, "Permission denied: Deletion of the request's authorization token is not permitted")
        await write(ctx, c.ACLTokenDelete(accessor_ids=[rest[0]]))
        return json_reply(True, q=q)
    if method == "PUT" and len(rest) == 2 and rest[1] == "clone":
        return await _clone(ctx, req, q, rest[0])
    if method != "PUT" or len(rest) > 1:
        raise HTTPError(405, f"method {method} not allowed")
    body = lower(await read_json(req), "Token")
    old = None
    if rest:
        _, old = ctx.store.acl.token_by_accessor(None, rest[0])
        if old is None:
            raise HTTPError(403, ACL_NOT_FOUND)
        if body.get("accessorid") and body["accessorid"] != rest[0]:
            raise HTTPError(400, "Token Accessor ID in URL and payload do not match")
    now = SYSTEM_CLOCK.time()
    expiration = ""
    if old is None and body.get("authmethod"):
        raise HTTPError(400, "AuthMethod field is disallowed outside of Login")
    if old is None:
        expiration = _expiration(body, now)
    elif body.get("expirationtime") and body["expirationtime"] != old.get("ExpirationTime"):
        raise HTTPError(400, "Cannot change expiration time")
    row = token_row(
        accessor_id=old["AccessorID"] if old else str(body.get("accessorid") or uuid.uuid4()),
        secret_id=old["SecretID"] if old else str(body.get("secretid") or uuid.uuid4()),
        description=str(body.get("description") or ""),
        policies=links(ctx, body.get("policies"), "policy"),
        roles=links(ctx, body.get("roles"), "role"),
        service_identities=service_identities(body.get("serviceidentities")),
        node_identities=node_identities(body.get("nodeidentities")),
        templated_policies=checked_templated(body.get("templatedpolicies"), "token"),
        local=bool(body.get("local", False)),
        expiration_time=expiration or (old or {}).get("ExpirationTime", ""),
        create_time=now,
        auth_method=(old or {}).get("AuthMethod", ""),
    )
    if old:
        row["CreateTime"] = old["CreateTime"]
    return json_reply(await write(ctx, c.ACLTokenSet(token=row)), q=q)


async def _clone(ctx: APIContext, req: web.Request, q: QueryOptions, accessor: str) -> Reply:
    """A new token (new accessor and secret) with the original's links, identities, locality,
    expiration, and its description unless the body gives one."""
    body = lower(await read_json(req, required=False) or {}, "Token")
    _, old = ctx.store.acl.token_by_accessor(None, accessor)
    if old is None:
        raise HTTPError(403, ACL_NOT_FOUND)
    if old.get("AuthMethod"):
        raise HTTPError(400, "Cannot clone a token created from an auth method")
    row = token_row(
        accessor_id=str(uuid.uuid4()), secret_id=str(uuid.uuid4()),
        description=str(body["description"]) if body.get("description") else old.get("Description", ""),
        policies=old.get("Policies"), roles=old.get("Roles"),
        service_identities=old.get("ServiceIdentities"), node_identities=old.get("NodeIdentities"),
        templated_policies=old.get("TemplatedPolicies"),
        local=bool(old.get("Local")), expiration_time=old.get("ExpirationTime", ""),
        create_time=SYSTEM_CLOCK.time(),
    )
    return json_reply(await write(ctx, c.ACLTokenSet(token=row)), q=q)


async def _policy(ctx: APIContext, req: web.Request, q: QueryOptions, identity: Identity, rest: list[str]) -> Reply:
    method = req.method
    if method == "GET" and rest:
        _need(identity, "read")
        if rest[0] == "name" and len(rest) > 1:
            _, row = ctx.store.acl.policy_by_name(None, "/".join(rest[1:]))
        else:
            _, row = ctx.store.acl.policy_by_id(None, rest[0])
        if row is None:
            raise HTTPError(404, "ACL policy not found")
        return json_reply(row, q=q)
    _need(identity, "write")
    if method == "DELETE" and len(rest) == 1:
        await write(ctx, c.ACLPolicyDelete(policy_id=rest[0]))
        return json_reply(True, q=q)
    if method != "PUT" or len(rest) > 1:
        raise HTTPError(405, f"method {method} not allowed")
    body = lower(await read_json(req), "Policy")
    if not rest and body.get("id"):
        raise HTTPError(400, "Cannot specify the ID when creating a new policy")
    if rest and body.get("id") and body["id"] != rest[0]:
        raise HTTPError(400, "Policy ID in URL and payload do not match")
    name = str(body.get("name") or "")
    if not name:
        raise HTTPError(400, "Missing policy Name")
    rules = body.get("rules") or ""
    if not isinstance(rules, str):
        raise HTTPError(400, "Policy decoding failed: Rules must be a string")
    try:
        parse_rules(rules)
    except RulesError as exc:
        raise HTTPError(400, f"Failed to parse ACL rules: {exc}") from None
    policy_id = rest[0] if rest else str(uuid.uuid4())
    if rest and ctx.store.acl.policy_by_id(None, policy_id)[1] is None:
        raise HTTPError(404, "Cannot find policy to update")
    row = policy_row(policy_id, name, str(body.get("description") or ""), rules, list(body.get("datacenters") or []))
    return json_reply(await write(ctx, c.ACLPolicySet(policy=row)), q=q)
