"""What HTTP the server port carries: only the requests our own client agents forward.

A client agent answers `/v1/agent/*` itself and forwards the rest of the API to a server's
server port (agent/forward.py). So the server port accepts exactly those shapes: a method and a
path that match one of the API's non-agent routes, in origin form. Anything else — the agent
endpoints, the UI, absolute or dot-segment targets, upgrades, malformed framing — closes the
connection before the request reaches the application, and is logged (throttled, since the
peer chooses how often).

`ForwardedRoutes` is the pure allow-list; `ForwardGate` is the protocol that watches every
request on a connection (keep-alive included) and hands the bytes to the HTTP application's
protocol only once the request's head has passed.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Iterable
from urllib.parse import unquote

import httptools

from pyconsul.api.conn_limits import HeaderWatch
from pyconsul.raft.throttle import LogThrottle

log = logging.getLogger("pyconsul.server_port")
_refusals = LogThrottle(log)

# Marks a request another datacenter's server forwarded (agent/wan.py): only the addresses of
# the WAN pool's servers may send it.
WAN_FORWARD_HEADER = b"x-pyconsul-wan-forward"

_PARAM = re.compile(r"\{(\w+)(?::([^{}]+))?\}")


def _route_regex(pattern: str) -> str:
    """An aiohttp route pattern (`/v1/kv/{key:.*}`, `/v1/health/node/{node}`) as a regex."""
    out, pos = [], 0
    for m in _PARAM.finditer(pattern):
        out.append(re.escape(pattern[pos:m.start()]))
        out.append(f"(?:{m.group(2) or '[^/]+'})")
        pos = m.end()
    out.append(re.escape(pattern[pos:]))
    return "".join(out)


class ForwardedRoutes:
    """(method, path pattern) pairs a client agent may forward: every API route outside
    `/v1/agent/`, with the methods the route has."""

    def __init__(self, routes: Iterable[tuple[str, str]]) -> None:
        by_method: dict[str, list[str]] = {}
        for method, pattern in routes:
            if not pattern.startswith("/v1/") or pattern.startswith("/v1/agent/"):
                continue
            by_method.setdefault(method.upper(), []).append(_route_regex(pattern))
        self._by_method = {m: re.compile("|".join(f"(?:{r})" for r in rs)) for m, rs in by_method.items()}

    def allows(self, method: str, target: str) -> bool:
        """Whether a request line's method and raw target is a forwarded request."""
        regex = self._by_method.get(method)
        if regex is None or not target.startswith("/") or target.startswith("//"):
            return False
        path = unquote(target.partition("?")[0].partition("#")[0], errors="strict")
        # The application normalises dot segments (`/v1/kv/../agent/self` is `/v1/agent/self`)
        # and decodes %-escapes; judge the path it would route, and refuse what is ambiguous.
        if any(seg in (".", "..") for seg in path.split("/")) or "\\" in path:
            return False
        return regex.fullmatch(path) is not None


class _Refused(Exception):
    pass


class ForwardGate(asyncio.Protocol):
    """Passes a connection's bytes to `inner` (the HTTP application's protocol) while every
    request head on it is an allowed forwarded request; closes the connection otherwise.

    A chunk that completes a refused head is never passed on, and the application acts on a
    request only once it has its whole head, so a refused request never runs."""

    def __init__(self, inner: asyncio.Protocol, routes: ForwardedRoutes, peer: str,
                 header_timeout: float = 10.0, on_close: Callable[[], None] | None = None,
                 wan_forwarders: Callable[[], set[str]] | None = None, peer_host: str = "") -> None:
        """`header_timeout`: each request head must arrive within it of its first byte, as on
        the HTTP port (http_config.read_header_timeout). `on_close` runs once the connection is
        gone. `wan_forwarders`: the hosts allowed to send a cross-datacenter forward (None:
        nobody)."""
        self._inner = inner
        self._routes = routes
        self._peer = peer
        self._peer_host = peer_host
        self._wan_forwarders = wan_forwarders
        self._wan_forward = False
        self._parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._transport: asyncio.Transport | None = None
        self._closed = False
        self._watch = HeaderWatch(header_timeout, self._header_late)
        self._on_close = on_close

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._closed:
            return
        self._watch.feed(data)
        try:
            self._parser.feed_data(data)
        except _Refused:
            return
        except httptools.HttpParserUpgrade:
            self._refuse("an upgrade request")
            return
        except httptools.HttpParserError as exc:
            self._refuse(f"malformed HTTP ({exc})")
            return
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._watch.cancel()
        if self._on_close is not None:
            self._on_close()
            self._on_close = None
        self._inner.connection_lost(exc)

    def _header_late(self) -> None:
        # Go's ReadHeaderTimeout: the connection is closed without an answer.
        if self._transport is not None:
            self._transport.close()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._url = b""
        self._wan_forward = False

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == WAN_FORWARD_HEADER:
            self._wan_forward = True

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > 65536:
            self._refuse("a request target over 64 KiB")
            raise _Refused()

    def on_headers_complete(self) -> None:
        method = self._parser.get_method().decode("latin-1")
        target = self._url.decode("latin-1")
        try:
            ok = self._routes.allows(method, target)
        except UnicodeDecodeError:
            ok = False
        if not ok:
            self._refuse(f"{method} {target[:200]}")
            raise _Refused()
        if self._wan_forward and (self._wan_forwarders is None or self._peer_host not in self._wan_forwarders()):
            self._refuse(f"a cross-datacenter forward from a host that is no WAN server: {method} {target[:200]}")
            raise _Refused()

    def _refuse(self, what: str) -> None:
        self._closed = True
        _refusals.warning(f"refused:{self._peer}", "server port: refused a request that is not a forwarded "
                          "API request; closing the connection", peer=self._peer, request=what)
        if self._transport is not None:
            self._transport.close()
