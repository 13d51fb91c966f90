"""/v1/discovery-chain/:service: the compiled chain (GET, or POST with overrides), blocking on config entries."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pyconsul.api.app import APIContext, Reply, dumps, read_json
from pyconsul.api.errors import HTTPError
from pyconsul.api.params import QueryOptions
from pyconsul.entries.chain import ChainError, ChainRequest, compile_chain
from pyconsul.entries.decode import decode_struct
from pyconsul.entries.kinds import EntryError, go_seconds
from pyconsul.gocompat.durations import parse_duration
from pyconsul.state.config_entries import CONFIG_ENTRIES
from pyconsul.state.store import StateStore
from pyconsul.state.watch import WatchSet, table

Row = dict[str, Any]
OVERRIDES = ("OverrideConnectTimeout", "OverrideProtocol", "OverrideMeshGateway", "EvaluateInDatacenter")


def trust_domain(store: StateStore) -> str:
    """`<cluster id>.consul` once the Connect CA has a root; "" before (targets' SNI then ends in `.internal`)."""
    ca = getattr(store, "connect_ca", None)
    root = ca.active_root() if ca is not None and hasattr(ca, "active_root") else None
    if not root:
        return ""
    external = root.get("ExternalTrustDomain") or ""
    return f"{external.lower()}.consul" if external else ""


def _overrides(body: Any) -> Row:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise HTTPError(400, "Request decoding failed: expected an object")
    out: Row = {}
    table_ = {k.lower(): k for k in OVERRIDES}
    for key, value in body.items():
        name = table_.get(str(key).replace("_", "").lower())
        if name is None:
            raise HTTPError(400, f'Request decoding failed: 1 error occurred:\n\t* invalid config key "{key}"\n\n')
        out[name] = value
    timeout = out.get("OverrideConnectTimeout")
    if timeout not in (None, "", 0):
        try:
            seconds = timeout / 1e9 if isinstance(timeout, (int, float)) else parse_duration(str(timeout))
        except (ValueError, TypeError):
            raise HTTPError(400, f'Request decoding failed: time: invalid duration "{timeout}"') from None
        out["OverrideConnectTimeout"] = go_seconds(seconds)
    gw = out.get("OverrideMeshGateway")
    if gw is not None and not isinstance(gw, dict):
        raise HTTPError(400, "Request decoding failed: OverrideMeshGateway must be an object")
    out["OverrideMeshGateway"] = decode_struct(gw) if gw else {}
    return out


async def chain(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    service = req.match_info["service"]
    overrides = _overrides(await read_json(req, required=False)) if req.method == "POST" else {}
    dc = req.rel_url.query.get("compile-dc") or overrides.get("EvaluateInDatacenter") or ctx.agent.config.datacenter
    store = ctx.store
    entries = store.config_entries
    request = ChainRequest(service, dc, trust_domain(store),
                           override_protocol=str(overrides.get("OverrideProtocol") or "").lower(),
                           override_connect_timeout=str(overrides.get("OverrideConnectTimeout") or ""),
                           override_mesh_gateway=overrides.get("OverrideMeshGateway") or {})

    def run(ws: WatchSet | None) -> tuple[int, Row]:
        if ws is not None:
            ws.add(table(CONFIG_ENTRIES))
        try:
            return entries.index(), {"Chain": compile_chain(request, lambda k, n: entries.get(None, k, n)[1])}
        except (ChainError, EntryError, ValueError) as exc:
            raise HTTPError(400, str(exc)) from None

    if overrides:  # the reply cache keys on the URL only: a body of overrides is answered afresh
        idx, value = await ctx.blocking(q, run)
        return Reply(dumps(value, q.pretty), index=idx)
    return await ctx.blocking_json(q, req, run)
