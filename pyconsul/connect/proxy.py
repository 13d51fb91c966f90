"""`consul connect proxy`: the built-in sidecar proxy (asyncio).

Inbound (the public listener): TLS that requires a client leaf chaining to our roots, then
`/v1/agent/connect/authorize` for the peer's SPIFFE URI — a denied connection is closed before
the backend is dialled (Consul dials it first; nothing here reaches the backend unauthorised).
Each connection is authorised when it arrives, so an intention change applies to new ones.

Outbound (one listener per upstream): plain TCP from the app, TLS to a healthy instance with our
leaf, and the server's URI must name the expected service (trust domain ignored, any case).
Instances come from blocking queries on `/v1/health/connect/<name>`; an instance that leaves
the answer gets no new connection (Consul's proxy never diffs them). Until that endpoint exists
on the agent, the `<name>-sidecar-proxy` services of `/v1/health/service` stand in for it.

The leaf and the roots are followed with blocking queries; a change builds new TLS contexts for
new connections while live ones keep theirs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import ssl
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from pyconsul.client.aio import AsyncClient
from pyconsul.client.errors import TransportError
from pyconsul.connect import mtls, spiffe
from pyconsul.connect.proxy_config import ProxyConfig, PublicListener, Upstream

Row = dict[str, Any]

LEVELS = {"TRACE": 0, "DEBUG": 1, "INFO": 2, "WARN": 3, "ERR": 4, "ERROR": 4}
HANDSHAKE_TIMEOUT = 10.0
LOCAL_CONNECT_TIMEOUT = 1.0
UPSTREAM_CONNECT_TIMEOUT = 10.0
WATCH_WAIT = "5m"
CHUNK = 256 * 1024


class ProxyLog:
    """Consul's pre-hclog lines: `    2019/01/24 14:39:05 [INFO] text`."""

    def __init__(self, level: str = "INFO", out: TextIO = sys.stdout, clock: Callable[[], float] = time.time) -> None:
        self.level = LEVELS.get(level.upper(), 2)
        self.out = out
        self.clock = clock

    def log(self, level: str, text: str) -> None:
        if LEVELS[level] < self.level:
            return
        stamp = time.strftime("%Y/%m/%d %H:%M:%S", time.localtime(self.clock()))
        self.out.write(f"    {stamp} [{level}] {text}\n")
        self.out.flush()

    def info(self, text: str) -> None:
        self.log("INFO", text)

    def warn(self, text: str) -> None:
        self.log("WARN", text)

    def error(self, text: str) -> None:
        self.log("ERR", text)

    def debug(self, text: str) -> None:
        self.log("DEBUG", text)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    """Copy until EOF; True if the EOF was passed on as a half-close (plain TCP can, TLS here
    cannot)."""
    try:
        while True:
            data = await reader.read(CHUNK)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError, asyncio.IncompleteReadError):
        return False
    try:
        if writer.can_write_eof():
            writer.write_eof()
            return True
    except (ConnectionError, OSError, RuntimeError):
        pass
    return False


async def splice(a: tuple[asyncio.StreamReader, asyncio.StreamWriter],
                 b: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
    """Copy both ways. When one direction ends and its EOF cannot be passed on, both sides are
    closed (as Consul's proxy does); a passed-on half-close lets the other direction finish."""
    pipes = {asyncio.ensure_future(_pipe(a[0], b[1])), asyncio.ensure_future(_pipe(b[0], a[1]))}
    try:
        done, pending = await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        if pending and all(t.result() for t in done):
            await asyncio.wait(pending)
    finally:
        for t in pipes:
            t.cancel()
        for w in (a[1], b[1]):
            w.close()
        for w in (a[1], b[1]):
            with contextlib.suppress(Exception):
                await w.wait_closed()


class Proxy:
    def __init__(self, client: AsyncClient, config: ProxyConfig, log: ProxyLog) -> None:
        self.client = client
        self.config = config
        self.log = log
        self.material: mtls.Material | None = None
        self.server_ctx: Any = None
        self.client_ctx: Any = None
        self.leaf: Row = {}
        self.roots: Row = {}
        self.instances: dict[str, list[tuple[str, int]]] = {}
        self._servers: list[asyncio.Server] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self._conns: set[asyncio.Task[Any]] = set()
        self._rng = random.Random()
        self._ready: dict[str, asyncio.Event] = {}
        self._listener_ctx: ssl.SSLContext | None = None

    def _use_current(self, sslobj: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> None:
        sslobj.context = self.server_ctx

    # -- the agent ---------------------------------------------------------------------------------
    async def _get(self, path: str, params: dict[str, str] | None = None) -> tuple[int, int, Any]:
        resp = await self.client.request("GET", path, params or {})
        idx = int(resp.headers.get("X-Consul-Index", "0") or 0)
        body = json.loads(resp.body) if resp.status == 200 and resp.body else resp.text()
        return resp.status, idx, body

    async def _fetch_leaf(self, index: int) -> int:
        params = {"index": str(index), "wait": WATCH_WAIT} if index else {}
        status, idx, body = await self._get(f"/v1/agent/connect/ca/leaf/{self.config.service}", params)
        if status != 200:
            raise TransportError(f"leaf certificate: {status} {body}")
        if body.get("SerialNumber") != self.leaf.get("SerialNumber"):
            self.leaf = body
            self._rebuild()
        return idx

    async def _fetch_roots(self, index: int) -> int:
        params = {"index": str(index), "wait": WATCH_WAIT} if index else {}
        status, idx, body = await self._get("/v1/agent/connect/ca/roots", params)
        if status != 200:
            raise TransportError(f"CA roots: {status} {body}")
        if body != self.roots:
            self.roots = body
            self._rebuild()
        return idx

    def _rebuild(self) -> None:
        if not self.leaf or not self.roots:
            return
        roots = "".join(r["RootCert"] + "".join(r.get("IntermediateCerts") or []) for r in self.roots["Roots"])
        material = mtls.Material(self.leaf["CertPEM"], self.leaf["PrivateKeyPEM"], roots)
        self.server_ctx = mtls.server_context(material)
        self.client_ctx = mtls.client_context(material)
        if self._listener_ctx is None:
            # The listener keeps one context; its SNI hook (run for every ClientHello, with or
            # without a name) moves each new handshake onto the newest leaf and roots.
            self._listener_ctx = mtls.server_context(material)
            self._listener_ctx.sni_callback = self._use_current
        if self.material is not None:
            self.log.info(f"TLS certificates updated (leaf serial {self.leaf['SerialNumber']})")
        self.material = material

    async def _watch(self, what: str, fetch: Callable[[int], Any], index: int) -> None:
        backoff = 1.0
        while True:
            try:
                new = await fetch(index)
                index = 0 if new < index else new
                backoff = 1.0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.log.warn(f"{what} watch failed: {exc}")
                await asyncio.sleep(backoff)
                backoff = min(30.0, backoff * 2)

    async def _fetch_instances(self, up: Upstream, index: int) -> int:
        params = {"passing": "1", **({"index": str(index), "wait": WATCH_WAIT} if index else {})}
        if up.datacenter:
            params["dc"] = up.datacenter
        status, idx, body = await self._get(f"/v1/health/connect/{up.name}", params)
        entries: list[Row]
        if status == 404:
            # No /v1/health/connect on this agent: the proxies by the names Consul gives them
            # (`<svc>-sidecar-proxy` for sidecar_service, `<svc>-proxy` for -register), the
            # first blocking briefly so a change to the other is seen within seconds.
            entries = []
            short = {"index": params.get("index", ""), "wait": "5s"} if index else {}
            for i, name in enumerate((f"{up.name}-sidecar-proxy", f"{up.name}-proxy")):
                status, got, body = await self._get(f"/v1/health/service/{name}", {"passing": "1", **(short if i == 0 else {})})
                idx = got if i == 0 else idx  # block on the first name only
                entries += [e for e in (body if status == 200 else []) if e["Service"].get("Kind") == "connect-proxy"
                            and (e["Service"].get("Proxy") or {}).get("DestinationServiceName") == up.name]
            status = 200
        else:
            entries = body if status == 200 else []
        if status != 200:
            raise TransportError(f"instances of {up.name}: {status} {body}")
        self.instances[up.key] = [((e["Service"].get("Address") or e["Node"]["Address"]), int(e["Service"]["Port"]))
                                   for e in entries]
        self._ready.setdefault(up.key, asyncio.Event()).set()
        return idx

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        """First leaf and roots (at once, not after a blocking wait), then the listeners."""
        cfg = self.config
        leaf_index = await self._fetch_leaf(0)
        roots_index = await self._fetch_roots(0)
        for up in cfg.upstreams:
            self._ready.setdefault(up.key, asyncio.Event())
            server = await asyncio.start_server(lambda r, w, up=up: self._track(self._outbound(up, r, w)),
                                                up.bind_host or None, up.bind_port, reuse_address=True)
            self._servers.append(server)
            self.log.info(f"{up.label()} starting on {up.bind_host}:{up.bind_port}")
            self._tasks.append(asyncio.ensure_future(
                self._watch(f"upstream {up.name}", lambda i, up=up: self._fetch_instances(up, i), 0)))
        self.log.info("Proxy loaded config and ready to serve")
        self.log.info(f"TLS Identity: {self.leaf.get('ServiceURI', '')}")
        assert self.material is not None
        self.log.info(f"TLS Roots   : [{' '.join(mtls.root_names(self.material.roots_pem))}]")
        if cfg.public is not None:
            p = cfg.public
            server = await asyncio.start_server(lambda r, w: self._track(self._inbound(p, r, w)),
                                                p.bind_host or None, p.bind_port, reuse_address=True,
                                                ssl=self._listener_ctx, ssl_handshake_timeout=HANDSHAKE_TIMEOUT)
            self._servers.append(server)
            self.log.info(f"public listener starting on {p.bind_host}:{p.bind_port}")
        if cfg.http_proxy is not None:
            await self._start_http_proxy(*cfg.http_proxy)
        self._tasks.append(asyncio.ensure_future(self._watch("leaf", self._fetch_leaf, leaf_index)))
        self._tasks.append(asyncio.ensure_future(self._watch("roots", self._fetch_roots, roots_index)))

    async def _start_http_proxy(self, host: str, port: int) -> None:
        from pyconsul.connect.http_proxy import HttpProxy

        own = spiffe.parse(str(self.leaf.get("ServiceURI", "")))
        assert isinstance(own, spiffe.ServiceID)
        status, _, body = await self._get("/v1/agent/self")
        domain = str(((body.get("DebugConfig") or {}) if status == 200 else {}).get("DNSDomain") or "consul")
        domains = tuple(dict.fromkeys((domain.strip("."), "consul")))
        hp = HttpProxy(self, own.datacenter, domains)
        server = await asyncio.start_server(lambda r, w: self._track(hp.handle(r, w)), host or None, port,
                                            reuse_address=True, limit=64 * 1024)
        self._servers.append(server)
        self.log.info(f"http proxy listener starting on {host}:{port} (services by host name)")

    def _track(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._conns.add(task)
        task.add_done_callback(self._conns.discard)

    async def close(self) -> None:
        for s in self._servers:
            s.close()
        for t in [*self._tasks, *self._conns]:
            t.cancel()
        await asyncio.gather(*self._tasks, *self._conns, return_exceptions=True)
        await self.client.close()

    # -- inbound -----------------------------------------------------------------------------------
    async def authorize(self, peer: mtls.PeerLeaf) -> tuple[bool, str]:
        body = {"Target": self.config.service, "ClientCertURI": peer.uri, "ClientCertSerial": peer.serial}
        try:
            resp = await self.client.request("POST", "/v1/agent/connect/authorize", json=body)
        except TransportError as exc:
            return False, f"connect: authz call failed: {exc}"
        if resp.status != 200:
            return False, f"connect: authz call failed: {resp.status} {resp.text()}"
        answer = json.loads(resp.body)
        return bool(answer.get("Authorized")), str(answer.get("Reason", ""))

    async def _inbound(self, public: PublicListener, reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter) -> None:
        peer = mtls.peer_leaf(writer.get_extra_info("ssl_object"))
        if peer is None or not peer.uri:
            self.log.error("connect: invalid leaf certificate")
            writer.close()
            return
        try:
            spiffe.parse(peer.uri)
        except spiffe.SpiffeError:
            self.log.error("connect: invalid leaf certificate URI")
            writer.close()
            return
        allowed, reason = await self.authorize(peer)
        if not allowed:
            self.log.error(f"authz call denied reason={reason!r} uri={peer.uri}")
            writer.close()
            return
        try:
            backend = await asyncio.wait_for(asyncio.open_connection(public.backend_host, public.backend_port),
                                             LOCAL_CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            self.log.error(f"failed to dial local service {public.backend_host}:{public.backend_port}: {exc}")
            writer.close()
            return
        await splice((reader, writer), backend)

    # -- outbound ----------------------------------------------------------------------------------
    async def dial_service(self, name: str, datacenter: str = ""
                           ) -> tuple[tuple[asyncio.StreamReader, asyncio.StreamWriter] | None, str]:
        """A verified mTLS connection to an instance of `name` (in `datacenter`, "" for ours), or
        None and why not."""
        key = f"{name}?dc={datacenter}" if datacenter else name
        ready = self._ready[key]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ready.wait(), UPSTREAM_CONNECT_TIMEOUT)
        candidates = list(self.instances.get(key) or [])
        self._rng.shuffle(candidates)
        want = self._expected_uri(name, datacenter)
        reason = f"no healthy instances of service {name!r} in the mesh"
        for host, port in candidates[:3]:
            try:
                conn = await asyncio.wait_for(
                    asyncio.open_connection(host, port, ssl=self.client_ctx, server_hostname=""),
                    UPSTREAM_CONNECT_TIMEOUT)
            except (OSError, TimeoutError) as exc:
                reason = f"failed to dial {name} at {host}:{port}: {exc}"
                self.log.error(reason)
                continue
            peer = mtls.peer_leaf(conn[1].get_extra_info("ssl_object"))
            got = peer.uri if peer is not None else ""
            if not spiffe.same_service(got, want):
                reason = f"peer certificate mismatch got {got}, want {want}"
                self.log.error(reason)
                conn[1].close()
                continue
            return conn, ""
        if not candidates:
            self.log.error(f"no healthy instances of {name}")
        return None, reason

    async def _dial(self, up: Upstream) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        return (await self.dial_service(up.name, up.datacenter))[0]

    def _expected_uri(self, service: str, datacenter: str = "") -> str:
        """The upstream's SPIFFE ID in our trust domain and its datacenter (ours by default)."""
        own = spiffe.parse(str(self.leaf.get("ServiceURI", "")))
        assert isinstance(own, spiffe.ServiceID)
        return spiffe.ServiceID(own.host, own.namespace, datacenter or own.datacenter, service).uri()

    async def _outbound(self, up: Upstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = await self._dial(up)
        if conn is None:
            writer.close()
            return
        await splice((reader, writer), conn)

