"""The check `api.app.authorize` makes when ACLs are on: one resolver, the route's Need, a 403.

Rules this gate keeps:
- A route without a declaration in `api.permissions.NEEDS` is refused (closed by omission).
- The request's token is resolved once (TokenResolver's TTL cache); an unknown or expired secret
  answers 403 `ACL not found`.
- A Need with a fixed segment is checked on that name (`key:write` on the key in the path).
- Lists (`Need.filtered`) are not refused: their handlers drop the rows the token cannot read
  (`api.acl_filter`). A single KV read is checked on its key.
- Where the name comes only from the body or the stored object (IN_HANDLER), the handlers in
  `NAMED_IN_HANDLER` check each name themselves (`api.acl_names`); for the rest the gate asks for
  the access on *every* name of the resources involved (no rule below may refuse it): stricter
  than Consul, but it never lets a write through on a name the token may not write.
"""

from __future__ import annotations

from aiohttp import web

from pyconsul.acl import builtins
from pyconsul.acl.enforce import require
from pyconsul.acl.errors import ACL_NOT_FOUND, PermissionDenied
from pyconsul.acl.resolver import ACLNotFound, ACLReader, Identity, ResolverSettings, TokenResolver
from pyconsul.acl.settings import ACLSettings
from pyconsul.acl.tokens import AgentTokens
from pyconsul.api.acl_filter import IDENTITY_KEY
from pyconsul.api.acl_remote import RemoteACLReader
from pyconsul.api.errors import HTTPError
from pyconsul.api.params import QueryOptions, query_bool
from pyconsul.api.permissions import NEEDS, NONE, Need, canonical, static_check
from pyconsul.clock import Clock

ACL_ROUTE = "/v1/acl/{path}"

# Resources a request may touch beyond its Need's own (whole-resource checks; see module doc).
_CATALOG = ("node", "service")
_ALSO: dict[str, tuple[str, ...]] = {
    # a prepared query serves catalog data
    **{path: _CATALOG for path in ("/v1/query", "/v1/query/{id}", "/v1/query/{id}/execute", "/v1/query/{id}/explain")},
}
# IN_HANDLER routes whose handlers check each name they touch (`api.acl_names`).
NAMED_IN_HANDLER = frozenset({
    "/v1/catalog/register", "/v1/catalog/deregister", "/v1/txn", "/v1/coordinate/update",
    "/v1/agent/service/register", "/v1/agent/service/deregister/{id}", "/v1/agent/service/maintenance/{id}",
    "/v1/agent/service/{id}", "/v1/agent/health/service/id/{id}",
    "/v1/agent/check/register", "/v1/agent/check/deregister/{id}", "/v1/agent/check/pass/{id}",
    "/v1/agent/check/warn/{id}", "/v1/agent/check/fail/{id}", "/v1/agent/check/update/{id}",
    "/v1/session/create", "/v1/session/destroy/{id}", "/v1/session/renew/{id}",
    "/v1/query", "/v1/query/{id}", "/v1/query/{id}/execute", "/v1/query/{id}/explain",
    "/v1/config", "/v1/config/{kind}/{name}",  # each kind's rule: pyconsul.entries.access
    # intentions on the destination (check: service:read on it), authorize on the Target
    "/v1/connect/intentions", "/v1/connect/intentions/exact", "/v1/connect/intentions/match",
    "/v1/connect/intentions/check", "/v1/connect/intentions/{id}", "/v1/agent/connect/authorize",
})


REVISION_KEY = "acl.revision"


def reply_identity(req: web.Request) -> str | None:
    """What a reply for this request depends on beyond its target: the token's accessor and the
    ACL revision it was resolved at; None when that cannot be pinned (no local ACL state, or an
    identity the down policy made), so the reply is not cached."""
    identity = req.get(IDENTITY_KEY)
    revision = req.get(REVISION_KEY)
    if identity is None or revision is None or not identity.accessor_id:
        return None
    return f"{identity.accessor_id}@{revision}"


class ACLGate:
    def __init__(self, table: ACLReader, clock: Clock, settings: ACLSettings, node_name: str,
                 tokens: AgentTokens | None = None, remote: RemoteACLReader | None = None) -> None:
        """`remote`: on a client agent, the reader that asks the servers (`table` is it)."""
        self.table = table
        self.remote = remote
        self.clock = clock
        self.node_name = node_name
        self.settings = settings
        self.tokens = tokens if tokens is not None else AgentTokens(settings)
        self._use()

    def set_agent_token(self, kind: str, value: str) -> bool:
        """PUT /v1/agent/token/:type: replace one of the agent's tokens (persisted when
        `enable_token_persistence` is on); False for an unknown type."""
        if not self.tokens.set(kind, value):
            return False
        self._use()
        return True

    def _use(self) -> None:
        settings, tokens = self.settings, self.tokens.values
        self._values = tokens  # the agent's tokens this resolver was made with (reload replaces them)
        self._fast_memo: dict[str, tuple[int, float, str]] = {}  # token → (revision, until, identity)
        self.resolver = TokenResolver(self.table, self.clock, ResolverSettings(
            default_policy=settings.default_policy, down_policy=settings.down_policy,
            token_ttl=settings.token_ttl, default_token=tokens.default,
            agent_recovery_token=tokens.agent_recovery, node_name=self.node_name,
            initial_management_token=settings.initial_management,
        ), revision=getattr(self.table, "revision", None))

    def fast_identity(self, token: str) -> str | None:
        """`reply_identity` for a fast-path read carrying `token` (None: take the full path).

        Memoized per token for as long as the ACL revision, the agent's tokens and the
        resolver's own cache entry stand, so a hot read pays two lookups, not a resolve."""
        resolver = self.current()
        revision_of = resolver.revision
        if revision_of is None:
            return None
        revision = revision_of()
        memo = self._fast_memo.get(token)
        if memo is not None and memo[0] == revision and memo[1] > self.clock.monotonic():
            return memo[2]
        try:
            identity = resolver.resolve(token)
        except ACLNotFound:
            return None
        if not identity.accessor_id or resolver.revision_seen() != revision:
            return None
        who = f"{identity.accessor_id}@{revision}"
        if len(self._fast_memo) >= 4096:
            self._fast_memo.clear()
        self._fast_memo[token] = (revision, resolver.cached_until(token), who)
        return who

    def current(self) -> TokenResolver:
        """The resolver for the agent's tokens as they are now (an API set or a reload)."""
        if self.tokens.values is not self._values:
            self._use()
        return self.resolver

    async def prefetch(self, token: str) -> None:
        """On a client agent, fetch the request's token from the servers before `authorize`."""
        if self.remote is not None:
            values = self.tokens.values
            secret = token or values.default or builtins.ANONYMOUS_SECRET_ID
            if secret not in (values.agent_recovery, self.settings.initial_management):
                await self.remote.refresh(secret)

    def authorize(self, req: web.Request, q: QueryOptions) -> Identity | None:
        route = req.match_info.route
        path = canonical(route.resource.canonical) if route.resource is not None else req.path
        need = NEEDS.get((req.method, path))
        if need is None:
            raise HTTPError(403, "Permission denied")
        if need == NONE:
            return None
        try:
            resolver = self.current()
            identity = resolver.resolve(q.token)
            # the ACL revision this identity was resolved at: per-token cached replies key on it
            req[REVISION_KEY] = resolver.revision_seen()
        except ACLNotFound:
            if path == ACL_ROUTE and req.match_info.get("path") in ("bootstrap", "login"):
                return None  # these need no token (login ignores it); a stale one must not block them
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
        if need.filtered:
            self._check_list(identity, need, req)
            return
        if path in NAMED_IN_HANDLER:
            return  # the handler checks the names the body or the stored object holds
        check = static_check(need, req.match_info, self.node_name)
        if check is not None:
            require(identity, check.resource, check.access, check.name)
            if need.resource == "key" and req.method == "DELETE" and query_bool(req, "recurse"):
                # delete ?recurse reaches every key below the named one
                if not identity.authorizer.all_below("key", "write", check.name or ""):
                    raise PermissionDenied(identity.accessor_id, "key", "write", check.name)
            return
        whole: dict[str, None] = dict.fromkeys(_ALSO.get(path, ()))
        whole[need.resource] = None  # IN_HANDLER without a handler check: every name
        for resource in whole:
            if not identity.authorizer.all_below(resource, need.access, ""):
                raise PermissionDenied(identity.accessor_id, resource, need.access)

    def _check_list(self, identity: Identity, need: Need, req: web.Request) -> None:
        """A filtered list: the handler drops unreadable rows; only a single KV read (no
        ?recurse or ?keys) is refused up front, and with `enable_key_list_policy` a KV list
        needs key:list on its prefix, as Consul checks."""
        if need.resource != "key":
            return
        key = req.match_info.get("key", "")
        lists = "recurse" in req.rel_url.query or "keys" in req.rel_url.query
        if not lists:
            require(identity, "key", "read", key)
        elif self.settings.enable_key_list_policy:
            require(identity, "key", "list", key)
