"""Forwarding to the configured `recursors`.

Rules (Consul's): recursors are tried in order, each with `recursor_timeout`; the first reply
with NOERROR or NXDOMAIN (or a truncated one, which sends the client to TCP) is relayed with the
client's ID; any other rcode, a timeout or a network error moves on to the next recursor; when
none answers the client gets SERVFAIL. A client that asked over TCP is forwarded over TCP.
Upstream queries carry a fresh random ID, and a reply must match it and echo the question.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets

from pyconsul.dns import records as r

log = logging.getLogger("pyconsul.dns")

_ACCEPTED_RCODES = (r.NOERROR, r.NXDOMAIN)


def parse_recursor(addr: str) -> tuple[str, int]:
    """'1.2.3.4', '1.2.3.4:53', '::1', '[::1]:5353' → (host, port). Raises ValueError."""
    text = addr.strip()
    if not text:
        raise ValueError("empty recursor address")
    host, port = text, 53
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"bad recursor address {addr!r}")
        host, rest = text[1:end], text[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"bad recursor address {addr!r}")
            port = int(rest[1:])
    elif text.count(":") == 1:
        host, p = text.split(":")
        port = int(p)
    ipaddress.ip_address(host)  # recursors are IP addresses, as in Consul
    if not 0 < port < 65536:
        raise ValueError(f"bad recursor port in {addr!r}")
    return host, port


def _question_end(data: bytes) -> int:
    i = 12
    while i < len(data) and data[i] != 0:
        if data[i] > 63:
            return -1
        i += data[i] + 1
    return i + 5


class _OneReply(asyncio.DatagramProtocol):
    def __init__(self, want_id: bytes, question: bytes) -> None:
        self.want_id = want_id
        self.question = question
        self.reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: object) -> None:
        # Ignore anything that is not the reply to our query (spoofed or stale datagrams).
        if data[:2] == self.want_id and data[12 : 12 + len(self.question)] == self.question:
            if not self.reply.done():
                self.reply.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.reply.done():
            self.reply.set_exception(exc)


class Recursors:
    def __init__(self, addrs: list[str], timeout: float) -> None:
        self.upstreams = [parse_recursor(a) for a in addrs]
        self.timeout = timeout if timeout > 0 else 2.0

    async def forward(self, data: bytes, req: r.Request, tcp: bool) -> bytes:
        qend = _question_end(data)
        question = data[12:qend] if qend > 0 else b""
        for host, port in self.upstreams:
            upstream_id = secrets.token_bytes(2)
            query = upstream_id + data[2:]
            try:
                exchange = self._tcp if tcp else self._udp
                reply = await asyncio.wait_for(exchange(host, port, query, upstream_id, question), self.timeout)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
                log.debug("recursor %s:%d failed: %r", host, port, exc)
                continue
            rcode = reply[3] & 0xF
            truncated = bool(reply[2] & 0x02)
            if rcode in _ACCEPTED_RCODES or truncated:
                return data[:2] + reply[2:]
            log.debug("recursor %s:%d answered rcode %d", host, port, rcode)
        return r.error_reply(req, r.SERVFAIL, True)

    async def _udp(self, host: str, port: int, query: bytes, want_id: bytes, question: bytes) -> bytes:
        loop = asyncio.get_running_loop()
        transport, proto = await loop.create_datagram_endpoint(
            lambda: _OneReply(want_id, question), remote_addr=(host, port)
        )
        try:
            transport.sendto(query)
            return await proto.reply
        finally:
            transport.close()

    async def _tcp(self, host: str, port: int, query: bytes, want_id: bytes, question: bytes) -> bytes:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(len(query).to_bytes(2, "big") + query)
            await writer.drain()
            while True:
                size = int.from_bytes(await reader.readexactly(2), "big")
                reply = await reader.readexactly(size)
                if reply[:2] == want_id and len(reply) >= 12:
                    return reply
        finally:
            writer.close()
