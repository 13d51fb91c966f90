"""The HTTP wrapper: one place that parses query options, authorizes the request, maps errors to
status codes, runs consistency barriers and sets the X-Consul-* headers; and the app factory.

Handlers are `async def h(ctx: APIContext, req, q: QueryOptions) -> Reply | web.StreamResponse`.
Blocking reads return `ctx.blocking_json(q, key, run)` which encodes each distinct answer once per
index (hot catalog reads never re-encode JSON per request).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

from aiohttp import web

from pyconsul.acl.settings import acl_settings, written_paths
from pyconsul.api.acl_filter import FILTERED_KEY, filter_reply, filtered_headers, identity_of
from pyconsul.api.acl_gate import ACLGate, reply_identity
from pyconsul.api.acl_remote import RemoteACLReader
from pyconsul.api.blocking import blocking_query
from pyconsul.api.errors import HTTPError
from pyconsul.api.fastpath import DATE, FastEntry, build_head
from pyconsul.api.params import QueryOptions, parse_query_options
from pyconsul.api.port import WAN_FORWARD_HEADER, AgentPort, ServerRelay
from pyconsul.api.reply_cache import DEFAULT_MAX_BYTES, DEFAULT_MAX_ENTRIES, ReplyCache
from pyconsul.api.reply_key import ReplyTarget, reply_target
from pyconsul.api.translate_wan import translate_body
from pyconsul.clock import SYSTEM_CLOCK
from pyconsul.config.runtime import RuntimeConfig
from pyconsul.consensus.errors import ConsensusError
from pyconsul.state.errors import StateError
from pyconsul.state.watch import WatchSet
from pyconsul.telemetry import METRICS
from pyconsul.telemetry.http import ReadCounters, http_labels, timed_route

log = logging.getLogger("pyconsul.http")

JSON_CT = "application/json"
MAX_BODY = 16 * 1024 * 1024


@dataclass(slots=True)
class Reply:
    body: bytes
    status: int = 200
    content_type: str = JSON_CT
    index: int | None = None  # set for blocking/consistent reads → X-Consul-* headers
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class _Encoded:
    """A reply body already encoded for this index (from the reply cache)."""

    body: bytes


def dumps(value: Any, pretty: bool = False) -> bytes:
    if pretty:
        return json.dumps(value, indent=4).encode()
    return json.dumps(value, separators=(",", ":")).encode()


def json_reply(value: Any, status: int = 200, q: QueryOptions | None = None) -> Reply:
    return Reply(dumps(value, bool(q and q.pretty)), status)


def text_reply(text: str, status: int = 200) -> Reply:
    return Reply(text.encode(), status, "text/plain; charset=utf-8")


async def read_json(req: web.Request, required: bool = True, prefix: str = "Request decode failed") -> Any:
    body = await req.read()
    if not body.strip():
        if required:
            raise HTTPError(400, f"{prefix}: EOF")
        return None
    try:
        return loads_body(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise HTTPError(400, f"{prefix}: {exc}") from None


def _go_int(text: str) -> int:
    """JSON integers as Go decodes them into the int64/uint64 fields of Consul's structs: beyond
    those ranges the request is refused (a Raft command could not carry it anyway)."""
    value = int(text)
    if not -2**63 <= value < 2**64:
        raise ValueError(f"json: cannot unmarshal number {text} into Go value of type int64")
    return value


def loads_body(body: bytes | str) -> Any:
    """A request body's JSON, every integer within 64 bits."""
    return json.loads(body, parse_int=_go_int)


Handler = Callable[["APIContext", web.Request, QueryOptions], Awaitable["Reply | web.StreamResponse"]]


_MEMO_TARGET_BYTES = 512


class APIContext:
    """What handlers may touch: the agent through its port (store, consensus, local state, agent
    operations) and the reply cache."""

    def __init__(self, agent: AgentPort, cache_size: int = DEFAULT_MAX_ENTRIES,
                 cache_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.agent = agent
        self.store = agent.store
        self._cache_size = cache_size
        # Reads whose index can be peeked, and their prebuilt fast-path replies (which share the
        # cached body, so they leave with it).
        self._fast_peeks: dict[str, Callable[[], int]] = {}
        self._fast: dict[str, FastEntry] = {}
        self._fast_labels: dict[str, Any] = {}  # api.http labels of each fast-path read
        self._fast_counts: dict[str, ReadCounters] = {}  # the endpoint's own counters, likewise
        # Request targets as sent → their parsed cache identity: pollers repeat the same few
        # targets, and parsing the query each time was a large part of a cached reply.
        self._targets: dict[bytes, ReplyTarget | None] = {}
        self._acl_filtered: set[str] = set()  # per-token cached replies that lost rows to ACLs
        self._cache = ReplyCache(cache_size, cache_bytes, on_evict=lambda key: self._fast.pop(key, None))
        self.acl = _acl_gate(agent)
        self.connect: Any = None  # the agent's Connect leaf cache (api/connect_ca.py), made on first use

    def fast_reply(self, target: bytes, token: str = "") -> bytes | None:
        """Full HTTP response bytes for a non-blocking hot read, or None to take the full path.

        With ACLs on, `token` is the request's header token ("" = none); the reply is the one
        cached for that token's identity at the current ACL revision (`acl_gate.reply_identity`),
        which exists only if the full path authorized and filtered that very read; a token that
        does not resolve, or any ACL change since, misses and takes the full path."""
        if self.agent.config.translate_wan_addrs:
            return None  # its replies carry X-Consul-Translate-Addresses, set on the full path
        start = perf_counter()
        try:
            parsed = self._targets[target]
        except KeyError:
            try:
                parsed = reply_target(target.decode("ascii"))
            except UnicodeDecodeError:
                parsed = None
            if len(target) <= _MEMO_TARGET_BYTES:  # a bounded memo: entries and their size
                if len(self._targets) >= self._cache_size:
                    self._targets.clear()
                self._targets[target] = parsed
        if parsed is None or parsed.consistent:
            return None
        base, index, stale = parsed.key, parsed.index, parsed.stale
        peek = self._fast_peeks.get(base)
        if peek is None:
            return None
        key = base
        if self.acl is not None:
            if "token=" in base:
                return None  # a ?token= the full path reads
            who = self.acl.fast_identity(token)
            if who is None:
                return None
            key = base + "\x00" + who
        idx = max(peek(), 1)
        if idx == index:
            return None  # the caller wants to block
        if stale:  # any server answers from its own state, labelled with what it knows
            hit = self._cache.get(key)
            if hit is None or hit[0] != idx:
                return None
            st = self.agent.consensus.leader_status()
            head, tail = build_head(idx, len(hit[1]), st.known_leader, st.last_contact_ms, JSON_CT, "stale")
            self._fast_metrics(base, start, hit[1])
            return head + self._acl_headers(key) + DATE.get() + tail + hit[1]
        entry = self._fast.get(key)
        if entry is None or entry[0] != idx:
            hit = self._cache.get(key)
            if hit is None or hit[0] != idx:
                return None
            st = self.agent.consensus.leader_status()
            if not st.leader_reads:
                return None  # followers, and a leader before its barrier, take the full path
            head, tail = build_head(idx, len(hit[1]), st.known_leader, st.last_contact_ms, JSON_CT)
            entry = (idx, head + self._acl_headers(key), tail, hit[1])
            if len(self._fast) >= self._cache_size:
                self._fast.clear()
            self._fast[key] = entry
        elif not self.agent.consensus.leader_status().leader_reads:
            return None
        self._fast_metrics(base, start, entry[3])
        return entry[1] + DATE.get() + entry[2] + entry[3]

    def _acl_headers(self, key: str) -> bytes:
        """The ACL headers the full path sends with this per-token reply."""
        if self.acl is None:
            return b""
        out = b"X-Consul-Default-ACL-Policy: " + self.acl.settings.default_policy.encode() + b"\r\n"
        if key in self._acl_filtered:
            out += b"X-Consul-Results-Filtered-By-ACLs: true\r\n"
        return out

    def _reply_key(self, req: web.Request) -> str | None:
        """The reply cache key: the target's, and with ACLs on the token's identity too."""
        key = cache_key(req)
        if key is None or self.acl is None:
            return key
        who = reply_identity(req)
        return None if who is None else key + "\x00" + who

    def _note_filtered(self, req: web.Request, key: str, stored: bool) -> None:
        """Carry the filtered-by-ACLs mark between a per-token reply and the cache, both ways."""
        if self.acl is None or "\x00" not in key:
            return
        if stored:
            if req.get(FILTERED_KEY) and not identity_of(req).anonymous:  # type: ignore[union-attr]
                if len(self._acl_filtered) >= self._cache_size:
                    self._acl_filtered.clear()
                self._acl_filtered.add(key)
        elif key in self._acl_filtered:
            req[FILTERED_KEY] = True

    def _fast_metrics(self, key: str, start: float, body: bytes) -> None:
        """What the handler's path would have emitted for this read."""
        METRICS.add_sample("api.http", (perf_counter() - start) * 1000.0, self._fast_labels.get(key, ()))
        METRICS.incr_counter("rpc.request")
        counts = self._fast_counts.get(key)
        if counts is not None:
            counts.emit(body)

    async def write(self, command: Any) -> Any:
        result = await self.agent.write(command)
        if isinstance(result, StateError):
            raise result
        return result

    async def read_barrier(self, q: QueryOptions) -> None:
        """Consul's consistency modes: `stale` reads any server's state; the default mode lets the
        leader answer from its state as it is (a read racing a write sees it before or after, as
        in Consul, instead of queueing behind its apply); `consistent` confirms with a quorum."""
        if q.stale:
            return
        consensus = self.agent.consensus
        if not q.consistent and consensus.leader_status().leader_reads:
            return  # the leader's barrier holds without a round trip
        await consensus.barrier(q.consistent)

    async def blocking(
        self, q: QueryOptions, run: Callable[[WatchSet | None], tuple[int, Any]]
    ) -> tuple[int, Any]:
        await self.read_barrier(q)
        return await blocking_query(self.store.watches, run, q.index, q.wait)

    async def blocking_json(
        self,
        q: QueryOptions,
        req: web.Request,
        run: Callable[[WatchSet | None], tuple[int, Any]],
        shape: Callable[[Any], Any] | None = None,
        filterable: bool = True,
        peek: Callable[[], int] | None = None,
        counts: ReadCounters | None = None,
        acl: str | None = None,
    ) -> Reply:
        """Blocking read whose JSON bytes are cached per (path, query, index).

        `peek` returns the answer's index without building it: when the caller is not blocking
        (or is behind) and the cached bytes are for that index, they are sent as they are.
        `counts` are the endpoint's metrics, emitted here and by the fast path alike.
        `acl` names the list kind (`api.acl_filter.FILTERS`) whose rows the request's token may
        only partly read; with ACLs on the answer depends on the token, so it is built afresh
        (filtered after each wake) rather than shared through the cache.
        """
        reply = await self._blocking_json(q, req, run, shape, filterable, peek, counts, acl)
        if counts is not None:
            counts.emit(reply.body)
        return reply

    async def _blocking_json(
        self,
        q: QueryOptions,
        req: web.Request,
        run: Callable[[WatchSet | None], tuple[int, Any]],
        shape: Callable[[Any], Any] | None,
        filterable: bool,
        peek: Callable[[], int] | None,
        counts: ReadCounters | None,
        acl: str | None,
    ) -> Reply:
        # With ACLs on, replies are cached per token identity and ACL revision (`_reply_key`).
        key = self._reply_key(req)
        if key is None:  # a target the cache does not key: answer it afresh
            await self.read_barrier(q)
            idx, value = await blocking_query(self.store.watches, run, q.index, q.wait)
            if acl is not None:
                value = filter_reply(req, acl, value)
            if shape is not None:
                value = shape(value)
            if q.filter and filterable:
                value = apply_filter(q.filter, value, req.path)
            return Reply(dumps(value, q.pretty), index=idx)
        base = key.partition("\x00")[0]
        if peek is not None and base not in self._fast_peeks:
            if len(self._fast_peeks) >= self._cache_size:
                self._fast_peeks.clear()
                self._fast_labels.clear()
                self._fast_counts.clear()
            self._fast_peeks[base] = peek
            self._fast_labels[base] = http_labels("GET", req.match_info.route.resource.canonical)
            if counts is not None:
                self._fast_counts[base] = counts
        if peek is not None and not q.consistent:
            idx = max(peek(), 1)
            if idx != q.index:
                hit = self._cache.get(key)
                if hit is not None and hit[0] == idx:
                    await self.read_barrier(q)
                    self._note_filtered(req, key, False)
                    return Reply(hit[1], index=idx)
        shortcut = None
        if peek is not None:
            def shortcut() -> tuple[int, Any] | None:
                idx = max(peek(), 1)
                hit = self._cache.get(key)
                return (idx, _Encoded(hit[1])) if hit is not None and hit[0] == idx else None

        await self.read_barrier(q)
        idx, value = await blocking_query(self.store.watches, run, q.index, q.wait, shortcut=shortcut)
        if isinstance(value, _Encoded):
            self._note_filtered(req, key, False)
            return Reply(value.body, index=idx)
        hit = self._cache.get(key)
        if hit is not None and hit[0] == idx:
            self._cache.touch(key)
            self._note_filtered(req, key, False)
            return Reply(hit[1], index=idx)
        if acl is not None:
            value = filter_reply(req, acl, value)
        if shape is not None:
            value = shape(value)
        if q.filter and filterable:
            value = apply_filter(q.filter, value, req.path)
        body = dumps(value, q.pretty)
        self._note_filtered(req, key, True)
        self._cache.put(key, idx, body)
        return Reply(body, index=idx)


def cache_key(req: web.Request) -> str | None:
    """The request's identity for the reply cache (see reply_key: the fast path uses the same
    rule on the same text), or None when the target is not cached."""
    parsed = reply_target(req.raw_path)
    return None if parsed is None else parsed.key


async def _expect_continue(request: web.Request) -> None:
    """`Expect: 100-continue`, answered as aiohttp does, except that a client already gone (the
    interim line cannot be written) is not a server error: the request goes on and its reply,
    if the connection still takes one, is the real answer."""
    expect = request.headers.get("EXPECT", "")
    if request.version != (1, 1):
        return
    if expect.lower() != "100-continue":
        raise web.HTTPExpectationFailed(text=f"Unknown Expect: {expect}")
    try:
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    except ConnectionError:
        pass


def apply_filter(expr: str, value: Any, path: str = "") -> Any:
    """Keep the elements of a reply that match a ?filter expression, validated against the
    endpoint's element type as Consul does (`path` selects it)."""
    from pyconsul.api.filter import SCHEMAS, FilterError, compile_filter

    parts = path.split("/")
    schema = SCHEMAS.get("/".join(parts[2:4])) if len(parts) >= 4 else None
    try:
        pred = compile_filter(expr, schema)
    except FilterError as exc:
        raise HTTPError(400, str(exc)) from None
    if value is None:  # nothing found (the handler answers 404); nothing to filter
        return None
    try:
        if isinstance(value, dict):
            return {k: v for k, v in value.items() if pred(v)}
        return [v for v in value if pred(v)]
    except FilterError as exc:
        raise HTTPError(400, str(exc)) from None


# Endpoints that answer for this agent (or list datacenters) and read no ?dc=, as in Consul.
_NO_DC_PATHS = frozenset({"/v1/catalog/datacenters", "/v1/coordinate/datacenters", "/v1/event/list"})


# Endpoints whose body names the datacenter (`Datacenter`, Go's case-blind field match):
# path → whether `?dc=` still wins (Consul's parseDC after the decode) or the body alone counts.
_BODY_DC_PATHS = {"/v1/catalog/register": False, "/v1/catalog/deregister": False, "/v1/coordinate/update": True}


async def target_dc(req: web.Request, query_dc: str) -> str:
    """The datacenter a request is for: `?dc=`, or for the endpoints above the body's
    `Datacenter`. A body that does not parse names none (the handler answers its 400)."""
    query_wins = _BODY_DC_PATHS.get(req.path)
    if query_wins is None or (query_wins and query_dc) or req.method not in ("PUT", "POST"):
        return query_dc
    try:
        body = loads_body(await req.read())
    except (ValueError, UnicodeDecodeError):
        return query_dc
    if isinstance(body, dict):
        for k, v in body.items():
            if isinstance(k, str) and k.lower() == "datacenter" and isinstance(v, str) and v:
                return v
    return query_dc


def takes_dc(path: str) -> bool:
    """True for endpoints where Consul routes by ?dc= (and so fails for a datacenter it has no
    path to); the agent endpoints ignore it."""
    return path.startswith("/v1/") and not path.startswith("/v1/agent/") and path not in _NO_DC_PATHS


# Answered by a server only when asked on its server port (auto_encrypt's Sign): a client agent
# never relays them, so its HTTP API cannot be used to get certificates signed.
SERVER_PORT_ONLY = "/v1/internal/server/"


def answered_by_servers(path: str) -> bool:
    """A client agent hands these to a server: the API outside `/v1/agent/` (the agent's own
    endpoints, `/debug/pprof/*` and the UI are about this agent), except what a server answers
    only on its server port."""
    return path.startswith("/v1/") and not path.startswith(("/v1/agent/", SERVER_PORT_ONLY))


def _acl_gate(agent: AgentPort) -> ACLGate | None:
    settings, _, _ = acl_settings(agent.config, written_paths(agent.config))
    if not settings.enabled:
        return None
    relay = agent.server_relay
    if relay is not None:  # a client agent: the servers hold the tokens
        remote = RemoteACLReader(relay, SYSTEM_CLOCK, settings.token_ttl)
        return ACLGate(remote, SYSTEM_CLOCK, settings, agent.node_name, agent.acl_tokens, remote)
    return ACLGate(agent.store.acl, SYSTEM_CLOCK, settings, agent.node_name, agent.acl_tokens)


def _error_response(status: int, message: str, content_type: str = "text/plain; charset=utf-8") -> web.Response:
    return web.Response(status=status, body=message.encode(), content_type=content_type.split(";")[0])


def authorize(ctx: APIContext, req: web.Request, q: QueryOptions) -> None:
    """The one authorization point: every request a handler answers passes here, after its query
    options are parsed and before the handler runs (a client agent's relayed requests are
    authorized by the server that answers them). It receives:

    - `ctx`: the APIContext — `ctx.store` (the state to check against) and `ctx.agent`, the
      agent seen through `pyconsul.api.port.AgentPort` (its `config` holds the settings);
    - `req`: the aiohttp request — `req.method`, `req.path`, and the route's `req.match_info`
      (the key, service or node name a rule is written for);
    - `q`: the parsed `QueryOptions`; `q.token` is the request's token, read once in
      `pyconsul.api.params` from X-Consul-Token, `Authorization: Bearer …` or `?token=`.

    With ACLs off this does nothing. With them on, `ctx.acl` (an `api.acl_gate.ACLGate`)
    resolves `q.token` once, checks the (resource, access) the route declares in
    `pyconsul.api.permissions`, and raises HTTPError 403 with Consul's text on a refusal; the
    fast path steps aside entirely (`APIContext.fast_reply`)."""
    if ctx.acl is not None:
        ctx.acl.authorize(req, q)


_PASS_HEADERS = ("X-Consul-Token", "Authorization", "Content-Type")


async def relay_to_server(relay: ServerRelay, req: web.Request, config: RuntimeConfig | None = None) -> web.Response:
    """A client agent's request, answered by a server (with its X-Consul-* headers); with
    `translate_wan_addrs` in `config`, another datacenter's nodes come back at WAN addresses."""
    body = await req.read()
    headers = {h: req.headers[h] for h in _PASS_HEADERS if h in req.headers}
    status, rheaders, data = await relay.request(req.method, req.path_qs, body or None, headers)
    if config is not None and config.translate_wan_addrs and status == 200:
        data = translate_body(req.path, data, config.datacenter, req.rel_url.query.get("dc") or config.datacenter)
    return _relayed(status, rheaders, data)


async def forward_to_dc(agent: AgentPort, dc: str, req: web.Request) -> web.Response:
    """A request for another datacenter, answered by one of its servers: its status, body,
    index and X-Consul-* headers come back unchanged."""
    if WAN_FORWARD_HEADER in req.headers:
        raise HTTPError(500, "No path to datacenter")  # a forward is answered where it lands
    body = await req.read()
    headers = {h: req.headers[h] for h in _PASS_HEADERS if h in req.headers}
    status, rheaders, data = await agent.forward_to_dc(dc, req.method, req.path_qs, body or None, headers)
    if agent.config.translate_wan_addrs and status == 200:
        data = translate_body(req.path, data, agent.config.datacenter, dc)
    return _relayed(status, rheaders, data)


def _relayed(status: int, rheaders: dict[str, str], data: bytes) -> web.Response:
    out = {k: v for k, v in rheaders.items() if k.startswith("X-Consul-")}
    out["Content-Type"] = rheaders.get("Content-Type", "application/json")
    return web.Response(status=status, body=data, headers=out)


def make_dispatch(ctx: APIContext, methods: dict[str, Handler]) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    allowed = ", ".join(sorted(methods))
    allow_csv = ",".join(sorted(methods))
    agent = ctx.agent
    datacenter = agent.config.datacenter
    from pyconsul.acl.replication import is_secondary
    from pyconsul.api.acl_secondary import primary_target
    from pyconsul.entries.replication import to_primary

    # A secondary's server hands the primary's ACL writes to the primary (api/acl_secondary.py).
    secondary_acl = (ctx.acl is not None and agent.config.server
                     and is_secondary(datacenter, agent.config.primary_datacenter))
    # ... and its config-entry, intention and CA-configuration writes (entries/replication.py).
    secondary = agent.config.server and is_secondary(datacenter, agent.config.primary_datacenter)

    async def dispatch(req: web.Request) -> web.StreamResponse:
        handler = methods.get(req.method)
        if handler is None:
            if req.method == "OPTIONS":
                return web.Response(status=200, headers={"Allow": "OPTIONS, " + allowed})
            return web.Response(status=405, body=f"method {req.method} not allowed".encode(),
                                content_type="text/plain", headers={"Allow": "OPTIONS," + allow_csv})
        relay = agent.server_relay
        try:
            if relay is not None and answered_by_servers(req.path):
                return await relay_to_server(relay, req, agent.config)  # client agents: the servers answer
            q = parse_query_options(req)
            dc = await target_dc(req, q.dc)
            if dc and dc != datacenter and takes_dc(req.path):
                return await forward_to_dc(agent, dc, req)  # that datacenter authorizes it
            if secondary_acl and WAN_FORWARD_HEADER not in req.headers:
                primary = await primary_target(ctx, req)
                if primary:
                    return await forward_to_dc(agent, primary, req)
            if secondary and WAN_FORWARD_HEADER not in req.headers and to_primary(req.method, req.path):
                return await forward_to_dc(agent, agent.config.primary_datacenter, req)
            if ctx.acl is not None:
                await ctx.acl.prefetch(q.token)
            authorize(ctx, req, q)
            reply = await handler(ctx, req, q)
        except HTTPError as exc:
            return _error_response(exc.status, exc.message, exc.content_type)
        except ConsensusError as exc:  # e.g. "No cluster leader", as Consul answers it
            return _error_response(500, str(exc))
        except StateError as exc:
            return _error_response(400, str(exc))
        except web.HTTPException:
            raise
        except ConnectionResetError:
            # The client went away mid-request (say, while its body was read): nothing to
            # answer and no fault of the agent.
            log.debug("client went away", extra={"method": req.method, "path": req.path})
            raise
        except Exception:
            log.exception("request failed", extra={"method": req.method, "path": req.path})
            return _error_response(500, "Internal error; see the agent log")
        if not isinstance(reply, Reply):
            return reply
        headers = reply.headers
        if reply.index is not None:
            status = agent.consensus.leader_status()
            headers["X-Consul-Index"] = str(reply.index)
            headers["X-Consul-KnownLeader"] = "true" if status.known_leader else "false"
            headers["X-Consul-LastContact"] = str(status.last_contact_ms)
            headers["X-Consul-Effective-Consistency"] = (
                "stale" if q.stale else "consistent" if q.consistent else "leader"
            )
        headers["Content-Type"] = reply.content_type
        if ctx.acl is not None:
            headers["X-Consul-Default-ACL-Policy"] = ctx.acl.settings.default_policy
            headers.update(filtered_headers(req))
        return web.Response(status=reply.status, body=reply.body, headers=headers)

    if not agent.config.translate_wan_addrs:
        return dispatch

    async def translating(req: web.Request) -> web.StreamResponse:
        # Consul sets this on every response while translate_wan_addrs is on, so clients know
        # addresses of other datacenters' nodes may be WAN ones.
        resp = await dispatch(req)
        if not resp.prepared:
            resp.headers["X-Consul-Translate-Addresses"] = "true"
        return resp

    return translating


async def _not_found(req: web.Request) -> web.StreamResponse:
    if req.path.startswith("/v1/"):
        return _error_response(404, "Invalid URL path: not a recognized HTTP API endpoint")
    return _error_response(
        404, "Invalid URL path: if attempting to use the HTTP API, ensure the path starts with '/v1/'")


def build_app(agent: AgentPort) -> web.Application:
    from pyconsul.api.routes import ROUTES

    ctx = APIContext(agent)
    if ctx.acl is not None:  # ACL rows replicated from the primary: resolve them afresh
        agent.on_acl_change(ctx.acl.resolver.forget)
    app = web.Application(client_max_size=MAX_BODY, handler_args={"access_log": None})
    app["ctx"] = ctx
    by_path: dict[str, dict[str, Handler]] = {}
    for method, path, handler in ROUTES:
        by_path.setdefault(path, {})[method] = handler
    for path, methods in by_path.items():
        app.router.add_route("*", path, timed_route(path, make_dispatch(ctx, methods)),
                             expect_handler=_expect_continue)
    from pyconsul.ui import add_ui_routes, options_source

    add_ui_routes(app, options_source(lambda: agent.config))
    app.router.add_route("*", "/{tail:.*}", _not_found, expect_handler=_expect_continue)
    return app
