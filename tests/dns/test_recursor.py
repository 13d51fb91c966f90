"""Forwarding details against a scripted upstream on real UDP/TCP sockets: truncation hand-off
to TCP, random upstream IDs, and replies that do not match the query being ignored."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from dnslib import RR, A, DNSRecord

from pyconsul.config.runtime import DNSConfig, RuntimeConfig
from pyconsul.dns.recursor import parse_recursor
from pyconsul.dns.server import DNSServer, start_dns_server
from tests.dns.catalog import Catalog
from tests.dns.procs import dig
from tests.support.ports import free_port

BIG = [f"192.0.2.{i}" for i in range(1, 41)]


class Upstream:
    """A real DNS peer: over UDP it first sends a reply with the wrong ID, then a truncated one;
    over TCP it sends the full answer."""

    def __init__(self) -> None:
        self.port = free_port()
        self.udp_ids: list[int] = []
        self.tcp_ids: list[int] = []
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.AbstractServer | None = None

    def reply(self, data: bytes, truncated: bool) -> bytes:
        q = DNSRecord.parse(data)
        r = q.reply()
        if truncated:
            r.header.tc = 1
        else:
            for ip in BIG:
                r.add_answer(RR(q.q.qname, 1, 1, 30, A(ip)))
        return bytes(r.pack())

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        up = self

        class P(asyncio.DatagramProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.t = transport

            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                up.udp_ids.append(int.from_bytes(data[:2], "big"))
                bogus = bytearray(up.reply(data, False))
                bogus[0] ^= 0xFF  # a reply to some other query: must be ignored
                self.t.sendto(bytes(bogus), addr)  # type: ignore[attr-defined]
                self.t.sendto(up.reply(data, True), addr)  # type: ignore[attr-defined]

        self._udp, _ = await loop.create_datagram_endpoint(P, local_addr=("127.0.0.1", self.port))  # type: ignore[assignment]

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            size = struct.unpack("!H", await reader.readexactly(2))[0]
            data = await reader.readexactly(size)
            self.tcp_ids.append(int.from_bytes(data[:2], "big"))
            out = self.reply(data, False)
            writer.write(struct.pack("!H", len(out)) + out)
            await writer.drain()
            writer.close()

        self._tcp = await asyncio.start_server(serve, "127.0.0.1", self.port)

    async def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    up = Upstream()
    await up.start()
    yield up
    await up.close()


@pytest.fixture
async def server(upstream: Upstream) -> AsyncIterator[DNSServer]:
    cfg = RuntimeConfig(client_addr="127.0.0.1", recursors=[f"127.0.0.1:{upstream.port}"],
                        dns_config=DNSConfig(recursor_timeout=1.0))
    cfg.ports = replace(cfg.ports, dns=free_port())
    srv = await start_dns_server(cfg, Catalog().store.catalog)
    yield srv
    await srv.close()


async def test_truncated_upstream_reply_sends_the_client_to_tcp(server: DNSServer, upstream: Upstream) -> None:
    out = await dig(server.port, "+noedns", "big.example.net")
    assert "flags: qr tc rd ra" in out or ";; Truncated, retrying in TCP mode." in out
    got = (await dig(server.port, "+short", "big.example.net")).split()
    assert got == BIG  # dig retried over TCP; we forwarded that over TCP too
    assert upstream.tcp_ids


async def test_upstream_sees_fresh_ids(server: DNSServer, upstream: Upstream) -> None:
    for qid in ("0", "0", "0"):
        await dig(server.port, "+noedns", "+qid=" + qid, "+ignore", "x.example.net")
    assert len(upstream.udp_ids) == 3 and len(set(upstream.udp_ids)) > 1


@pytest.mark.parametrize(
    "text,expected",
    [("8.8.8.8", ("8.8.8.8", 53)), ("127.0.0.1:5353", ("127.0.0.1", 5353)), ("::1", ("::1", 53)),
     ("[::1]:5353", ("::1", 5353)), ("[2001:db8::1]", ("2001:db8::1", 53))],
)
def test_parse_recursor(text: str, expected: tuple[str, int]) -> None:
    assert parse_recursor(text) == expected


@pytest.mark.parametrize("text", ["", "dns.example.com", "1.2.3.4:0", "1.2.3.4:x", "[::1", "[::1]x"])
def test_parse_recursor_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_recursor(text)
