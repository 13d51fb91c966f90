"""TCPTransport on real sockets: calls, errors, bad input on the server port, address parsing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pyconsul.raft.messages import DecodeError, Heartbeat, Message, decode_message, encode_message
from pyconsul.raft.tcp_transport import TCPTransport, split_addr
from pyconsul.raft.transport import RemoteError, TransportError
from tests.support.ports import free_port
from tests.support.wait import async_wait_until


class Recorder:
    def __init__(self) -> None:
        self.got: list[tuple[str, str, list[Message]]] = []
        self.unreachable: list[str] = []

    def on_messages(self, src: str, addr: str, msgs: list[Message]) -> None:
        self.got.append((src, addr, msgs))

    async def on_call(self, method: str, body: Any) -> Any:
        if method == "echo":
            return body
        raise ValueError(f"no such call {method}")


async def start(rec: Recorder, name: str) -> TCPTransport:
    t = TCPTransport("127.0.0.1", 0)
    await t.start(name, rec.on_messages, rec.on_call, rec.unreachable.append)
    return t


async def test_messages_and_calls_round_trip_and_errors_are_clear() -> None:
    ra, rb = Recorder(), Recorder()
    a, b = await start(ra, "a"), await start(rb, "b")
    try:
        a.send(b.address, [Heartbeat(3, "a", "b", 7, b"ctx")])
        assert await a.call(b.address, "echo", {"x": [1, b"2"]}) == {"x": [1, b"2"]}
        await async_wait_until(lambda: rb.got, 2, what="the heartbeat to arrive", interval=0.01)
        assert rb.got == [("a", a.address, [Heartbeat(3, "a", "b", 7, b"ctx")])]
        with pytest.raises(RemoteError, match="no such call"):
            await a.call(b.address, "nope", None)
        dead = f"127.0.0.1:{free_port()}"
        with pytest.raises(TransportError):
            await a.call(dead, "echo", 1, timeout=2)
        a.send(dead, [Heartbeat(1, "a", "c")])
        await async_wait_until(lambda: dead in ra.unreachable, 2, what=f"{dead} marked unreachable", interval=0.01)
        assert dead in ra.unreachable
        a.send("not an address:xx", [Heartbeat(1, "a", "c")])  # logged and dropped, no exception
        with pytest.raises(TransportError):
            await a.call("bad:port:", "echo", 1)
    finally:
        await a.stop()
        await b.stop()


async def test_garbage_on_the_server_port_is_refused_and_server_keeps_working() -> None:
    rec = Recorder()
    t = await start(rec, "s")
    try:
        for junk in (b"GET / HTTP/1.1\r\n\r\n", b"\x01PCR\x00\x00\x00\x05hello", b"\x01PCR\xff\xff\xff\xff"):
            host, port = split_addr(t.address)
            r, w = await asyncio.open_connection(host, port)
            w.write(junk)
            await w.drain()
            assert await asyncio.wait_for(r.read(), 5) == b""  # closed on us, no reply
            w.close()
        other = await start(Recorder(), "o")
        try:
            assert await other.call(t.address, "echo", "still fine") == "still fine"
        finally:
            await other.stop()
    finally:
        await t.stop()


def test_split_addr_and_codec_errors() -> None:
    assert split_addr("10.0.0.1") == ("10.0.0.1", 8300)
    assert split_addr("10.0.0.1:8301") == ("10.0.0.1", 8301)
    assert split_addr("[::1]:9000") == ("::1", 9000)
    for bad in ("", ":80", "host:0", "host:99999", "host:x"):
        with pytest.raises(ValueError):
            split_addr(bad)
    m = Heartbeat(2, "a", "b", 5, b"")
    assert decode_message(encode_message(m)) == m
    for junk in (b"\xc1", b"\x93\x01\x02\x03", encode_message(m)[:-1]):
        with pytest.raises(DecodeError):
            decode_message(junk)
