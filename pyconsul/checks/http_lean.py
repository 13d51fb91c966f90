"""A lean HTTP/1.1 client for plain-http checks: one request per connection, parsed by httptools.

Thousands of checks run every few seconds, so the per-request cost decides how many an agent can
keep on time; this path costs a fraction of a full aiohttp request. It covers what a health probe
needs (any method, headers, body, fixed/chunked/close-delimited responses). Anything else — TLS,
or a redirect to follow — returns None and the caller uses the aiohttp path.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import httptools
from multidict import CIMultiDict

from pyconsul.checks.base import TailBuffer

REDIRECTS = (301, 302, 303, 307, 308)


class LeanResponse:
    def __init__(self, status: int, reason: str, body: str) -> None:
        self.status = status
        self.reason = reason
        self.body = body


class _Exchange(asyncio.Protocol):
    def __init__(self, request: bytes, max_size: int, follow_redirects: bool, head: bool = False) -> None:
        self.request = request
        self.head = head  # a HEAD response announces a body it never sends
        self.buf = TailBuffer(max_size)
        self.follow_redirects = follow_redirects
        self.parser = httptools.HttpResponseParser(self)
        self.reason = bytearray()
        self.status = 0
        self.headers_done = False
        self.redirect = False
        self.done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.transport: Any = None  # asyncio's or uvloop's transport (not an asyncio.Transport subclass)

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._finish(True)
        except httptools.HttpParserError as exc:
            self._fail(ConnectionError(f"malformed HTTP response: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.headers_done:
            self._finish(True)  # a close-delimited body ends here
        else:
            self._fail(exc or ConnectionResetError("EOF"))

    # httptools callbacks
    def on_status(self, status: bytes) -> None:
        self.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.follow_redirects and name.lower() == b"location":
            self.redirect = True

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.headers_done = True
        if self.redirect and self.status in REDIRECTS:
            self._finish(False)
        elif self.head:
            self._finish(True)

    def on_body(self, body: bytes) -> None:
        self.buf.write(body)

    def on_message_complete(self) -> None:
        self._finish(True)

    def _finish(self, complete: bool) -> None:
        if not self.done.done():
            self.done.set_result(complete)
        if self.transport is not None:
            self.transport.close()

    def _fail(self, exc: BaseException) -> None:
        if not self.done.done():
            self.done.set_exception(exc)
        if self.transport is not None:
            self.transport.close()


def build_request(url: str, method: str, headers: CIMultiDict[str], body: bytes | None) -> tuple[str, int, bytes] | None:
    """(host, port, request bytes) for a plain http:// URL, or None when this client can't do it."""
    try:
        parts = urlsplit(url)
        port = parts.port or 80
    except ValueError:
        return None
    if parts.scheme != "http" or not parts.hostname or parts.username:
        return None
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if any(c in target for c in " \r\n") or not target.isascii():
        return None  # needs percent-encoding: leave it to aiohttp/yarl
    host = parts.hostname
    host_header = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
    lines = [f"{method} {target} HTTP/1.1"]
    if "Host" not in headers:
        lines.append(f"Host: {host_header}")
    for name, value in headers.items():
        if "\n" in name or "\n" in value or "\r" in name or "\r" in value:
            return None
        lines.append(f"{name}: {value}")
    lines.append("Connection: close")
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body or b'')}")
    try:
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    except UnicodeEncodeError:
        return None
    return host, port, head + (body or b"")


async def lean_request(
    url: str, method: str, headers: CIMultiDict[str], body: bytes | None, max_size: int, follow_redirects: bool
) -> LeanResponse | None:
    """Do the request, or return None when the caller must use the full client instead.

    Raises OSError/ConnectionError for transport failures (the caller words them)."""
    built = build_request(url, method, headers, body)
    if built is None:
        return None
    host, port, request = built
    loop = asyncio.get_running_loop()
    ex = _Exchange(request, max_size, follow_redirects, head=method == "HEAD")
    transport, _ = await loop.create_connection(lambda: ex, host, port)
    try:
        complete = await ex.done
    finally:
        transport.close()
    if not complete:
        return None  # a redirect to follow
    reason = ex.reason.decode("latin-1").strip()
    return LeanResponse(ex.status, reason, ex.buf.text())
