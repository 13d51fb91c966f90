"""Resolving a request's secret to who it is and what it may do: once per token per TTL.

`TokenResolver.resolve(secret)` answers an `Identity` (accessor and authorizer) or raises
ACLNotFound (unknown or expired secret; the HTTP layer answers 403 `ACL not found`). An empty
secret means the agent's `default` token, else the anonymous token.

Caching: a resolved identity is kept for `token_ttl` seconds of the injected clock, or until the
ACL tables' revision moves when the state is local (`revision`); a parsed
policy is kept by (ID, ModifyIndex), so a policy change takes effect at once on every token
that holds it once its own cache entry expires. When the reader cannot answer (no leader), the
down policy decides: "allow" → allow-all, "deny" → deny-all, "extend-cache"/"async-cache" →
the last resolved identity even if stale, else deny-all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pyconsul import telemetry
from pyconsul.acl import builtins, templated
from pyconsul.acl.authorizer import ALLOW_ALL, DENY_ALL, ChainedAuthorizer, token_authorizer
from pyconsul.acl.errors import ACL_NOT_FOUND
from pyconsul.acl.objects import parse_rfc3339
from pyconsul.acl.rules import Rule, Rules, RulesError, parse_rules
from pyconsul.clock import Clock

Row = dict[str, Any]


# The accessor reported for the configured initial-management secret before the leader has
# written its state row (acl/leader_init.py).
INITIAL_MANAGEMENT_ACCESSOR = "initial-management"


class ACLNotFound(Exception):
    def __init__(self) -> None:
        super().__init__(ACL_NOT_FOUND)


class ReaderUnavailable(Exception):
    """The ACL reader cannot answer now (no leader reachable): the down policy decides."""


class ACLReader(Protocol):
    """The three lookups resolution needs (the state store's ACL table has them)."""

    def token_by_secret(self, ws: None, secret: str) -> tuple[int, Row | None]: ...

    def policy_by_id(self, ws: None, policy_id: str) -> tuple[int, Row | None]: ...

    def role_by_id(self, ws: None, role_id: str) -> tuple[int, Row | None]: ...


@dataclass(frozen=True)
class Identity:
    accessor_id: str
    authorizer: ChainedAuthorizer
    anonymous: bool = False


@dataclass(frozen=True)
class ResolverSettings:
    default_policy: str = "allow"
    down_policy: str = "extend-cache"
    token_ttl: float = 30.0
    default_token: str = ""  # acl.tokens.default
    agent_recovery_token: str = ""  # acl.tokens.agent_recovery: works with no server at all
    # acl.tokens.initial_management: a management token on every server that has it configured
    # (Consul's leader also writes it into the state; resolving it from config needs no leader).
    initial_management_token: str = ""
    node_name: str = ""


def service_identity_rules(name: str) -> Rules:
    """What a service identity grants (Consul's synthetic policy), built without text so no name
    can smuggle in rules."""
    return Rules((
        Rule("service", name, False, "write"),
        Rule("service", f"{name}-sidecar-proxy", False, "write"),
        Rule("service", "", True, "read"),
        Rule("node", "", True, "read"),
    ))


def node_identity_rules(name: str) -> Rules:
    return Rules((Rule("node", name, False, "write"), Rule("service", "", True, "read")))


class TokenResolver:
    def __init__(self, reader: ACLReader, clock: Clock, settings: ResolverSettings,
                 revision: Callable[[], int] | None = None) -> None:
        """`revision`: the ACL tables' index where the state is local; when it moves, every
        cached identity goes, so a token or policy change is seen by the next request."""
        self.reader = reader
        self.clock = clock
        self.settings = settings
        self.revision = revision
        self._seen_revision = -1
        self._identities: dict[str, tuple[float, Identity]] = {}  # secret → (expiry, identity)
        self._expires_at: float | None = None  # the last loaded token's ExpirationTime (epoch)
        self._policies: dict[tuple[str, int], Rules] = {}

    def resolve(self, secret: str) -> Identity:
        secret = secret or self.settings.default_token or builtins.ANONYMOUS_SECRET_ID
        settings = self.settings
        if settings.agent_recovery_token and secret == settings.agent_recovery_token:
            return self._agent_recovery()
        if settings.initial_management_token and secret == settings.initial_management_token:
            # the leader writes it into the state; until then (or with no leader) the config answers
            try:
                stored = self.reader.token_by_secret(None, secret)[1]
            except ReaderUnavailable:
                stored = None
            if stored is None:
                return Identity(INITIAL_MANAGEMENT_ACCESSOR, token_authorizer([], "deny", management=True))
        started = telemetry.now()
        if self.revision is not None:
            current = self.revision()
            if current != self._seen_revision:
                self._identities.clear()
                self._seen_revision = current
        try:
            now = self.clock.monotonic()
            cached = self._identities.get(secret)
            if cached is not None and cached[0] > now:
                telemetry.incr_counter("acl.token.cache_hit")
                return cached[1]
            telemetry.incr_counter("acl.token.cache_miss")
            try:
                identity = self._load(secret)
            except ReaderUnavailable:
                return self._down(cached)
            until = now + settings.token_ttl
            if self._expires_at is not None:  # an expiring token leaves the cache when it expires
                until = min(until, now + (self._expires_at - self.clock.time()))
            self._identities[secret] = (until, identity)
            return identity
        finally:
            telemetry.measure_since("acl.ResolveToken", started)

    def cached_until(self, secret: str) -> float:
        """When the cached identity of `secret` lapses (monotonic; 0 = not cached, e.g. the
        configured tokens that never enter the cache)."""
        entry = self._identities.get(secret or self.settings.default_token or builtins.ANONYMOUS_SECRET_ID)
        return entry[0] if entry is not None else 0.0

    def revision_seen(self) -> int | None:
        """The ACL revision the last resolve ran at (None without a local revision)."""
        return self._seen_revision if self.revision is not None else None

    def forget(self) -> None:
        """Drop every cached identity (after a token or policy write made here)."""
        self._identities.clear()

    def _load(self, secret: str) -> Identity:
        self._expires_at = None
        _, token = self.reader.token_by_secret(None, secret)
        if token is None:
            if secret == builtins.ANONYMOUS_SECRET_ID:
                # Before the leader has written the anonymous token: it has no policies.
                return Identity(builtins.ANONYMOUS_ACCESSOR_ID, self._chain([]), anonymous=True)
            raise ACLNotFound()
        expires = token.get("ExpirationTime")
        if expires:
            self._expires_at = parse_rfc3339(expires)
            if self._expires_at <= self.clock.time():
                raise ACLNotFound()
        rule_sets: list[Rules] = []
        management = False
        policy_ids = [p["ID"] for p in token.get("Policies") or ()]
        for link in token.get("Roles") or ():
            _, role = self.reader.role_by_id(None, link["ID"])
            if role is None:
                continue
            policy_ids += [p["ID"] for p in role.get("Policies") or ()]
            rule_sets += self._identity_rules(role)
        for policy_id in policy_ids:
            if policy_id == builtins.GLOBAL_MANAGEMENT_ID:
                management = True
                continue
            rules = self._policy_rules(policy_id)
            if rules is not None:
                rule_sets.append(rules)
        rule_sets += self._identity_rules(token)
        anonymous = token["AccessorID"] == builtins.ANONYMOUS_ACCESSOR_ID
        if management:
            return Identity(token["AccessorID"], token_authorizer([], "deny", management=True), anonymous)
        return Identity(token["AccessorID"], self._chain(rule_sets), anonymous)

    def _policy_rules(self, policy_id: str) -> Rules | None:
        _, policy = self.reader.policy_by_id(None, policy_id)
        if policy is None:
            return None
        key = (policy_id, int(policy.get("ModifyIndex", 0)))
        rules = self._policies.get(key)
        if rules is None:
            try:
                rules = parse_rules(policy.get("Rules", ""))
            except RulesError:
                rules = Rules()  # validated on write; a bad stored policy grants nothing
            self._policies[key] = rules
        return rules

    def _identity_rules(self, holder: Row) -> list[Rules]:
        out = [service_identity_rules(s["ServiceName"]) for s in holder.get("ServiceIdentities") or ()]
        out += [node_identity_rules(n["NodeName"]) for n in holder.get("NodeIdentities") or ()]
        out += [templated.rules_of(t) for t in holder.get("TemplatedPolicies") or ()]
        return out

    def _chain(self, rule_sets: list[Rules]) -> ChainedAuthorizer:
        return token_authorizer(rule_sets, self.settings.default_policy)

    def _agent_recovery(self) -> Identity:
        rules = Rules((Rule("agent", self.settings.node_name, False, "write"), Rule("node", "", True, "read")))
        return Identity("agent-recovery", token_authorizer([rules], "deny"))

    def _down(self, cached: tuple[float, Identity] | None) -> Identity:
        policy = self.settings.down_policy
        if policy == "allow":
            return Identity("", ChainedAuthorizer(ALLOW_ALL))
        if policy in ("extend-cache", "async-cache") and cached is not None:
            return cached[1]
        return Identity("", ChainedAuthorizer(DENY_ALL))
