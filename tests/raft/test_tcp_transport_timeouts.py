"""TCPTransport.serve drops inbound connections whose peer is silent: no magic within the
handshake timeout, no frame within the idle timeout, a frame's body not finished in time —
and keeps serving other peers meanwhile."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from pyconsul.raft.messages import Message
from pyconsul.raft.tcp_transport import MAGIC, TCPTransport, split_addr


class Recorder:
    def on_messages(self, src: str, addr: str, msgs: list[Message]) -> None:
        pass

    async def on_call(self, method: str, body: Any) -> Any:
        return body


async def _serving(**timeouts: float) -> TCPTransport:
    t = TCPTransport("127.0.0.1", 0, **timeouts)
    rec = Recorder()
    await t.start("s", rec.on_messages, rec.on_call, lambda addr: None)
    return t


@pytest.mark.parametrize("opening", [b"", MAGIC, MAGIC + b"\x00\x00\x01\x00" + b"\x92"])
async def test_a_silent_or_stuck_peer_is_dropped(opening: bytes) -> None:
    t = await _serving(handshake_timeout=0.5, idle_timeout=0.8, frame_timeout=0.6)
    other = await _serving()
    try:
        r, w = await asyncio.open_connection(*split_addr(t.address))
        w.write(opening)
        await w.drain()
        start = time.monotonic()
        # Another peer is served while this one stalls.
        assert await other.call(t.address, "echo", "still fine") == "still fine"
        assert await asyncio.wait_for(r.read(), 5) == b""  # dropped by the server
        assert 0.4 < time.monotonic() - start < 3
        w.close()
    finally:
        await other.stop()
        await t.stop()


async def test_a_peer_that_keeps_sending_frames_is_kept() -> None:
    t = await _serving(idle_timeout=0.5)
    other = await _serving()
    try:
        for _ in range(8):  # past the idle timeout in total, never idle for it
            assert await other.call(t.address, "echo", 1) == 1
            await asyncio.sleep(0.2)  # the gap between a live peer's frames
    finally:
        await other.stop()
        await t.stop()
