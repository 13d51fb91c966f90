"""/v1/config: config entries (PUT with ?cas, GET one, list by kind, DELETE with ?cas).

Replies as Consul's: PUT answers JSON `true`/`false` (a cas that does not match writes nothing
and answers false with 200); GET of a missing entry is 404 `Config entry not found for "<kind>" /
"<name>"`; DELETE answers `true`/`false` with ?cas and `{}` without. A body that does not decode
is 400 `Bad request: Request decoding failed: …`; an entry Consul's Validate refuses (or one that
would break a discovery chain: a router on a tcp service) is 400 with Consul's text (Consul
itself answers those from the RPC layer with a 500).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pyconsul.api.acl_names import require_name
from pyconsul.api.app import APIContext, Reply, json_reply, read_json
from pyconsul.api.errors import HTTPError
from pyconsul.api.params import QueryOptions
from pyconsul.entries import access
from pyconsul.entries.chain import ChainError, ChainRequest, compile_chain
from pyconsul.entries.kinds import (
    KINDS,
    PROXY_DEFAULTS,
    SERVICE_DEFAULTS,
    SERVICE_RESOLVER,
    SERVICE_ROUTER,
    SERVICE_SPLITTER,
    EntryError,
    normalize,
)
from pyconsul.fsm import commands as c
from pyconsul.state.store import StateStore
from pyconsul.state.watch import WatchSet

Row = dict[str, Any]
_CHAIN_KINDS = (SERVICE_DEFAULTS, PROXY_DEFAULTS, SERVICE_RESOLVER, SERVICE_ROUTER, SERVICE_SPLITTER)


def _cas(req: web.Request) -> int | None:
    raw = req.rel_url.query.get("cas")
    if raw is None:
        return None
    try:
        value = int(raw)
        if value < 0:
            raise ValueError
    except ValueError:
        raise HTTPError(400, f'Bad request: Request decoding failed: strconv.ParseUint: parsing "{raw}": '
                             "invalid syntax") from None
    return value


def _require(req: web.Request, checks: list[access.Check]) -> None:
    """The kind's ACL rule (`entries.access`), each check a 403 with Consul's text."""
    for resource, level, name in checks:
        require_name(req, resource, level, name or None)


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise HTTPError(400, f"invalid config entry kind: {kind}")
    return kind


def entry_error(exc: EntryError) -> HTTPError:
    return HTTPError(400, ("Bad request: " if exc.decoding else "") + exc.text())


def check_chains(store: StateStore, entry: Row, datacenter: str, removing: bool = False) -> None:
    """Refuse a write after which the chains it shapes no longer compile (Consul's graph check)."""
    kind, name = entry["Kind"], entry["Name"]
    if kind not in _CHAIN_KINDS:
        return
    entries = store.config_entries

    def lookup(k: str, n: str) -> Row | None:
        if (k, n) == (kind, name):
            return None if removing else entry
        return entries.get(None, k, n)[1]

    names = {name} if kind != PROXY_DEFAULTS else {n for (k, n) in entries.by_key if k in _CHAIN_KINDS}
    for service in sorted(names):
        try:
            compile_chain(ChainRequest(service, datacenter, ""), lookup)
        except ChainError as exc:
            raise HTTPError(400, str(exc)) from None


async def put(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    body = await read_json(req)
    try:
        entry = normalize(body)
    except EntryError as exc:
        raise entry_error(exc) from None
    _require(req, access.write_checks(entry))
    check_chains(ctx.store, entry, ctx.agent.config.datacenter)
    cas = _cas(req)
    verb = "set" if cas is None else "cas"
    result = await ctx.write(c.ConfigEntryOp(verb=verb, entry=entry, index=cas or 0))
    return json_reply(bool(result))


async def get(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    kind, name = _kind(req.match_info["kind"]), req.match_info["name"]
    _require(req, access.read_checks({"Kind": kind, "Name": name}))
    entries = ctx.store.config_entries
    reply = await ctx.blocking_json(q, req, lambda ws: entries.get(ws, kind, name))
    if reply.body == b"null":
        raise HTTPError(404, f'Config entry not found for "{kind}" / "{name}"')
    return reply


async def list_(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    kind = _kind(req.match_info["kind"])
    entries = ctx.store.config_entries

    def run(ws: WatchSet | None) -> tuple[int, list[Row]]:
        return entries.list(ws, kind)

    return await ctx.blocking_json(q, req, run, acl="config_entries")


async def delete(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    kind, name = _kind(req.match_info["kind"]), req.match_info["name"]
    _require(req, access.write_checks({"Kind": kind, "Name": name}))
    cas = _cas(req)
    stored = ctx.store.config_entries.by_key.get((kind, name))
    if stored is not None:
        check_chains(ctx.store, stored, ctx.agent.config.datacenter, removing=True)
    entry = {"Kind": kind, "Name": name}
    if cas is None:
        await ctx.write(c.ConfigEntryOp(verb="delete", entry=entry))
        return json_reply({})
    result = await ctx.write(c.ConfigEntryOp(verb="delete-cas", entry=entry, index=cas))
    return json_reply(bool(result))
