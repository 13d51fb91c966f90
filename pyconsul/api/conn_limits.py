"""What bounds an HTTP connection: how long its request headers may take, how long it may sit
idle between requests, and how many one client address may hold open at once.

Go's HTTP server (and so Consul) closes a connection whose headers do not arrive within its
header timeout and one idle past its idle timeout; Consul's `limits.http_max_conns_per_client`
(default 200) closes a client's connections past the cap as they are accepted, with a 429.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import httptools

# Consul's connection limiter answers a connection past the cap with this, then closes it.
TOO_MANY_CONNS = (b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain; charset=utf-8\r\n"
                  b"Connection: close\r\nContent-Length: 0\r\n\r\n")


@dataclass(frozen=True, slots=True)
class HTTPLimits:
    # A whole request head must arrive within this many seconds of its first byte (or of accept).
    read_header_timeout: float = 10.0
    # A keep-alive connection with no request in flight is closed after this many seconds:
    # longer than Go's client-side idle pool (90 s), so clients normally close first.
    idle_timeout: float = 120.0


class ConnLimiter:
    """Open connections per client IP; `acquire` refuses past `max_per_client` (0: no cap)."""

    def __init__(self, max_per_client: int) -> None:
        self.max_per_client = max_per_client
        self.open: dict[str, int] = {}

    def acquire(self, ip: str) -> bool:
        n = self.open.get(ip, 0)
        if self.max_per_client > 0 and n >= self.max_per_client:
            return False
        self.open[ip] = n + 1
        return True

    def release(self, ip: str) -> None:
        n = self.open.get(ip, 0) - 1
        if n > 0:
            self.open[ip] = n
        else:
            self.open.pop(ip, None)


class HeaderWatch:
    """Follows a connection's requests (with its own parser, alongside whoever answers them) to
    time each request head from its first byte; `on_late` is called when one takes too long."""

    __slots__ = ("_parser", "_timer", "_timeout", "_on_late")

    def __init__(self, timeout: float, on_late: Callable[[], None]) -> None:
        self._parser: httptools.HttpRequestParser | None = httptools.HttpRequestParser(self)
        self._timer: asyncio.TimerHandle | None = None
        self._timeout = timeout
        self._on_late = on_late

    def feed(self, data: bytes) -> None:
        if self._parser is None:
            return
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade):
            # The answering side rejects bad framing itself; an upgrade is no longer HTTP/1.
            self._parser = None
            self.cancel()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.cancel()
        self._timer = asyncio.get_running_loop().call_later(self._timeout, self._on_late)

    def on_headers_complete(self) -> None:
        self.cancel()
