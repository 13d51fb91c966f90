"""The server port's sniffing read is bounded: a silent peer is disconnected, a talking one is not."""

from __future__ import annotations

import asyncio

from pyconsul.agent.server_port import ServerPort
from tests.support.ports import free_port

TIMEOUT = 0.3


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(100):
        writer.write(data)
        await writer.drain()
    writer.close()


async def _started() -> ServerPort:
    port = ServerPort("127.0.0.1", free_port(), first_byte_timeout=TIMEOUT)
    port.stream_handler = _echo
    await port.start()
    return port


def test_silent_connection_is_closed_after_the_first_byte_timeout() -> None:
    async def scenario() -> bytes:
        port = await _started()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port.port)
            # Without the timer this read never returns; with it the server closes the socket.
            got = await asyncio.wait_for(reader.read(10), timeout=5.0)
            writer.close()
            return got
        finally:
            await port.close()

    assert asyncio.run(scenario()) == b""


def test_connection_that_sent_its_first_byte_outlives_the_timeout() -> None:
    async def scenario() -> bytes:
        port = await _started()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port.port)
            writer.write(b"\x01")
            assert await asyncio.wait_for(reader.readexactly(1), timeout=5.0) == b"\x01"
            # Past the sniffing deadline the established stream still carries data.
            await asyncio.sleep(TIMEOUT * 2)
            writer.write(b"\x02")
            got = await asyncio.wait_for(reader.readexactly(1), timeout=5.0)
            writer.close()
            return got
        finally:
            await port.close()

    assert asyncio.run(scenario()) == b"\x02"
