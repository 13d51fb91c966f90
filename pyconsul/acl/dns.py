"""Whether DNS may answer: DNS requests carry no token, so they use the agent's `dns` token, else
its `default` one, else anonymous — read at each query, so `/v1/agent/token/dns` and a reload
take effect at once. DNS answers only when that token may read every node and service; otherwise
every name is NXDOMAIN, so a default-deny agent's DNS shows nothing (Consul documents that DNS
without node/service read returns no records)."""

from __future__ import annotations

from collections.abc import Callable

from pyconsul.acl.resolver import ACLNotFound, ACLReader, ResolverSettings, TokenResolver
from pyconsul.acl.settings import ACLSettings
from pyconsul.clock import Clock


def dns_may_answer(table: ACLReader, clock: Clock, settings: ACLSettings,
                   token: Callable[[], str] | None = None) -> Callable[[], bool]:
    """`token`: the agent's DNS token now (default: the config's dns, else default, token)."""
    resolver = TokenResolver(table, clock, ResolverSettings(
        default_policy=settings.default_policy, down_policy=settings.down_policy,
        token_ttl=settings.token_ttl, initial_management_token=settings.initial_management,
    ), revision=getattr(table, "revision", None))
    fixed = settings.dns or settings.default

    def may_answer() -> bool:
        try:
            authz = resolver.resolve(token() if token is not None else fixed).authorizer
        except ACLNotFound:
            return False
        return authz.all_below("service", "read") and authz.all_below("node", "read")

    return may_answer
