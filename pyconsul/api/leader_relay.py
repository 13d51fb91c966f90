"""Operations only the leader performs, sent on to it by a follower as the same HTTP request.

A snapshot restore or a remove-peer changes what every server holds, so Raft accepts them only
from the leader itself (a peer's Raft call cannot ask for them). A follower that receives one
relays the request — with the caller's token, so the leader authorises it like any other — to
the leader's server port, where it is one of the forwarded API requests, and returns the answer.
Under internal RPC TLS (verify_outgoing) it dials the leader as Raft does: TLS with the agent's
outgoing context (its server certificate, so a leader under verify_incoming accepts it), and the
leader's certificate checked for `server.<dc>.<domain>` under verify_server_hostname.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
from aiohttp import web

from pyconsul.api.app import Reply
from pyconsul.consensus.errors import ForwardFailed, NoLeader

if TYPE_CHECKING:
    from pyconsul.api.app import APIContext

_PASS_HEADERS = ("X-Consul-Token", "Authorization", "Content-Type")
# Set on a relayed request: if leadership moved meanwhile, the receiver refuses rather than
# relaying again, so a request never circles.
RELAYED = "X-Consul-Relayed-To-Leader"


class OutgoingTLS(Protocol):
    """The agent's outgoing RPC TLS (pyconsul.tls.context.RPCContexts): None means plaintext."""

    client: ssl.SSLContext | None
    server_hostname: str


def _dial_options(ctx: APIContext) -> tuple[str, dict[str, Any]]:
    tls: OutgoingTLS | None = getattr(ctx.agent, "rpc_tls", None)
    if tls is None or tls.client is None:
        return "http", {}
    return "https", {"ssl": tls.client, "server_hostname": tls.server_hostname or None}


async def relay_to_leader(ctx: APIContext, req: web.Request, timeout: float = 60.0) -> Reply | None:
    """None when this server is the leader (handle the request here); else the leader's reply."""
    status = ctx.agent.consensus.leader_status()
    if status.is_leader:
        return None
    if not status.known_leader or not status.leader_addr or RELAYED in req.headers:
        raise NoLeader()
    headers = {h: req.headers[h] for h in _PASS_HEADERS if h in req.headers}
    headers[RELAYED] = "1"
    body = await req.read()
    scheme, tls = _dial_options(ctx)
    url = f"{scheme}://{status.leader_addr}{req.path_qs}"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
            async with session.request(req.method, url, data=body, headers=headers, **tls) as resp:
                data = await resp.read()
                ctype = resp.headers.get("Content-Type", "text/plain; charset=utf-8")
                return Reply(data, status=resp.status, content_type=ctype)
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise ForwardFailed(f"failed to reach the leader: {exc}") from None
