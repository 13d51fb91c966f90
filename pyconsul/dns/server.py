"""The DNS listeners: asyncio UDP and TCP sockets around the PacketHandler (the thin layer).

`start_dns_server(config, store)` binds UDP and TCP on `config.addr_for("dns")` (space-separated
addresses allowed, as Consul's client_addr) and `config.ports.dns`; a negative port disables DNS,
port 0 picks one free port shared by UDP and TCP. A UDP question whose reply is cached is
answered inside `datagram_received` with one dict lookup; everything else goes to the handler.
TCP connections carry any number of length-prefixed queries and are closed after IDLE_TIMEOUT
seconds without one; a slow or broken client only ever stalls its own connection.

A client agent has no catalog of its own: `start_client_dns_server(config, fetch)` serves the
same way from a CatalogMirror of the servers' catalog (see mirror.py).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import random
import socket
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from pyconsul.acl.dns import dns_may_answer
from pyconsul.acl.resolver import ACLReader
from pyconsul.acl.settings import acl_settings, written_paths
from pyconsul.clock import SYSTEM_CLOCK
from pyconsul.config.runtime import RuntimeConfig
from pyconsul.dns.cache import ReplyCache
from pyconsul.dns.handler import Forward, PacketHandler
from pyconsul.dns.mirror import CatalogMirror, Fetch
from pyconsul.dns.parser import QueryLookup
from pyconsul.dns.query_forward import QueryForwarding
from pyconsul.dns.reader import CATALOG_TABLES, COORDINATES, CatalogReader, PreparedQueries
from pyconsul.dns.recursor import Recursors
from pyconsul.dns.remote import RemoteDatacenters
from pyconsul.query.runner import QueryRunner
from pyconsul.telemetry.dns import DnsMetrics

log = logging.getLogger("pyconsul.dns")

IDLE_TIMEOUT = 10.0
MAX_PENDING_FORWARDS = 1024
MAX_TCP_CONNECTIONS = 512
UDP_RCVBUF = 4 << 20
# The `query` label as it sits in a packet: only such questions may need query_forward.
_QUERY_LABEL = b"\x05query"


class _UDP(asyncio.DatagramProtocol):
    """Answers cached questions inline. The catalog index is read once per event-loop iteration
    (the loop reads many datagrams per iteration under load); no write can land between two
    datagrams of one iteration that matters to a client, since each reply reflects the store as
    it was when the iteration began."""

    def __init__(self, server: DNSServer) -> None:
        self.server = server
        self.cache = server.cache
        self.table = server.cache.udp  # cleared in place, never replaced
        self.handler = server.handler
        self.transport: asyncio.DatagramTransport | None = None
        self.checked = False
        self.loop = asyncio.get_running_loop()

    def _uncheck(self) -> None:
        self.checked = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RCVBUF)
            except OSError:
                pass

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if not self.checked:
            self.checked = True
            self.loop.call_soon(self._uncheck)
            self.cache.refresh()
        start = time.perf_counter()
        found = self.table.get(data[2:])
        if found is not None:
            self.transport.sendto(data[:2] + next(found), addr)  # type: ignore[union-attr]
            self.server.metrics.answered(data, start)
            return
        forwarding = self.server.query_forwarding
        if forwarding is not None and _QUERY_LABEL in data.lower():
            lookup = forwarding.asked(data)
            if lookup is not None:
                self.server._spawn(self._query(forwarding, lookup, data, addr, start))
                return
        remote = self.server.remote
        if remote is not None:
            dc = remote.datacenter_asked(data)
            if dc:
                self.server._spawn(self._remote(dc, data, addr, start))
                return
        try:
            out = self.handler.handle(data, tcp=False)
        except Exception:
            log.exception("udp handler failed")
            return
        if out is None:
            return
        if isinstance(out, Forward):
            self.server._spawn(self._forward(out, addr))
            return
        self.transport.sendto(out, addr)  # type: ignore[union-attr]
        self.server.metrics.answered(data, start)

    async def _remote(self, dc: str, data: bytes, addr: Any, start: float) -> None:
        assert self.server.remote is not None
        reply = await self.server.remote.answer(dc, data, tcp=False)
        if reply is not None and self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(reply, addr)
            self.server.metrics.answered(data, start)

    async def _query(self, forwarding: QueryForwarding, lookup: QueryLookup, data: bytes, addr: Any,
                     start: float) -> None:
        reply = await forwarding.answer(lookup, data, tcp=False)
        if reply is not None and self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(reply, addr)
            self.server.metrics.answered(data, start)

    async def _forward(self, fwd: Forward, addr: Any) -> None:
        reply = await self.server.forward(fwd, tcp=False)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:
        # ICMP errors from clients that went away: nothing to do.
        log.debug("udp error %r", exc)


def _acl_may_answer(config: RuntimeConfig, table: ACLReader | None,
                    token: Callable[[], str] | None) -> Callable[[], bool] | None:
    settings, _, _ = acl_settings(config, written_paths(config))
    if not settings.enabled:
        return None
    if table is None:
        return lambda: False  # ACLs on but no ACL state to resolve against: answer nothing
    return dns_may_answer(table, SYSTEM_CLOCK, settings, token)


class DNSServer:
    def __init__(self, config: RuntimeConfig, store: CatalogReader, queries: PreparedQueries | None = None,
                 acl: ACLReader | None = None, acl_token: Callable[[], str] | None = None) -> None:
        self.config = config
        self.reader = store
        self._on_close: list[Callable[[], Awaitable[None]]] = []
        # Replies depend on the catalog and on dns_config, which the agent swaps on reload.
        self.cache = ReplyCache(lambda: store.max_index(*CATALOG_TABLES), lambda: config.dns_config,
                                coordinates_fn=lambda: store.max_index(COORDINATES))
        self.handler = PacketHandler(store, config, random.Random(), self.cache, queries,
                                     _acl_may_answer(config, acl, acl_token))
        self.metrics = DnsMetrics(config.node_name)
        # Other datacenters' names (dns/remote.py), when this agent can reach them.
        self.remote: RemoteDatacenters | None = None
        # Prepared queries run in other datacenters (dns/query_forward.py).
        self.query_forwarding: QueryForwarding | None = None
        try:
            self.recursors = Recursors(list(config.recursors), config.dns_config.recursor_timeout)
        except ValueError as exc:
            raise ValueError(f"Invalid recursor address: {exc}") from None
        self.port = -1
        self.addresses: list[tuple[str, int]] = []
        self._udp: list[asyncio.DatagramTransport] = []
        self._tcp: list[asyncio.AbstractServer] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._conns: set[asyncio.StreamWriter] = set()

    async def start(self, hosts: list[str], port: int) -> None:
        """Bind every host on `port`; port 0 picks one port free for UDP and TCP on all hosts."""
        attempts = 20 if port == 0 else 1
        for attempt in range(attempts):
            try:
                await self._bind(hosts, port)
                break
            except OSError as exc:
                await self._unbind()
                # The port UDP picked may be in use for TCP: pick again.
                if attempt + 1 < attempts and exc.errno == errno.EADDRINUSE:
                    continue
                raise
        log.info("listening on %s (udp+tcp)", ", ".join(f"{h}:{p}" for h, p in self.addresses))

    async def _bind(self, hosts: list[str], port: int) -> None:
        loop = asyncio.get_running_loop()
        host = ""
        try:
            for host in hosts:
                transport, _ = await loop.create_datagram_endpoint(lambda: _UDP(self), local_addr=(host, port))
                self._udp.append(transport)  # type: ignore[arg-type]
                if port == 0:
                    port = transport.get_extra_info("sockname")[1]
                server = await asyncio.start_server(self._serve_tcp, host, port, reuse_address=True)
                self._tcp.append(server)
                self.addresses.append((host, port))
        except OSError as exc:
            raise OSError(exc.errno, f"DNS cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        self.port = port

    async def _unbind(self) -> None:
        for t in self._udp:
            t.close()
        for s in self._tcp:
            s.close()
        self._udp.clear()
        self._tcp.clear()
        self.addresses.clear()
        self.port = -1

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        if len(self._tasks) >= MAX_PENDING_FORWARDS:
            coro.close()  # shed load rather than queue without bound; the client will retry
            return
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def forward(self, fwd: Forward, tcp: bool) -> bytes:
        return await self.recursors.forward(fwd.data, fwd.request, tcp)

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._conns) >= MAX_TCP_CONNECTIONS:
            writer.close()
            return
        self._conns.add(writer)
        try:
            while True:
                try:
                    head = await asyncio.wait_for(reader.readexactly(2), IDLE_TIMEOUT)
                    size = int.from_bytes(head, "big")
                    data = await asyncio.wait_for(reader.readexactly(size), IDLE_TIMEOUT)
                except (TimeoutError, asyncio.IncompleteReadError, ConnectionError, OSError):
                    return
                start = time.perf_counter()
                forwarding = self.query_forwarding
                lookup = (forwarding.asked(data) if forwarding is not None and _QUERY_LABEL in data.lower()
                          else None)
                dc = self.remote.datacenter_asked(data) if self.remote is not None and lookup is None else ""
                try:
                    if lookup is not None and forwarding is not None:
                        out = await forwarding.answer(lookup, data, tcp=True)
                    elif dc and self.remote is not None:
                        out = await self.remote.answer(dc, data, tcp=True)
                    else:
                        out = self.handler.handle(data, tcp=True)
                except Exception:
                    log.exception("tcp handler failed")
                    return
                if out is None:
                    continue
                if isinstance(out, Forward):
                    out = await self.forward(out, tcp=True)
                writer.write(len(out).to_bytes(2, "big") + out)
                self.metrics.answered(data, start)
                try:
                    await asyncio.wait_for(writer.drain(), IDLE_TIMEOUT)
                except (TimeoutError, ConnectionError, OSError):
                    return
        finally:
            self._conns.discard(writer)
            writer.close()

    async def close(self) -> None:
        for t in self._udp:
            t.close()
        for s in self._tcp:
            s.close()
        for w in list(self._conns):
            w.close()
        for task in list(self._tasks):
            task.cancel()
        for s in self._tcp:
            try:
                await asyncio.wait_for(s.wait_closed(), 2.0)
            except (TimeoutError, Exception):
                pass
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._udp.clear()
        self._tcp.clear()
        hooks, self._on_close = self._on_close, []
        for hook in hooks:
            await hook()


async def start_dns_server(
    config: RuntimeConfig, store: CatalogReader, queries: PreparedQueries | None = None,
    acl: ACLReader | None = None, acl_token: Callable[[], str] | None = None,
) -> DNSServer:
    """Start answering DNS for `store` (and prepared `queries`) per `config`; `await
    server.close()` stops it. With ACLs on, `acl` (the state's ACL table) resolves the default
    token (`acl_token` reads the agent's DNS token at each query); without it DNS answers nothing."""
    server = DNSServer(config, store, queries, acl, acl_token)
    if config.ports.dns < 0:
        return server
    hosts = (config.addr_for("dns") or "127.0.0.1").split()
    await server.start(hosts, config.ports.dns)
    return server


async def start_client_dns_server(
    config: RuntimeConfig, fetch: Fetch, wait: str = "5m", retry: float = 1.0, node_name: str = ""
) -> DNSServer:
    """DNS for a client agent (no local catalog): answers from a CatalogMirror of the servers'
    catalog, read through `fetch` (the agent's Forwarder.request) with blocking queries of up to
    `wait`. `close()` stops the mirror too."""
    if config.ports.dns < 0:
        return DNSServer(config, CatalogMirror(fetch))
    mirror = CatalogMirror(fetch, wait=wait, retry=retry)
    await mirror.start()
    store = mirror.store
    queries = QueryRunner(store.queries, mirror, store.coordinates, node_name or config.node_name,
                          config.datacenter)
    try:
        server = await start_dns_server(config, mirror, queries)
    except BaseException:
        await mirror.close()
        raise
    server._on_close.append(mirror.close)
    return server


async def serve_other_datacenters(server: DNSServer, remote: RemoteDatacenters) -> None:
    """Answer other datacenters' names through `remote` (closed with the server)."""
    def forget_replies() -> None:
        server.cache.udp.clear()  # in place: the UDP protocol holds this dict
        server.cache.tcp.clear()

    remote.on_known_change = forget_replies
    await remote.start()
    server.remote = remote
    server._on_close.append(remote.close)
