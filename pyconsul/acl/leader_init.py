"""What the leader writes once it leads, as Consul's initializeACLs does: the global-management
policy, the anonymous token (`00000000-0000-0000-0000-000000000002`, secret "anonymous"), and
the configured `acl.tokens.initial_management` token (global-management, not local, a fresh
accessor). Through Raft, so every server and every snapshot holds them. Only the primary
datacenter's leader writes them (secondaries receive them by ACL replication), as in Consul.

`init_command` is pure: it answers the one ACLInitTokens still needed, or None when the state
already has everything; the loop polls leadership (a new leader re-checks, which is a no-op when
the rows are there). Writing the initial-management token counts as the bootstrap.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from pyconsul.acl import builtins
from pyconsul.acl.objects import NewID, anonymous_token, global_management_policy, management_token, random_id
from pyconsul.clock import Clock
from pyconsul.fsm import commands as c

log = logging.getLogger("pyconsul.acl")
POLL = 0.5


class InitReader(Protocol):
    def token_by_accessor(self, ws: None, accessor: str) -> tuple[int, dict[str, Any] | None]: ...

    def token_by_secret(self, ws: None, secret: str) -> tuple[int, dict[str, Any] | None]: ...

    def policy_by_id(self, ws: None, policy_id: str) -> tuple[int, dict[str, Any] | None]: ...


def init_command(table: InitReader, initial_management: str, clock: Clock,
                 new_id: NewID = random_id) -> c.ACLInitTokens | None:
    now = clock.time()
    policies = [] if table.policy_by_id(None, builtins.GLOBAL_MANAGEMENT_ID)[1] else [global_management_policy()]
    tokens = []
    if table.token_by_accessor(None, builtins.ANONYMOUS_ACCESSOR_ID)[1] is None:
        tokens.append(anonymous_token(now))
    if initial_management and table.token_by_secret(None, initial_management)[1] is None:
        tokens.append(management_token(new_id(), initial_management, builtins.INITIAL_MANAGEMENT_DESCRIPTION, now))
    if not (policies or tokens):
        return None
    return c.ACLInitTokens(tokens=tokens, policies=policies, mark_bootstrap=bool(initial_management))


async def run(table: InitReader, initial_management: str, clock: Clock, is_leader: Callable[[], bool],
              write: Callable[[c.Command], Awaitable[Any]], poll: float = POLL) -> None:
    """Until the rows are there: on the leader, write what is missing. Later leaders find them."""
    while True:
        if is_leader():
            cmd = init_command(table, initial_management, clock)
            if cmd is None:
                return
            try:
                await write(cmd)
                for token in cmd.tokens:
                    log.info("Created ACL token", extra={"description": token["Description"]})
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # leadership moved mid-write: the next leader retries
                log.warning("ACL initialization failed", extra={"error": str(exc)})
        await asyncio.sleep(poll)
