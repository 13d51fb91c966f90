"""/v1/connect/intentions*, /v1/agent/connect/authorize: intentions as a view over
`service-intentions` config entries (`pyconsul/connect/intentions.py` holds the rules).

Every change is a read-modify-write of the destination's entry with check-and-set on its
ModifyIndex (retried when another write got there first), so concurrent changes to different
sources of one destination never lose each other.
"""

from __future__ import annotations

import datetime
import json
import uuid
from typing import Any
from urllib.parse import quote

from aiohttp import web

from pyconsul.acl.enforce import FILTERED_HEADER, require
from pyconsul.acl.errors import PermissionDenied
from pyconsul.api.acl_gate import IDENTITY_KEY
from pyconsul.api.app import APIContext, Reply, dumps, json_reply, read_json
from pyconsul.api.errors import HTTPError
from pyconsul.api.params import QueryOptions
from pyconsul.connect import intentions as ix
from pyconsul.connect import spiffe
from pyconsul.fsm import commands as c
from pyconsul.state.watch import WatchSet

Row = dict[str, Any]
CAS_RETRIES = 16


def _need(req: web.Request, access: str, destination: str) -> None:
    identity = req.get(IDENTITY_KEY)
    if identity is None:
        return
    try:
        require(identity, "intentions", access, destination)
    except PermissionDenied as exc:
        raise HTTPError(403, str(exc)) from None


def _param(req: web.Request, name: str) -> str:
    value = req.rel_url.query.get(name, "")
    if not value:
        raise HTTPError(400, f"required query parameter '{name}' not set")
    return _strip_ns(value)


def _strip_ns(name: str) -> str:
    """`ns/name` → name: every namespace is `default` here."""
    return name.rpartition("/")[2] if "/" in name else name


def _invalid(exc: ix.IntentionError) -> HTTPError:
    return HTTPError(400, f"Invalid Intention: {exc}")


def default_allow(ctx: APIContext) -> bool:
    """No intention matched: allow unless ACLs are on with default_policy deny."""
    return ctx.acl is None or ctx.acl.settings.default_policy == "allow"


async def _change(ctx: APIContext, destination: str, change: Any) -> Any:
    """Apply `change(entry or None) -> (new entry or None, result)` with check-and-set."""
    for _ in range(CAS_RETRIES):
        _, entry = ctx.store.config_entries.get(None, ix.KIND, destination)
        new, result = change(entry)
        cas = entry["ModifyIndex"] if entry else 0
        if new is None:
            if entry is None:
                return result
            ok = await ctx.write(c.ConfigEntryOp(verb="delete-cas", entry={"Kind": ix.KIND, "Name": destination},
                                                 index=cas))
        else:
            ok = await ctx.write(c.ConfigEntryOp(verb="cas", entry=new, index=cas))
        if ok:
            return result
    raise HTTPError(500, "intention write kept losing to concurrent writes; try again")


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- reads -----------------------------------------------------------------------------------------
def _all(ctx: APIContext, ws: WatchSet | None) -> tuple[int, list[Row]]:
    idx, entries = ctx.store.config_entries.list(ws, ix.KIND)
    return idx, ix.all_intentions(entries)


def _readable(req: web.Request, rows: list[Row]) -> tuple[list[Row], bool]:
    identity = req.get(IDENTITY_KEY)
    if identity is None:
        return rows, False
    kept = [r for r in rows if identity.authorizer.allowed("intentions", "read", r["DestinationName"])]
    return kept, len(kept) != len(rows) and bool(getattr(identity, "accessor_id", ""))


async def list_(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    idx, rows = await ctx.blocking(q, lambda ws: _all(ctx, ws))
    rows, filtered = _readable(req, rows)
    if q.filter:
        from pyconsul.api.app import apply_filter

        rows = apply_filter(q.filter, rows, req.path)
    reply = Reply(dumps(rows, q.pretty), index=idx)
    if filtered:
        reply.headers[FILTERED_HEADER] = "true"
    return reply


async def exact_get(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    source, destination = _param(req, "source"), _param(req, "destination")
    _need(req, "read", destination)

    def run(ws: WatchSet | None) -> tuple[int, Row | None]:
        idx, entry = ctx.store.config_entries.get(ws, ix.KIND, destination)
        found = [i for i in ix.intentions_of(entry) if i["SourceName"] == source] if entry else []
        return idx, found[0] if found else None

    idx, row = await ctx.blocking(q, run)
    if row is None:
        raise HTTPError(404, "Intention not found")
    return Reply(dumps(row, q.pretty), index=idx)


async def match(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    by = req.rel_url.query.get("by", "")
    if not by:
        raise HTTPError(400, "required query parameter 'by' not set")
    if by not in ("source", "destination"):
        raise HTTPError(400, "'by' parameter must be one of 'source' or 'destination'")
    names = req.rel_url.query.getall("name", [])
    if not names:
        raise HTTPError(400, "required query parameter 'name' not set")
    for name in names:  # intentions:read on every name asked about, either way (as Consul)
        _need(req, "read", _strip_ns(name))
    idx, rows = await ctx.blocking(q, lambda ws: _all(ctx, ws))
    if by == "source":
        rows, _ = _readable(req, rows)
    return Reply(dumps({name: ix.matches(rows, by, _strip_ns(name)) for name in names}, q.pretty), index=idx)


async def check(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    source, destination = _param(req, "source"), _param(req, "destination")
    kind = req.rel_url.query.get("source-type", "consul")
    if kind != "consul":
        raise HTTPError(400, "unsupported SourceType: " + kind)
    # service:read on the destination, not intentions:read: the answer is only allow/deny
    # (Consul's Intention.Check says so).
    identity = req.get(IDENTITY_KEY)
    if identity is not None:
        try:
            require(identity, "service", "read", destination)
        except PermissionDenied as exc:
            raise HTTPError(403, str(exc)) from None
    await ctx.read_barrier(q)
    _, rows = _all(ctx, None)
    decision = ix.decide(rows, source, destination, default_allow(ctx))
    return json_reply({"Allowed": decision.allowed}, q=q)


# -- writes ----------------------------------------------------------------------------------------
def _body_action(body: Row) -> tuple[str | None, list[Row] | None]:
    perms = body.get("Permissions") or None
    if perms is not None and not isinstance(perms, list):
        raise ix.IntentionError("Permissions must be a list")
    action = None if perms else ix.validate_action(body.get("Action"))
    ix.validate_source_type(body.get("SourceType"))
    return action, perms


async def exact_put(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    source, destination = _param(req, "source"), _param(req, "destination")
    body = await read_json(req)
    if not isinstance(body, dict):
        raise HTTPError(400, "Request decode failed: expected a JSON object")
    try:
        ix.validate_name(source, "SourceName")
        ix.validate_name(destination, "DestinationName")
        action, perms = _body_action(body)
    except ix.IntentionError as exc:
        raise _invalid(exc) from None
    _need(req, "write", destination)
    meta = body.get("Meta") or {}

    def change(entry: Row | None) -> tuple[Row, bool]:
        # Meta belongs to the enclosing config entry: refused, unless it repeats the entry's own
        # (a client sending back what it read), as Consul does.
        if meta and entry is None:
            raise HTTPError(500, "Meta must not be specified")
        if meta and meta != (entry or {}).get("Meta"):
            raise HTTPError(500, "Meta must not be specified, or should be unchanged during an update.")
        old = ix.find_source(entry, source) or {}
        legacy = {k: v for k, v in old.items() if k.startswith("Legacy")}
        if legacy:
            legacy["LegacyUpdateTime"] = _now()
        row = ix.source_row(source, action, str(body.get("Description") or ""), perms, legacy)
        return ix.with_source(entry, destination, row), True

    return json_reply(await _change(ctx, destination, change))


async def exact_delete(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    source, destination = _param(req, "source"), _param(req, "destination")
    _need(req, "write", destination)

    def change(entry: Row | None) -> tuple[Row | None, bool]:
        return (ix.without_source(entry, source) if entry else None), True

    return json_reply(await _change(ctx, destination, change))


def _legacy_body(body: Any) -> tuple[str, str, str | None, list[Row] | None, Row]:
    if not isinstance(body, dict):
        raise HTTPError(400, "Request decode failed: expected a JSON object")
    try:
        source, destination = _strip_ns(str(body.get("SourceName") or "")), _strip_ns(str(body.get("DestinationName") or ""))
        ix.validate_name(source, "SourceName")
        ix.validate_name(destination, "DestinationName")
        action, perms = _body_action(body)
    except ix.IntentionError as exc:
        raise _invalid(exc) from None
    meta = body.get("Meta") or {}
    if not isinstance(meta, dict):
        raise HTTPError(400, "Request decode failed: Meta must be an object")
    return source, destination, action, perms, meta


async def create(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    """POST /v1/connect/intentions (legacy): a new pair with an ID; an existing pair is refused."""
    body = await read_json(req)
    source, destination, action, perms, meta = _legacy_body(body)
    _need(req, "write", destination)
    new_id = str(uuid.uuid4())

    def change(entry: Row | None) -> tuple[Row, str]:
        old = ix.find_source(entry, source)
        if old is not None:
            existing = next(i for i in ix.intentions_of(entry or {}) if i["SourceName"] == source)
            raise HTTPError(500, f"duplicate intention found: {ix.describe_full(existing)}")
        stamp = _now()
        legacy = {"LegacyID": new_id, "LegacyMeta": meta, "LegacyCreateTime": stamp, "LegacyUpdateTime": stamp}
        row = ix.source_row(source, action, str(body.get("Description") or ""), perms, legacy)
        return ix.with_source(entry, destination, row), new_id

    return json_reply({"ID": await _change(ctx, destination, change)})


def _located(ctx: APIContext, legacy_id: str) -> ix.Located:
    try:
        uuid.UUID(legacy_id)
    except ValueError:
        raise HTTPError(400, f"Invalid UUID: {legacy_id!r}") from None
    _, entries = ctx.store.config_entries.list(None, ix.KIND)
    found = ix.find_legacy(entries, legacy_id)
    if found is None:
        raise HTTPError(404, "Intention not found")
    return found


async def id_get(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    await ctx.read_barrier(q)
    found = _located(ctx, req.match_info["id"])
    _need(req, "read", found.destination)
    _, entry = ctx.store.config_entries.get(None, ix.KIND, found.destination)
    row = next(i for i in ix.intentions_of(entry or {}) if i["SourceName"] == found.source)
    return Reply(dumps(row, q.pretty), index=max(ctx.store.config_entries.index(), 1))


async def id_put(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    legacy_id = req.match_info["id"]
    found = _located(ctx, legacy_id)
    body = await read_json(req)
    source, destination, action, perms, meta = _legacy_body(body)
    _need(req, "write", found.destination)
    _need(req, "write", destination)
    old = found.row
    legacy = {"LegacyID": legacy_id, "LegacyMeta": meta, "LegacyCreateTime": old.get("LegacyCreateTime", _now()),
              "LegacyUpdateTime": _now()}
    row = ix.source_row(source, action, str(body.get("Description") or ""), perms, legacy)
    if (found.destination, found.source) != (destination, source):
        await _change(ctx, found.destination,
                      lambda e: ((ix.without_source(e, found.source) if e else None), True))
    await _change(ctx, destination, lambda e: (ix.with_source(e, destination, row), True))
    return Reply(b"")


async def id_delete(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    found = _located(ctx, req.match_info["id"])
    _need(req, "write", found.destination)
    await _change(ctx, found.destination, lambda e: ((ix.without_source(e, found.source) if e else None), True))
    return json_reply(True)


# -- authorize -------------------------------------------------------------------------------------
async def _destination_intentions(ctx: APIContext, destination: str, q: QueryOptions) -> list[Row]:
    relay = ctx.agent.server_relay
    if relay is None:
        _, rows = _all(ctx, None)
        return ix.matches(rows, "destination", destination)
    headers = {"X-Consul-Token": q.token} if q.token else {}
    status, _, body = await relay.request(
        "GET", f"/v1/connect/intentions/match?by=destination&name={quote(destination, safe='')}", None, headers)
    if status != 200:
        raise HTTPError(status, body.decode(errors="replace"))
    return list(json.loads(body).get(destination) or [])


async def authorize(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    """POST /v1/agent/connect/authorize {Target, ClientCertURI, ClientCertSerial}."""
    try:
        body = json.loads(await req.read() or b"null")
    except ValueError:
        raise HTTPError(400, "Request decode failed: invalid JSON") from None
    if not isinstance(body, dict):
        raise HTTPError(400, "Invalid request")
    target = str(body.get("Target") or "")
    if not target:
        raise HTTPError(400, "Target service must be specified")
    identity = req.get(IDENTITY_KEY)
    if identity is not None:
        try:
            require(identity, "service", "write", target)
        except PermissionDenied as exc:
            raise HTTPError(403, str(exc)) from None
    try:
        ident = spiffe.parse(str(body.get("ClientCertURI") or ""))
    except spiffe.SpiffeError:
        raise HTTPError(400, "ClientCertURI not a valid Connect identifier") from None
    if not isinstance(ident, spiffe.ServiceID):
        raise HTTPError(400, "ClientCertURI not a valid Service identifier")
    rows = await _destination_intentions(ctx, target, q)
    decision = ix.decide(rows, ident.service, target, default_allow(ctx))
    return json_reply({"Authorized": decision.allowed, "Reason": decision.reason}, q=q)
