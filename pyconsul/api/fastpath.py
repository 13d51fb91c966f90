"""A lean HTTP/1.1 front for the hottest reads, sharing the API's encoded-reply cache.

Each connection starts on FastPathProtocol. A request that is a lone bodiless GET whose reply is
already encoded for the current index (catalog/health service reads that are not blocking and not
`?consistent`) is answered straight from the cache with prebuilt header bytes. Anything else —
writes, blocking waits, misses, odd framing — hands the connection, with the bytes read so far,
to aiohttp's protocol for good. So the fast path can only ever answer what aiohttp would have.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import httptools

from pyconsul.api.conn_limits import TOO_MANY_CONNS, ConnLimiter, HeaderWatch, HTTPLimits

if TYPE_CHECKING:
    from pyconsul.api.app import APIContext

_MAX_HEAD = 8192
DEFAULT_LIMITS = HTTPLimits()


class _DateHeader:
    """`Date: ...\\r\\n`, formatted at most once a second."""

    def __init__(self) -> None:
        self._sec = -1
        self._line = b""

    def get(self) -> bytes:
        now = int(time.time())
        if now != self._sec:
            self._sec = now
            self._line = b"Date: " + time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now)).encode() + b"\r\n"
        return self._line


DATE = _DateHeader()


class FastPathProtocol(asyncio.Protocol):
    """Serves hot cached reads itself and hands anything else to aiohttp's protocol, staying in
    front of it (forwarding every event) so the connection's limits hold for its whole life:
    the header timeout on every request, the idle timeout between fast-path replies (aiohttp's
    keep-alive timer takes over after a hand-off), and the per-client cap until it closes."""

    __slots__ = ("ctx", "make_slow", "transport", "buf", "_url", "_token", "_secret", "_bearer", "_parser",
                 "_keep_alive", "_limits", "_limiter", "_ip", "_timer", "_deadline", "_loop", "_slow", "_watch")

    def __init__(self, ctx: APIContext, make_slow: Callable[[], asyncio.Protocol],
                 limits: HTTPLimits = DEFAULT_LIMITS, limiter: ConnLimiter | None = None) -> None:
        self.ctx = ctx
        self.make_slow = make_slow
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self._url = b""
        self._token = False
        self._secret: str | None = None  # X-Consul-Token, as the full path reads it first
        self._bearer: str | None = None  # Authorization: Bearer <token>
        self._parser: httptools.HttpRequestParser | None = None
        self._keep_alive = True
        self._limits = limits
        self._limiter = limiter
        self._ip: str | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._deadline: float | None = None  # when the connection times out; None: no limit running
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slow: asyncio.Protocol | None = None
        self._watch: HeaderWatch | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._loop = asyncio.get_running_loop()
        if self._limiter is not None:
            peer = transport.get_extra_info("peername")
            ip = peer[0] if isinstance(peer, tuple) and peer else None
            if ip is not None:
                if not self._limiter.acquire(ip):
                    self.transport.write(TOO_MANY_CONNS)
                    self.transport.close()
                    return
                self._ip = ip
        self._arm(self._limits.read_header_timeout)

    # One timer per connection, moved lazily: each request only sets `_deadline`, and the timer,
    # when it fires early, sleeps again until the deadline (a timer per request cost more than
    # the rest of a cached reply).
    def _arm(self, seconds: float) -> None:
        loop = self._loop
        assert loop is not None
        deadline = self._deadline = loop.time() + seconds
        if self._timer is None:
            self._timer = loop.call_at(deadline, self._check_deadline)
        elif deadline < self._timer.when():
            self._timer.cancel()
            self._timer = loop.call_at(deadline, self._check_deadline)

    def _disarm(self) -> None:
        self._deadline = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check_deadline(self) -> None:
        self._timer = None
        deadline, loop = self._deadline, self._loop
        if deadline is None or loop is None:
            return
        if loop.time() < deadline:
            self._timer = loop.call_at(deadline, self._check_deadline)
            return
        self._timed_out()

    def _timed_out(self) -> None:
        self._disarm()
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._slow is not None:
            if self._watch is not None:
                self._watch.feed(data)
            self._slow.data_received(data)
            return
        if not self.buf:
            self._arm(self._limits.read_header_timeout)  # a request begins (or idle ends)
        buf = self.buf + data if self.buf else data
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > _MAX_HEAD:
                self._hand_off(buf)
            else:
                self.buf = buf
            return
        self.buf = b""
        # Pipelined requests: the leading run of cached reads is answered with one write; the
        # first request the fast path cannot answer hands the connection over from there on.
        replies: list[bytes] = []
        start = 0
        while True:
            reply = self._answer(buf[start:end + 4])
            if reply is None:
                break
            replies.append(reply)
            start = end + 4
            if not self._keep_alive:
                break
            end = buf.find(b"\r\n\r\n", start)
            if end < 0:
                break
        transport = self.transport
        assert transport is not None
        if replies:
            transport.write(replies[0] if len(replies) == 1 else b"".join(replies))
            if not self._keep_alive:
                self._disarm()
                transport.close()
                return
        rest = buf[start:] if start else buf
        if not rest:
            self._arm(self._limits.idle_timeout)
        elif end >= 0 or len(rest) > _MAX_HEAD:
            self._hand_off(rest)
        else:  # the next request's head has not all arrived
            self.buf = rest
            self._arm(self._limits.read_header_timeout)

    def _answer(self, head: bytes) -> bytes | None:
        """The cached reply to one complete bodiless request head, or None."""
        if not head.startswith(b"GET "):
            return None
        self._url = b""
        self._token = False
        self._secret = self._bearer = None
        parser = self._parser
        if parser is None:  # one per connection: it resets itself after each complete request
            parser = self._parser = httptools.HttpRequestParser(self)
        self._keep_alive = True
        try:
            parser.feed_data(head)
        except httptools.HttpParserError:
            return None
        if self._token:
            return None
        return self.ctx.fast_reply(self._url, self._secret or self._bearer or "")

    # httptools callbacks
    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        lname = name.lower()
        if lname in (b"content-length", b"transfer-encoding"):
            self._token = True  # bodies take the full path
        elif lname == b"x-consul-token":
            if self._secret is not None or not value.isascii():
                self._token = True  # repeated or odd: let the full path read it
            else:
                self._secret = value.decode().strip()
        elif lname == b"authorization":
            if self._bearer is not None or not value.isascii():
                self._token = True
            else:  # as params.request_token reads it: the first word after a Bearer scheme
                scheme, _, rest = value.decode().strip().partition(" ")
                words = rest.split() if scheme.lower() == "bearer" else []
                self._bearer = words[0] if words else ""

    def on_headers_complete(self) -> None:
        # Read here: once the message is complete the parser has reset for the next one and
        # reports keep-alive whatever `Connection: close` said.
        assert self._parser is not None
        self._keep_alive = self._parser.should_keep_alive()

    def _hand_off(self, buf: bytes) -> None:
        self._disarm()
        proto = self._slow = self.make_slow()
        assert self.transport is not None
        self._watch = HeaderWatch(self._limits.read_header_timeout, self._timed_out)
        proto.connection_made(self.transport)
        if buf:
            self._watch.feed(buf)
            proto.data_received(buf)

    def pause_writing(self) -> None:
        if self._slow is not None:
            self._slow.pause_writing()

    def resume_writing(self) -> None:
        if self._slow is not None:
            self._slow.resume_writing()

    def eof_received(self) -> bool | None:
        """A client that half-closes after its request (`shutdown(SHUT_WR)`, `nc -N`) still gets
        its answer, as from Go's server: the connection stays open for the reply being made
        (aiohttp would close it at once, so a slow reply was lost, or failed as a 500); it then
        closes as the request asked (`Connection: close`) or at the idle timeout."""
        slow = self._slow
        if slow is None:
            return None  # fast-path replies were written as each request arrived
        slow.eof_received()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._watch is not None:
            self._watch.cancel()
        if self._ip is not None and self._limiter is not None:
            self._limiter.release(self._ip)
            self._ip = None
        self.transport = None
        if self._slow is not None:
            self._slow.connection_lost(exc)


def build_head(index: int, body_len: int, known_leader: bool, last_contact: int, content_type: str,
               consistency: str = "leader") -> tuple[bytes, bytes]:
    """Header bytes before and after the Date line, for one cached reply."""
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: " + content_type.encode()
        + b"\r\nX-Consul-Effective-Consistency: " + consistency.encode()
        + b"\r\nX-Consul-Index: " + str(index).encode()
        + b"\r\nX-Consul-KnownLeader: " + (b"true" if known_leader else b"false")
        + b"\r\nX-Consul-LastContact: " + str(last_contact).encode() + b"\r\n"
    )
    tail = b"Content-Length: " + str(body_len).encode() + b"\r\n\r\n"
    return head, tail


FastEntry = tuple[int, bytes, bytes, bytes]  # index, head, tail, body
