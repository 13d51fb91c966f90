"""The `-http-proxy ADDR` listener: plain HTTP from apps (`http_proxy=`), mTLS across the mesh.

Each request names its service by host (see `http_head`); the proxy dials a healthy instance's
proxy with its leaf, checks that the peer's SPIFFE ID is that service, and sends the request on
in origin-form. The destination's proxy enforces intentions as for any mesh connection.

- HTTP/1.1 keep-alive on both sides: the app's connection stays open across requests, and each
  service's mesh connection is reused for the next request to it on that app connection.
- `CONNECT host:port` is tunnelled: `200 Connection Established`, then bytes both ways to the
  service over mTLS (what `https_proxy` and `curl -p` do).
- `Expect: 100-continue` is answered here, so a body never waits on a round trip.
- `101 Switching Protocols` (WebSocket) turns the connection into a tunnel.
- Failures get a plain-text answer saying what failed, then the connection closes: 502 for a
  name that is no service, no healthy instance, a failed dial or identity check, or a service
  that closed without answering; 403 when that close is the destination refusing us by
  intention (asked of `/v1/connect/intentions/check` to say so; enforcement stays remote).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import TYPE_CHECKING, NoReturn

from pyconsul.connect import http_head as hh
from pyconsul.connect.proxy_config import Upstream

if TYPE_CHECKING:
    from pyconsul.connect.proxy import Proxy

Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]
HEAD_LIMIT = 64 * 1024
IDLE_TIMEOUT = 300.0  # an idle app connection is closed after this long
MAX_WATCHED = 256  # services followed by blocking queries; past that, looked up per request
CHUNK = 256 * 1024


class Closed(Exception):
    """The service side ended before a whole response head arrived."""


async def _copy_fixed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
    while n > 0:
        data = await reader.read(min(CHUNK, n))
        if not data:
            raise ConnectionError("peer closed inside a body")
        writer.write(data)
        n -= len(data)
        await writer.drain()


async def _copy_chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        line = await reader.readuntil(b"\r\n")
        writer.write(line)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise ConnectionError("bad chunk size") from None
        if size == 0:
            while True:  # trailers, then the blank line
                trailer = await reader.readuntil(b"\r\n")
                writer.write(trailer)
                if trailer == b"\r\n":
                    await writer.drain()
                    return
        await _copy_fixed(reader, writer, size + 2)


async def _copy_until_eof(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(CHUNK):
        writer.write(data)
        await writer.drain()


async def copy_body(length: int | None, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    until_eof: bool) -> None:
    if length == -1:
        await _copy_chunked(reader, writer)
    elif length:
        await _copy_fixed(reader, writer, length)
    elif length is None and until_eof:
        await _copy_until_eof(reader, writer)


class HttpProxy:
    def __init__(self, proxy: Proxy, datacenter: str, domains: tuple[str, ...]) -> None:
        self.proxy = proxy
        self.datacenter = datacenter
        self.domains = domains
        self.log = proxy.log

    # -- the service's instances ---------------------------------------------------------------------
    async def _instances_known(self, name: str) -> bool:
        """Follow a service seen for the first time; past MAX_WATCHED, look it up for this request
        only (True: forget it afterwards), so junk host names cannot grow the proxy."""
        px = self.proxy
        if name in px._ready:
            return False
        up = Upstream(name, "", 0)
        if len(px._ready) < MAX_WATCHED:
            px._ready[name] = asyncio.Event()
            px._tasks.append(asyncio.ensure_future(
                px._watch(f"service {name}", lambda i: px._fetch_instances(up, i), 0)))
            return False
        await px._fetch_instances(up, 0)  # sets _ready[name]
        return True

    async def dial(self, name: str) -> Stream:
        transient = await self._instances_known(name)
        try:
            conn, reason = await self.proxy.dial_service(name)
        finally:
            if transient:
                self.proxy._ready.pop(name, None)
                self.proxy.instances.pop(name, None)
        if conn is None:
            raise hh.HeadError(502, reason)
        return conn

    async def denied_by_intention(self, name: str) -> bool:
        """Whether the destination refuses our identity: the likely reason it closed on us."""
        px = self.proxy
        try:
            resp = await px.client.request("GET", "/v1/connect/intentions/check",
                                           {"source": px.config.service, "destination": name})
            return resp.status == 200 and json.loads(resp.body).get("Allowed") is False
        except Exception:
            return False

    # -- one app connection --------------------------------------------------------------------------
    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        pool: dict[str, Stream] = {}
        try:
            while True:
                try:
                    async with asyncio.timeout(IDLE_TIMEOUT):  # no task per request, unlike wait_for
                        head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
                    return
                except asyncio.LimitOverrunError:
                    writer.write(hh.error_response(431, "request head too large"))
                    return
                try:
                    keep = await self._one(head, reader, writer, pool)
                except hh.HeadError as exc:
                    self.log.error(f"http-proxy: {exc.status} {exc}")
                    writer.write(hh.error_response(exc.status, str(exc)))
                    return
                except (ConnectionError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    raise
                except Exception as exc:  # the agent unreachable, and the like: said, not a traceback
                    self.log.error(f"http-proxy: 502 {type(exc).__name__}: {exc}")
                    writer.write(hh.error_response(502, f"proxy error: {exc}"))
                    return
                if not keep:
                    return
        except (ConnectionError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            self.log.debug(f"http-proxy: connection ended: {exc}")
        finally:
            for _, w in pool.values():
                w.close()
            with contextlib.suppress(Exception):
                await writer.drain()
            writer.close()

    async def _one(self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   pool: dict[str, Stream]) -> bool:
        """One request and its response; True when the app's connection can carry another."""
        req = hh.parse_request(head)
        rt = hh.route(req, self.datacenter, self.domains)
        if req.method == "CONNECT":
            await self._tunnel(rt.service, reader, writer)
            return False
        req_len = hh.body_length(req)
        if "100-continue" in req.tokens("expect"):
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        reused = rt.service in pool
        up = pool.pop(rt.service, None) or await self.dial(rt.service)
        out = hh.upstream_head(req, rt)
        try:
            up[1].write(out)
            await copy_body(req_len, reader, up[1], until_eof=False)
            resp, raw = await self._response_head(up[0])
        except (Closed, ConnectionError, OSError, asyncio.IncompleteReadError) as exc:
            up[1].close()
            if reused and not req_len:
                # The service ended an idle kept connection: a fresh one, once.
                up = await self.dial(rt.service)
                up[1].write(out)
                try:
                    resp, raw = await self._response_head(up[0])
                except (Closed, ConnectionError, OSError, asyncio.IncompleteReadError) as exc2:
                    up[1].close()
                    await self._closed_without_answer(rt.service, exc2)
            else:
                await self._closed_without_answer(rt.service, exc)
        except hh.HeadError:
            up[1].close()  # a malformed answer: this connection is not reused
            raise
        writer.write(raw)
        if resp.status == 101:
            from pyconsul.connect.proxy import splice

            await splice((reader, writer), up)
            return False
        resp_len = hh.body_length(resp) if hh.response_has_body(req.method, resp.status) else 0
        await copy_body(resp_len, up[0], writer, until_eof=True)
        await writer.drain()
        upstream_open = resp_len is not None and "close" not in resp.tokens("connection") and resp.version != "HTTP/1.0"
        if upstream_open:
            pool[rt.service] = up
        else:
            up[1].close()
        return hh.client_keeps_alive(req) and resp_len is not None and "close" not in resp.tokens("connection")

    async def _response_head(self, reader: asyncio.StreamReader) -> tuple[hh.Response, bytes]:
        """The final response head (interim 1xx other than 101 are dropped: we answered 100)."""
        while True:
            try:
                raw = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError as exc:
                raise Closed(f"{len(exc.partial)} bytes then end of stream") from None
            resp = hh.parse_response(raw)
            if resp.status == 101 or not 100 <= resp.status < 200:
                return resp, raw

    async def _closed_without_answer(self, service: str, exc: BaseException) -> NoReturn:
        me = self.proxy.config.service
        if await self.denied_by_intention(service):
            raise hh.HeadError(403, f"{service}'s proxy refused {me}: an intention denies {me} => {service}")
        raise hh.HeadError(502, f"{service} closed the connection without answering ({exc or type(exc).__name__})")

    async def _tunnel(self, service: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        from pyconsul.connect.proxy import splice

        up = await self.dial(service)
        writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        await splice((reader, writer), up)
