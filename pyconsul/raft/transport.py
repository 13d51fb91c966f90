"""The boundary between a Raft node and the network, and the only place faults are injected.

Raft messages are fire-and-forget: `send` queues them for a peer and returns; they may be lost
(Raft retries), but never reordered within one connection. Other server-to-server calls (join,
forwarded writes, membership changes) are request/response `call`s that raise `TransportError`
when the peer cannot be reached (`ConnectFailed` when the call surely never left) or `RemoteError` when it answered with an error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from pyconsul.raft.messages import Message


class TransportError(Exception):
    """The peer could not be reached (refused, timed out, connection lost)."""


class ConnectFailed(TransportError):
    """No connection to the peer could be made: the call surely never reached it."""


class RemoteError(Exception):
    """The peer answered the call with an error message."""


# Incoming raft messages: (sender's server ID, sender's server address, messages).
MessageHandler = Callable[[str, str, list[Message]], None]
# Incoming calls: (method, body) -> reply body; raise to answer with an error.
CallHandler = Callable[[str, Any], Awaitable[Any]]
# Delivery to a peer address failed (the driver stops pipelining to it).
UnreachableHandler = Callable[[str], None]


class Transport(Protocol):
    @property
    def address(self) -> str:
        """"IP:port" other servers reach this one at."""

    async def start(
        self,
        local_id: str,
        on_messages: MessageHandler,
        on_call: CallHandler,
        on_unreachable: UnreachableHandler,
    ) -> None: ...

    def send(self, addr: str, messages: list[Message]) -> None: ...

    async def call(self, addr: str, method: str, body: Any, timeout: float = 5.0) -> Any: ...

    async def stop(self) -> None: ...
