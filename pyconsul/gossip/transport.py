"""Gossip over the network: UDP datagrams, and a TCP side for push/pull and large messages.

Both listen on the same address and port (Consul's serf LAN port). A TCP exchange is one
length-prefixed request frame answered by one length-prefixed reply frame. With a keyring every
datagram and frame is sealed (unless `verify_outgoing` is off) and only sealed ones are accepted
(unless `verify_incoming` is off: then plaintext is taken too, so encryption can be turned on in a
running cluster); with an `ssl.SSLContext` the TCP side runs over TLS.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import ssl
import struct
import time
from collections.abc import Callable, Sequence

from pyconsul import telemetry
from pyconsul.gossip.crypto import DecryptError, Keyring
from pyconsul.gossip.messages import MAX_MEMBER_BYTES, MAX_MEMBERS

log = logging.getLogger("pyconsul.gossip")

Address = tuple[str, int]
PacketHandler = Callable[[Address, bytes], None]
StreamHandler = Callable[[Address, bytes], bytes]

# The largest honest frame is a push/pull listing every member; checked on the length prefix
# before the body is read. (Sealing adds a few dozen bytes.)
MAX_FRAME = MAX_MEMBERS * MAX_MEMBER_BYTES + 4096
# Above this a message goes over TCP (a single UDP datagram tops out at 65507 bytes).
MAX_DATAGRAM = 60_000


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, deliver: Callable[[Address, bytes], None]) -> None:
        self._deliver = deliver

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self._deliver((addr[0], addr[1]), data)

    def error_received(self, exc: Exception) -> None:  # ICMP unreachable etc.: the probe will notice
        log.debug("gossip udp error: %s", exc)


class GossipTransport:
    def __init__(
        self,
        bind_addr: str,
        port: int,
        on_packet: PacketHandler,
        on_stream: StreamHandler,
        keyring: Keyring | None = None,
        ssl_server: ssl.SSLContext | None = None,
        ssl_client: ssl.SSLContext | None = None,
        stream_timeout: float = 10.0,
        allowed_cidrs: Sequence[str] = (),
        verify_incoming: bool = True,
        verify_outgoing: bool = True,
    ) -> None:
        """`allowed_cidrs` (Consul's serf_lan_allowed_cidrs): when given, traffic from any other
        source is dropped. Raises ValueError for a malformed CIDR."""
        self._bind = bind_addr
        self._port = port
        self._on_packet = on_packet
        self._on_stream = on_stream
        self._keyring = keyring
        self._verify_incoming = verify_incoming
        self._verify_outgoing = verify_outgoing
        self._ssl_server = ssl_server
        self._ssl_client = ssl_client
        self._timeout = stream_timeout
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        try:
            self._allowed = [ipaddress.ip_network(c, strict=False) for c in allowed_cidrs]
        except ValueError as exc:
            raise ValueError(f"serf_lan_allowed_cidrs: {exc}") from None
        self._last_warning: dict[str, float] = {}

    def _permitted(self, host: str) -> bool:
        if not self._allowed:
            return True
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(ip in net for net in self._allowed)

    def warn_throttled(self, src: str, text: str, *args: object) -> None:
        """At most one warning a minute per source, so a misconfigured peer cannot flood the log."""
        now = time.monotonic()
        if now - self._last_warning.get(src, -60.0) >= 60.0:
            self._last_warning[src] = now
            log.warning(text, *args)

    def _open(self, data: bytes) -> bytes:
        if self._keyring is None:
            return data
        try:
            return self._keyring.open(data)
        except DecryptError:
            if self._verify_incoming:
                raise
            return data  # plaintext from a member not yet encrypting; decoding still checks it

    def _seal(self, payload: bytes) -> bytes:
        if self._keyring is None or not self._verify_outgoing:
            return payload
        return self._keyring.seal(payload)

    @property
    def port(self) -> int:
        return self._port

    @property
    def family(self) -> socket.AddressFamily:
        """IPv6 when bound to an IPv6 address, else IPv4 (peers are dialled in the same family)."""
        return socket.AF_INET6 if ":" in self._bind else socket.AF_INET

    @property
    def bound(self) -> tuple[str, int]:
        """The (host, port) the UDP socket listens on ("", 0 before start)."""
        if self._udp is None:
            return ("", 0)
        host, port = self._udp.get_extra_info("sockname")[:2]
        return (host, port)

    async def start(self) -> None:
        """Bind TCP then UDP on the same port (port 0: any port free for both)."""
        loop = asyncio.get_running_loop()
        for _ in range(20):
            tcp = await asyncio.start_server(self._serve, self._bind, self._port, ssl=self._ssl_server,
                                             reuse_address=True)
            port = tcp.sockets[0].getsockname()[1]
            try:
                udp, _ = await loop.create_datagram_endpoint(
                    lambda: _Datagrams(self._datagram), local_addr=(self._bind, port), family=self.family)
            except OSError:
                tcp.close()
                await tcp.wait_closed()
                if self._port:
                    raise
                continue
            self._tcp, self._udp, self._port = tcp, udp, port
            return
        raise OSError("no port free for both TCP and UDP")

    async def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()
            self._tcp = None

    # ---- UDP ------------------------------------------------------------------------------

    def _datagram(self, src: Address, data: bytes) -> None:
        if not self._permitted(src[0]):
            return
        telemetry.incr_counter("memberlist.udp.received", float(len(data)))
        try:
            payload = self._open(data)
        except DecryptError as exc:
            self.warn_throttled(src[0], "gossip: dropped packet from %s:%d: %s", src[0], src[1], exc)
            return
        self._on_packet(src, payload)

    def send_packet(self, dest: Address, payload: bytes) -> None:
        if self._udp is None:
            return
        data = self._seal(payload)
        telemetry.incr_counter("memberlist.udp.sent", float(len(data)))
        try:
            self._udp.sendto(data, dest)
        except OSError as exc:
            log.debug("gossip: send to %s:%d failed: %s", dest[0], dest[1], exc)

    # ---- TCP ------------------------------------------------------------------------------

    async def _read_frame(self, reader: asyncio.StreamReader) -> bytes:
        (size,) = struct.unpack(">I", await reader.readexactly(4))
        if size > MAX_FRAME:
            raise ValueError(f"frame of {size} bytes is too large")
        data = await reader.readexactly(size)
        return self._open(data)

    def _frame(self, payload: bytes) -> bytes:
        data = self._seal(payload)
        return struct.pack(">I", len(data)) + data

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("?", 0)
        if not self._permitted(peer[0]):
            writer.close()
            return
        telemetry.incr_counter("memberlist.tcp.accept")
        try:
            request = await asyncio.wait_for(self._read_frame(reader), self._timeout)
            reply = self._on_stream((peer[0], peer[1]), request)
            writer.write(self._frame(reply))
            await writer.drain()
        except DecryptError as exc:  # a member on another key: worth an operator's attention
            self.warn_throttled(peer[0], "gossip: dropped stream from %s:%d: %s", peer[0], peer[1], exc)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError, ssl.SSLError) as exc:
            log.debug("gossip: tcp exchange with %s failed: %s", peer, exc)
        finally:
            writer.close()

    async def exchange(self, dest: Address, payload: bytes) -> bytes:
        """Send one request over TCP and return the reply. Raises OSError / TimeoutError on failure."""
        telemetry.incr_counter("memberlist.tcp.connect")

        async def run() -> bytes:
            server_hostname = dest[0] if self._ssl_client is not None else None
            # Dial from our bind address (when it is a specific one) so peers see the same source
            # address as for our UDP packets.
            local = (self._bind, 0) if self._bind not in ("", "0.0.0.0", "::") else None
            reader, writer = await asyncio.open_connection(dest[0], dest[1], ssl=self._ssl_client,
                                                           server_hostname=server_hostname, local_addr=local)
            try:
                writer.write(self._frame(payload))
                await writer.drain()
                return await self._read_frame(reader)
            finally:
                writer.close()

        try:
            return await asyncio.wait_for(run(), self._timeout)
        except asyncio.IncompleteReadError:
            raise ConnectionResetError(f"{dest[0]}:{dest[1]} closed the connection") from None
        except DecryptError as exc:
            raise ConnectionError(f"{dest[0]}:{dest[1]}: {exc}") from None
