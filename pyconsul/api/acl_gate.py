"""The check `api.app.authorize` makes when ACLs are on: one resolver, the route's Need, a 403.

Rules this gate keeps:
- A route without a declaration in `api.permissions.NEEDS` is refused (closed by omission).
- The request's token is resolved once (TokenResolver's TTL cache); an unknown or expired secret
  answers 403 `ACL not found`.
- A Need with a fixed segment is checked on that name (`key:write` on the key in the path).
- Where the name comes only from the body or the stored object (IN_HANDLER), and for lists the
  handlers do not yet filter row by row, the gate asks for the access on *every* name of the
  resources involved (no rule below may refuse it): stricter than Consul — a token limited to
  some services is refused instead of shown a filtered list — but it never hands out a row the
  token could not read or lets a write through on a name it may not write.
"""

from __future__ import annotations

from dataclasses import replace

from aiohttp import web

from pyconsul.acl.enforce import require
from pyconsul.acl.errors import ACL_NOT_FOUND, PermissionDenied
from pyconsul.acl.resolver import ACLNotFound, Identity, ResolverSettings, TokenResolver
from pyconsul.acl.settings import ACLSettings
from pyconsul.api.errors import HTTPError
from pyconsul.api.params import QueryOptions, query_bool
from pyconsul.api.permissions import NEEDS, NONE, Need, canonical, static_check
from pyconsul.clock import Clock
from pyconsul.state.acl import ACLTable

IDENTITY_KEY = "acl.identity"
ACL_ROUTE = "/v1/acl/{path}"
# /v1/agent/token/:type → the ACLSettings field it sets (old names as Consul still takes them)
AGENT_TOKEN_FIELDS = {
    "default": "default", "acl_token": "default", "agent": "agent", "acl_agent_token": "agent",
    "agent_recovery": "agent_recovery", "agent_master": "agent_recovery", "acl_agent_master_token": "agent_recovery",
    "replication": "replication", "acl_replication_token": "replication", "dns": "dns",
}

# Resources a request may touch beyond its Need's own (whole-resource checks; see module doc).
_CATALOG = ("node", "service")
_ALSO: dict[str, tuple[str, ...]] = {
    "/v1/catalog/register": _CATALOG,
    "/v1/catalog/deregister": _CATALOG,
    "/v1/txn": ("key", "node", "service", "session"),
    # a prepared query serves catalog data
    **{path: _CATALOG for path in ("/v1/query", "/v1/query/{id}", "/v1/query/{id}/execute", "/v1/query/{id}/explain")},
}


class ACLGate:
    def __init__(self, table: ACLTable, clock: Clock, settings: ACLSettings, node_name: str) -> None:
        self.table = table
        self.clock = clock
        self.node_name = node_name
        self._use(settings)

    def set_agent_token(self, kind: str, value: str) -> bool:
        """PUT /v1/agent/token/:type: replace one of the agent's tokens in memory (not persisted)."""
        field = AGENT_TOKEN_FIELDS.get(kind)
        if field is None:
            return False
        self._use(replace(self.settings, **{field: value}))
        return True

    def _use(self, settings: ACLSettings) -> None:
        self.settings = settings
        node_name, table, clock = self.node_name, self.table, self.clock
        self.resolver = TokenResolver(table, clock, ResolverSettings(
            default_policy=settings.default_policy, down_policy=settings.down_policy,
            token_ttl=settings.token_ttl, default_token=settings.default,
            agent_recovery_token=settings.agent_recovery, node_name=node_name,
            initial_management_token=settings.initial_management,
        ))

    def authorize(self, req: web.Request, q: QueryOptions) -> Identity | None:
        route = req.match_info.route
        path = canonical(route.resource.canonical) if route.resource is not None else req.path
        need = NEEDS.get((req.method, path))
        if need is None:
            raise HTTPError(403, "Permission denied")
        if need == NONE:
            return None
        try:
            identity = self.resolver.resolve(q.token)
        except ACLNotFound:
            if path == ACL_ROUTE and req.match_info.get("path") == "bootstrap":
                return None  # bootstrap needs no token; a stale one must not block it
            raise HTTPError(403, ACL_NOT_FOUND) from None
        if path == ACL_ROUTE:
            req[IDENTITY_KEY] = identity  # /v1/acl/* check their own needs (bootstrap, token/self)
            return identity
        try:
            self._check(identity, need, path, req)
        except PermissionDenied as exc:
            raise HTTPError(403, str(exc)) from None
        req[IDENTITY_KEY] = identity
        return identity


    def _check(self, identity: Identity, need: Need, path: str, req: web.Request) -> None:
        check = static_check(need, req.match_info, self.node_name)
        if check is not None:
            require(identity, check.resource, check.access, check.name)
        if need.resource == "key" and check is not None:
            # ?recurse, ?keys and delete ?recurse reach every key below the named one.
            reaches_below = query_bool(req, "recurse") or (req.method == "GET" and "keys" in req.rel_url.query)
            if reaches_below and not identity.authorizer.all_below("key", need.access, check.name or ""):
                raise PermissionDenied(identity.accessor_id, "key", need.access, check.name)
            return
        whole: dict[str, None] = dict.fromkeys(_ALSO.get(path, ()))
        if check is None:
            whole[need.resource] = None  # IN_HANDLER, or a list with no name to check
        if need.filtered and need.resource in _CATALOG:
            whole.update(dict.fromkeys(r for r in _CATALOG if check is None or r != need.resource))
        for resource in whole:
            if not identity.authorizer.all_below(resource, need.access, ""):
                raise PermissionDenied(identity.accessor_id, resource, need.access)
