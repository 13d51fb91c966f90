"""Whether DNS may answer: DNS requests carry no token, so they use the agent's `default` token
(else anonymous). DNS answers only when that token may read every node and service; otherwise
every name is NXDOMAIN, so a default-deny agent's DNS shows nothing (Consul documents that DNS
without node/service read returns no records)."""

from __future__ import annotations

from collections.abc import Callable

from pyconsul.acl.resolver import ACLNotFound, ACLReader, ResolverSettings, TokenResolver
from pyconsul.acl.settings import ACLSettings
from pyconsul.clock import Clock


def dns_may_answer(table: ACLReader, clock: Clock, settings: ACLSettings) -> Callable[[], bool]:
    resolver = TokenResolver(table, clock, ResolverSettings(
        default_policy=settings.default_policy, down_policy=settings.down_policy,
        token_ttl=settings.token_ttl, default_token=settings.dns or settings.default,
    ))

    def may_answer() -> bool:
        try:
            authz = resolver.resolve("").authorizer
        except ACLNotFound:
            return False
        return authz.all_below("service", "read") and authz.all_below("node", "read")

    return may_answer
