"""Faults for tests, injected only at the transport boundary: a wrapper that blackholes peers."""

from __future__ import annotations

from typing import Any

from pyconsul.raft.messages import Message
from pyconsul.raft.transport import (
    CallHandler,
    MessageHandler,
    Transport,
    TransportError,
    UnreachableHandler,
)


class FaultyTransport:
    """Wraps a real transport; traffic to or from an address in `blocked` silently vanishes."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.blocked: set[str] = set()

    @property
    def address(self) -> str:
        return self.inner.address

    async def start(
        self, local_id: str, on_messages: MessageHandler, on_call: CallHandler, on_unreachable: UnreachableHandler
    ) -> None:
        def filtered(src: str, src_addr: str, msgs: list[Message]) -> None:
            if src_addr not in self.blocked:
                on_messages(src, src_addr, msgs)

        await self.inner.start(local_id, filtered, on_call, on_unreachable)

    def send(self, addr: str, messages: list[Message]) -> None:
        if addr not in self.blocked:
            self.inner.send(addr, messages)

    async def call(self, addr: str, method: str, body: Any, timeout: float = 5.0) -> Any:
        if addr in self.blocked:
            raise TransportError(f"{addr}: blocked by the test")
        return await self.inner.call(addr, method, body, timeout)

    async def stop(self) -> None:
        await self.inner.stop()
