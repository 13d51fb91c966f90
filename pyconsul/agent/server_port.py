"""The server port (8300): one listener, two protocols, told apart by the first byte.

Consul multiplexes RPC and Raft on its server port by a leading type byte. Here, a connection
whose first byte is an ASCII capital letter is an HTTP/1.1 request forwarded by a client agent
(or a follower) and is handed to the agent's HTTP application — through `ForwardGate`, which
lets only the request shapes client agents forward pass (see agent/forward_gate.py); anything
else is the Raft transport's binary framing and goes to its stream handler.

TLS (internal_rpc with verify_incoming or verify_outgoing): a connection whose first byte is
0x16, a TLS handshake record, is TLS on the same port; the handshake runs first and the same
sniffing then applies to what it carries. Our agents dial TLS directly like this, rather than
Consul's leading RPC-TLS type byte, so any TLS client (openssl s_client, curl --cacert) can
talk to the port. The first byte is peeked, not read, so the TLS layer sees the whole
handshake: the server port accepts its own sockets, peeks, and only then makes them transports
(plain or TLS), which works the same on asyncio's loop and uvloop. With `require_tls`
(verify_incoming) a plaintext connection is closed unread; with
`server_name` (verify_server_hostname) only a peer whose verified certificate is valid for that
name may speak Raft (vote, replicate, install snapshots, call server methods): a client
certificate from the same CA may still forward HTTP requests. A server with
auto_encrypt.allow_tls also completes handshakes without a client certificate under
verify_incoming (Consul's insecure RPC TLS for `AutoEncrypt.Sign`): such a connection may make
the sign request (`certless_routes`) and nothing else.

Limits: `limits.rpc_max_conns_per_client` (Consul's 100) open connections per client IP — one
past it is closed as it is accepted, as Consul's connection limiter does; TLS handshakes and
Raft's magic within `limits.rpc_handshake_timeout`; a forwarded request's head within
`http_config.read_header_timeout`, as on the HTTP port.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

from pyconsul.agent.forward_gate import ForwardedRoutes, ForwardGate
from pyconsul.api.conn_limits import ConnLimiter
from pyconsul.raft.throttle import LogThrottle

log = logging.getLogger("pyconsul.server_port")
_limit_log = LogThrottle(log)

StreamHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
ProtocolFactory = Callable[[], asyncio.Protocol]

_HTTP_FIRST = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_TLS_HANDSHAKE = 0x16

# A peer that connects and sends nothing would hold a descriptor for good; Consul's server
# port gives the first byte the same bound Go's HTTP server gives request headers.
FIRST_BYTE_TIMEOUT = 10.0


def dns_names(peercert: dict[str, Any] | None) -> list[str]:
    """The DNS SANs of a verified peer certificate (`SSLObject.getpeercert()`), [] without one."""
    if not peercert:
        return []
    return [str(v) for k, v in peercert.get("subjectAltName", ()) if k == "DNS"]


class _Slot:
    """One connection's place in the per-client count, given back exactly once."""

    __slots__ = ("_limiter", "_ip")

    def __init__(self, limiter: ConnLimiter | None, ip: str) -> None:
        self._limiter = limiter
        self._ip = ip

    def release(self) -> None:
        if self._limiter is not None:
            self._limiter.release(self._ip)
            self._limiter = None


class _MuxProtocol(asyncio.Protocol):
    def __init__(self, port: ServerPort, slot: _Slot, inside_tls: bool = False) -> None:
        self._port = port
        self._slot = slot
        self._inside_tls = inside_tls
        self._transport: asyncio.Transport | None = None
        self._sniff_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        loop = asyncio.get_running_loop()
        self._sniff_timer = loop.call_later(self._port.first_byte_timeout, self._sniff_timed_out)

    def _sniff_timed_out(self) -> None:
        self._sniff_timer = None
        if self._transport is not None:
            self._transport.close()

    def _cancel_sniff_timer(self) -> None:
        if self._sniff_timer is not None:
            self._sniff_timer.cancel()
            self._sniff_timer = None

    def data_received(self, data: bytes) -> None:
        transport = self._transport
        assert transport is not None
        self._cancel_sniff_timer()
        certless = self._certless(transport)
        if data[0] in _HTTP_FIRST and self._port.http is not None:
            if certless and self._port.certless_routes is None:
                transport.close()
                return
            proto = self._port.forwarded_http(transport, self._port.certless_routes if certless else None,
                                              self._slot.release)
            transport.set_protocol(proto)
            proto.connection_made(transport)
            proto.data_received(data)
            return
        handler = self._port.stream_handler
        if handler is None or certless or not self._may_act_as_server(transport):
            transport.close()
            return
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=2**24, loop=loop)
        proto = asyncio.StreamReaderProtocol(reader, loop=loop)
        transport.set_protocol(proto)
        proto.connection_made(transport)
        writer = asyncio.StreamWriter(transport, proto, reader, loop)
        reader.feed_data(data)
        task = loop.create_task(handler(reader, writer))
        self._port.tasks.add(task)
        task.add_done_callback(self._port.tasks.discard)
        slot = self._slot
        task.add_done_callback(lambda _: slot.release())

    def _certless(self, transport: asyncio.Transport) -> bool:
        """A TLS peer without a certificate under verify_incoming: only possible when the server
        signs auto_encrypt certificates, and then it may ask for one and nothing else."""
        return self._inside_tls and self._port.require_tls and not transport.get_extra_info("peercert")

    def _may_act_as_server(self, transport: asyncio.Transport) -> bool:
        """verify_server_hostname: a Raft stream needs a verified certificate for the servers' name."""
        want = self._port.server_name
        if not want:
            return True
        names = dns_names(transport.get_extra_info("peercert")) if self._inside_tls else []
        if want in names:
            return True
        log.warning("refused Raft from a peer without a server certificate (verify_server_hostname)",
                    extra={"peer": str(transport.get_extra_info("peername")), "want": want,
                           "names": ",".join(names) or "none"})
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_sniff_timer()
        self._transport = None
        self._slot.release()  # closed before it was handed on (handed on, the new owner releases)


class ServerPort:
    def __init__(
        self,
        host: str,
        port: int,
        ssl_context: ssl.SSLContext | None = None,
        first_byte_timeout: float = FIRST_BYTE_TIMEOUT,
        *,
        require_tls: bool = False,
        server_name: str = "",
        handshake_timeout: float = 5.0,
        max_conns_per_client: int = 100,
        header_timeout: float = 10.0,
    ) -> None:
        """`ssl_context` is read at each new connection, so a reload may swap it.
        `max_conns_per_client` 0: no cap."""
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.first_byte_timeout = first_byte_timeout
        self.require_tls = require_tls
        self.server_name = server_name
        self.handshake_timeout = handshake_timeout
        self.header_timeout = header_timeout
        self.limiter = ConnLimiter(max_conns_per_client)
        self.http: ProtocolFactory | None = None
        # The forwarded requests `http` may see; None lets nothing through.
        self.forwarded_routes: ForwardedRoutes | None = None
        # What a TLS peer without a certificate may ask under verify_incoming (auto_encrypt's
        # Sign on a server with allow_tls); None closes such a connection.
        self.certless_routes: ForwardedRoutes | None = None
        self.stream_handler: StreamHandler | None = None
        # Hosts that may forward requests from another datacenter (the WAN servers); None: none.
        self.wan_forwarders: Callable[[], set[str]] | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self._listener: socket.socket | None = None
        self._peeking: dict[socket.socket, asyncio.TimerHandle] = {}
        self._slots: dict[socket.socket, _Slot] = {}  # sockets being peeked at

    def forwarded_http(self, transport: asyncio.BaseTransport,
                       routes: ForwardedRoutes | None = None,
                       on_close: Callable[[], None] | None = None) -> asyncio.Protocol:
        """The protocol for an HTTP connection: the application's, behind the allow-list
        (`routes`, else the forwarded requests')."""
        assert self.http is not None
        peer = transport.get_extra_info("peername")
        routes = routes or self.forwarded_routes or ForwardedRoutes(())
        return ForwardGate(self.http(), routes, f"{peer[0]}:{peer[1]}" if peer else "?",
                           header_timeout=self.header_timeout, on_close=on_close,
                           wan_forwarders=self.wan_forwarders, peer_host=str(peer[0]) if peer else "")

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = socket.create_server((self.host, self.port), family=family, backlog=1024)
        listener.setblocking(False)
        self._listener = listener
        self.port = listener.getsockname()[1]
        loop.add_reader(listener.fileno(), self._accept)
        log.info("server port listening", extra={"address": f"{self.host}:{self.port}"})

    def _accept(self) -> None:
        """Accept what is waiting. Without TLS a connection goes straight to the sniffing
        protocol; with TLS its first byte is peeked first (a socket no transport owns yet)."""
        assert self._listener is not None
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, addr = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # EMFILE and friends: keep the listener, log it
                log.warning("server port accept failed", extra={"error": str(exc)})
                return
            ip = str(addr[0]) if isinstance(addr, tuple) and addr else "?"
            if not self.limiter.acquire(ip):
                _limit_log.warning(f"limit:{ip}", "rejecting a server port connection: "
                                   "rpc_max_conns_per_client exceeded", peer=ip,
                                   limit=self.limiter.max_per_client)
                conn.close()
                continue
            conn.setblocking(False)
            slot = _Slot(self.limiter, ip)
            if self.ssl_context is None:
                self._hand_over(conn, None, slot)
                continue
            timer = loop.call_later(self.first_byte_timeout, self._drop_unpeeked, conn)
            self._peeking[conn] = timer
            self._slots[conn] = slot
            loop.add_reader(conn.fileno(), self._peek, conn)

    def _drop_unpeeked(self, conn: socket.socket) -> None:
        self._stop_peeking(conn)
        self._close_unowned(conn)

    def _close_unowned(self, conn: socket.socket) -> None:
        """Close a socket no transport owns yet, giving its slot back."""
        slot = self._slots.pop(conn, None)
        if slot is not None:
            slot.release()
        conn.close()

    def _stop_peeking(self, conn: socket.socket) -> None:
        timer = self._peeking.pop(conn, None)
        if timer is not None:
            timer.cancel()
            asyncio.get_running_loop().remove_reader(conn.fileno())

    def _peek(self, conn: socket.socket) -> None:
        try:
            first = conn.recv(1, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            first = b""
        self._stop_peeking(conn)
        if not first:
            self._close_unowned(conn)
        elif first[0] == _TLS_HANDSHAKE:
            self._hand_over(conn, self.ssl_context, self._slots.pop(conn))
        elif self.require_tls:
            log.warning("refused a plaintext connection on the server port (verify_incoming)",
                        extra={"peer": str(_peername(conn))})
            self._close_unowned(conn)
        else:
            self._hand_over(conn, None, self._slots.pop(conn))

    def _hand_over(self, conn: socket.socket, ctx: ssl.SSLContext | None, slot: _Slot) -> None:
        task = asyncio.get_running_loop().create_task(self._connect(conn, ctx, slot))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _connect(self, conn: socket.socket, ctx: ssl.SSLContext | None, slot: _Slot) -> None:
        loop = asyncio.get_running_loop()
        peer = _peername(conn)
        try:
            if ctx is None:
                await loop.connect_accepted_socket(lambda: _MuxProtocol(self, slot), conn)
            else:
                await loop.connect_accepted_socket(lambda: _MuxProtocol(self, slot, inside_tls=True), conn,
                                                   ssl=ctx, ssl_handshake_timeout=self.handshake_timeout)
        except (ssl.SSLError, OSError, ConnectionError, TimeoutError) as exc:
            if ctx is not None:
                log.warning("TLS handshake on the server port failed", extra={"peer": str(peer), "error": str(exc)})
            slot.release()
            conn.close()
        except asyncio.CancelledError:
            slot.release()
            raise

    async def close(self) -> None:
        if self._listener is not None:
            asyncio.get_running_loop().remove_reader(self._listener.fileno())
            self._listener.close()
            self._listener = None
        for conn in list(self._peeking):
            self._drop_unpeeked(conn)
        for t in list(self.tasks):
            t.cancel()


def _peername(conn: socket.socket) -> object:
    try:
        return conn.getpeername()
    except OSError:
        return "?"
