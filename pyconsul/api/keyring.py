"""/v1/operator/keyring: list (GET), install (POST), use (PUT) and remove (DELETE) gossip keys on
every member, with Consul's shapes and texts.

A list answers one KeyringResponse per pool (WAN first on a cluster with servers, then each
datacenter's LAN: a server forwards the operation to one server of every other datacenter);
a change answers 200 with no body, or 500 with every pool's failure as one go-multierror text
(for instance "dc1 (LAN) error: 3/3 nodes reported failure" and each node's own message).
"""

from __future__ import annotations

from aiohttp import web

from pyconsul.api.app import APIContext, Reply, json_reply, read_json
from pyconsul.api.errors import HTTPError
from pyconsul.api.params import QueryOptions
from pyconsul.api.port import WAN_FORWARD_HEADER
from pyconsul.gossip.keyring_query import NOT_ENABLED, PoolResult, error_text

_OPS = {"GET": "list", "POST": "install", "PUT": "use", "DELETE": "remove"}
MAX_RELAY_FACTOR = 5


def _not_enabled(pools: list[PoolResult]) -> bool:
    """No member that answered has a keyring."""
    return all(not p.keys and p.messages and set(p.messages.values()) == {NOT_ENABLED} for p in pools)


def _check_params(req: web.Request, op: str) -> None:
    relay = req.query.get("relay-factor", "0")
    if not relay.isdigit() or int(relay) > MAX_RELAY_FACTOR:
        raise HTTPError(400, f"Error parsing relay-factor: Relay factor must be in range: [0, {MAX_RELAY_FACTOR}]")
    if op != "list" and req.query.get("local-only", "").lower() in ("1", "true"):
        raise HTTPError(400, "local-only can only be set for list requests")


async def keyring(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    op = _OPS[req.method]
    _check_params(req, op)
    key = ""
    if op != "list":
        body = await read_json(req)
        if not isinstance(body, dict) or not isinstance(body.get("Key", ""), str):
            raise HTTPError(400, "Request decode failed: json: cannot unmarshal into Go value of type "
                                 "structs.KeyringRequest")
        key = body.get("Key", "")
    forwarded = WAN_FORWARD_HEADER in req.headers  # another datacenter's server fans out
    local_only = op == "list" and req.query.get("local-only", "").lower() in ("1", "true")
    pools = await ctx.agent.keyring_operation(op, key, local_only=local_only, forwarded=forwarded, token=q.token)
    if forwarded:  # the asking server tallies every datacenter's pools itself
        return json_reply([p.to_forwarded_json() for p in pools], q=q)
    if _not_enabled(pools):
        raise HTTPError(500, NOT_ENABLED)
    if op == "list":
        return json_reply([p.to_json() for p in pools], q=q)
    errors = error_text(pools)
    if errors:
        raise HTTPError(500, errors)
    return Reply(b"")
