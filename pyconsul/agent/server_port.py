"""The server port (8300): one listener, two protocols, told apart by the first byte.

Consul multiplexes RPC and Raft on its server port by a leading type byte. Here, a connection
whose first byte is an ASCII capital letter is an HTTP/1.1 request forwarded by a client agent
(or a follower) and is handed to the agent's HTTP application; anything else is the Raft
transport's binary framing and goes to its stream handler. The listener takes an optional
`ssl.SSLContext`, so TLS wraps both.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable

log = logging.getLogger("pyconsul.server_port")

StreamHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
ProtocolFactory = Callable[[], asyncio.Protocol]

_HTTP_FIRST = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")

# A peer that connects and sends nothing would hold a descriptor for good; Consul's server
# port gives the first byte the same bound Go's HTTP server gives request headers.
FIRST_BYTE_TIMEOUT = 10.0


class _MuxProtocol(asyncio.Protocol):
    def __init__(self, port: ServerPort) -> None:
        self._port = port
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
        if data[0] in _HTTP_FIRST and self._port.http is not None:
            proto = self._port.http()
            transport.set_protocol(proto)
            proto.connection_made(transport)
            proto.data_received(data)
            return
        handler = self._port.stream_handler
        if handler is None:
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

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_sniff_timer()
        self._transport = None


class ServerPort:
    def __init__(
        self,
        host: str,
        port: int,
        ssl_context: ssl.SSLContext | None = None,
        first_byte_timeout: float = FIRST_BYTE_TIMEOUT,
    ) -> None:
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.first_byte_timeout = first_byte_timeout
        self.http: ProtocolFactory | None = None
        self.stream_handler: StreamHandler | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _MuxProtocol(self), self.host, self.port, ssl=self.ssl_context, reuse_address=True
        )
        log.info("server port listening", extra={"address": f"{self.host}:{self.port}"})

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for t in list(self.tasks):
            t.cancel()
