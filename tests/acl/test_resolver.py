"""Token resolution over a real store: default and anonymous tokens, roles and identities,
expiry, the TTL cache on an injected clock, and the down policy when the reader cannot answer."""

from __future__ import annotations

from typing import Any

import pytest

from pyconsul.acl import builtins
from pyconsul.acl.objects import (
    global_management_policy,
    management_token,
    policy_row,
    rfc3339,
    role_row,
    token_row,
)
from pyconsul.acl.resolver import ACLNotFound, ReaderUnavailable, ResolverSettings, TokenResolver
from pyconsul.clock import FakeClock
from pyconsul.fsm import commands as c
from tests.state.tables import Applied


class _Flaky:
    """The store's ACL table, made to fail on demand (no leader reachable)."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self.down = False

    def token_by_secret(self, ws: None, secret: str) -> Any:
        if self.down:
            raise ReaderUnavailable()
        return self.table.token_by_secret(ws, secret)

    def policy_by_id(self, ws: None, policy_id: str) -> Any:
        return self.table.policy_by_id(ws, policy_id)

    def role_by_id(self, ws: None, role_id: str) -> Any:
        return self.table.role_by_id(ws, role_id)


def _setup(**settings: Any) -> tuple[Applied, FakeClock, _Flaky, TokenResolver]:
    clock = FakeClock(1_800_000_000.0)
    a = Applied(clock)
    a.ok(c.ACLPolicySet(policy=global_management_policy()))
    a.ok(c.ACLPolicySet(policy=policy_row("p-read", "kv-read", rules='key_prefix "" { policy = "read" }')))
    a.ok(c.ACLPolicySet(policy=policy_row("p-web", "web", rules='service "web" { policy = "write" }')))
    a.ok(c.ACLRoleSet(role=role_row("r-web", "web-role", policies=[{"ID": "p-web"}])))
    a.ok(c.ACLTokenSet(token=token_row(builtins.ANONYMOUS_ACCESSOR_ID, "anonymous")))
    a.ok(c.ACLTokenSet(token=token_row("t-read", "s-read", policies=[{"ID": "p-read"}], roles=[{"ID": "r-web"}])))
    a.ok(c.ACLTokenSet(token=management_token("t-root", "s-root", "root", 0.0)))
    reader = _Flaky(a.store.acl)
    resolver = TokenResolver(reader, clock, ResolverSettings(default_policy="deny", **settings))
    return a, clock, reader, resolver


def test_policies_and_role_policies_combine() -> None:
    _, _, _, resolver = _setup()
    who = resolver.resolve("s-read")
    assert who.accessor_id == "t-read" and not who.anonymous
    assert who.authorizer.allowed("key", "read", "any/key")
    assert not who.authorizer.allowed("key", "write", "any/key")
    assert who.authorizer.allowed("service", "write", "web")  # from the role
    assert not who.authorizer.allowed("service", "read", "db")


def test_management_token_and_unknown_secret() -> None:
    _, _, _, resolver = _setup()
    assert resolver.resolve("s-root").authorizer.allowed("acl", "write")
    with pytest.raises(ACLNotFound, match="ACL not found"):
        resolver.resolve("no-such-secret")


def test_empty_secret_is_the_default_token_else_anonymous() -> None:
    _, _, _, resolver = _setup()
    anon = resolver.resolve("")
    assert anon.anonymous and anon.accessor_id == builtins.ANONYMOUS_ACCESSOR_ID
    assert not anon.authorizer.allowed("key", "read", "x")
    _, _, _, with_default = _setup(default_token="s-read")
    assert with_default.resolve("").accessor_id == "t-read"


def test_service_and_node_identities() -> None:
    a, _, _, resolver = _setup()
    a.ok(c.ACLTokenSet(token=token_row("t-id", "s-id", service_identities=[{"ServiceName": "api"}],
                                       node_identities=[{"NodeName": "n1", "Datacenter": "dc1"}])))
    authz = resolver.resolve("s-id").authorizer
    assert authz.allowed("service", "write", "api") and authz.allowed("service", "write", "api-sidecar-proxy")
    assert authz.allowed("service", "read", "other") and not authz.allowed("service", "write", "other")
    assert authz.allowed("node", "write", "n1") and not authz.allowed("node", "write", "n2")


def test_cache_holds_for_the_ttl_then_sees_changes() -> None:
    a, clock, _, resolver = _setup(token_ttl=30.0)
    assert resolver.resolve("s-read").authorizer.allowed("key", "read", "k")
    a.ok(c.ACLTokenDelete(accessor_ids=["t-read"]))
    clock.advance(29.0)
    assert resolver.resolve("s-read").accessor_id == "t-read"  # still cached
    clock.advance(2.0)
    with pytest.raises(ACLNotFound):
        resolver.resolve("s-read")


def test_expired_token_is_not_found_before_the_reaper_runs() -> None:
    a, clock, _, resolver = _setup(token_ttl=0.0)
    a.ok(c.ACLTokenSet(token=token_row("t-tmp", "s-tmp", policies=[{"ID": "p-read"}],
                                       expiration_time=rfc3339(clock.time() + 60))))
    assert resolver.resolve("s-tmp").accessor_id == "t-tmp"
    clock.advance(61)
    with pytest.raises(ACLNotFound):
        resolver.resolve("s-tmp")


@pytest.mark.parametrize("down_policy,cached_allows,uncached_allows", [
    ("extend-cache", True, False), ("async-cache", True, False), ("deny", False, False), ("allow", True, True),
])
def test_down_policy(down_policy: str, cached_allows: bool, uncached_allows: bool) -> None:
    _, clock, reader, resolver = _setup(down_policy=down_policy, token_ttl=10.0)
    resolver.resolve("s-read")
    clock.advance(11)
    reader.down = True
    assert resolver.resolve("s-read").authorizer.allowed("key", "read", "k") is cached_allows
    assert resolver.resolve("s-never-seen").authorizer.allowed("key", "read", "k") is uncached_allows


def test_agent_recovery_token_needs_no_reader() -> None:
    _, _, reader, resolver = _setup(agent_recovery_token="recover-me", node_name="node-a")
    reader.down = True
    authz = resolver.resolve("recover-me").authorizer
    assert authz.allowed("agent", "write", "node-a") and not authz.allowed("agent", "write", "node-b")
    assert not authz.allowed("key", "read", "k")


def test_an_expiring_token_leaves_the_cache_when_it_expires() -> None:
    a, clock, _, resolver = _setup(token_ttl=30.0)
    a.ok(c.ACLTokenSet(token=token_row("t-exp", "s-exp", policies=[{"ID": "p-read"}],
                                       expiration_time=rfc3339(clock.time() + 5))))
    assert resolver.resolve("s-exp").accessor_id == "t-exp"
    clock.advance(4)
    assert resolver.resolve("s-exp").accessor_id == "t-exp"  # cached, not yet expired
    clock.advance(2)
    with pytest.raises(ACLNotFound):
        resolver.resolve("s-exp")  # well inside the 30s TTL, but past its ExpirationTime


def test_a_local_revision_drops_cached_identities_at_once() -> None:
    a, _, reader, _ = _setup(token_ttl=3600.0)
    resolver = TokenResolver(reader, FakeClock(1_800_000_000.0), ResolverSettings(default_policy="deny", token_ttl=3600.0),
                             revision=a.store.acl.revision)
    assert resolver.resolve("s-read").authorizer.allowed("key", "read", "k")
    before = resolver.revision_seen()
    a.ok(c.ACLPolicySet(policy=policy_row("p-read", "kv-read", rules='key_prefix "" { policy = "deny" }')))
    assert not resolver.resolve("s-read").authorizer.allowed("key", "read", "k")
    assert resolver.revision_seen() != before
