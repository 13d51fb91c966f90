"""Token resolution on a client agent: the servers hold the ACL tables, so a client asks them.

`RemoteACLReader` is the resolver's `ACLReader` for an agent with a server relay. Before a
request is authorized, `refresh(secret)` asks a server for `GET /v1/acl/token/self?expanded`
with that secret (the servers answer the token with its policies and roles, which the token may
always see of itself) and keeps the answer for `ttl` seconds of the injected clock. The
resolver then reads synchronously from what was fetched:
- a secret the servers do not know (403 `ACL not found`) resolves to no token;
- a secret never fetched, or servers unreachable, raises ReaderUnavailable, so the down policy
  decides (extend-cache keeps the last identity), as Consul's client agents do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pyconsul.acl.resolver import ReaderUnavailable
from pyconsul.api.port import ServerRelay
from pyconsul.clock import Clock
from pyconsul.consensus.errors import ForwardFailed

Row = dict[str, Any]
SELF_PATH = "/v1/acl/token/self?expanded"


@dataclass
class _Fetched:
    expires: float
    token: Row | None
    policies: dict[str, Row] = field(default_factory=dict)
    roles: dict[str, Row] = field(default_factory=dict)


class RemoteACLReader:
    def __init__(self, relay: ServerRelay, clock: Clock, ttl: float) -> None:
        self.relay = relay
        self.clock = clock
        self.ttl = ttl
        self._by_secret: dict[str, _Fetched] = {}
        self._policies: dict[str, Row] = {}
        self._roles: dict[str, Row] = {}

    async def refresh(self, secret: str) -> None:
        """Fetch `secret`'s token unless a fresh answer is held; failures leave the old one."""
        held = self._by_secret.get(secret)
        now = self.clock.monotonic()
        if held is not None and held.expires > now:
            return
        try:
            status, _, body = await self.relay.request("GET", SELF_PATH, None, {"X-Consul-Token": secret})
        except ForwardFailed:
            return
        if status == 403 and b"ACL not found" in body:
            self._by_secret[secret] = _Fetched(now + self.ttl, None)
            return
        if status != 200:
            return
        try:
            row = json.loads(body)
        except ValueError:
            return
        policies = {p["ID"]: p for p in row.pop("ExpandedPolicies", None) or ()}
        roles = {r["ID"]: r for r in row.pop("ExpandedRoles", None) or ()}
        self._policies.update(policies)
        self._roles.update(roles)
        self._by_secret[secret] = _Fetched(now + self.ttl, row, policies, roles)

    def token_by_secret(self, ws: None, secret: str) -> tuple[int, Row | None]:
        held = self._by_secret.get(secret)
        if held is None:
            raise ReaderUnavailable()
        return 0, held.token

    def policy_by_id(self, ws: None, policy_id: str) -> tuple[int, Row | None]:
        return 0, self._policies.get(policy_id)

    def role_by_id(self, ws: None, role_id: str) -> tuple[int, Row | None]:
        return 0, self._roles.get(role_id)
