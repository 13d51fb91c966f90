"""The asyncio Consul transport (aiohttp) pytemplate and pyregistrator share.

One keep-alive session per client over TCP, TLS (context from `pyconsul.client.tls`) or a Unix
socket; the token and basic auth go in headers (`pyconsul.client.request`). A request that gets
no HTTP answer raises TransportError carrying the aiohttp/OS exception as `cause`; any status is
an answer, so callers decide what 404 or 500 mean to them.
"""

from __future__ import annotations

import errno
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy

from pyconsul.client.errors import ConfigError, TransportError
from pyconsul.client.request import request_headers
from pyconsul.client.settings import ClientSettings, resolve_token

QueryParams = Sequence[tuple[str, str]] | Mapping[str, str]


@dataclass(frozen=True)
class AsyncResponse:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";", 1)[0].strip()

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def client_cert_hint(settings: ClientSettings, exc: BaseException) -> str:
    """An agent under verify_incoming closes a TLS connection that brought no client
    certificate (TLS 1.3 tells only after the handshake): say so rather than just
    "Server disconnected"."""
    dropped = isinstance(exc, aiohttp.ServerDisconnectedError | ConnectionResetError) or (
        isinstance(exc, aiohttp.ClientOSError) and exc.errno == errno.ECONNRESET)
    if settings.tls and not settings.cert_file and dropped:
        return " (the agent may require a client certificate: verify_incoming)"
    return ""


class AsyncClient:
    """Requests to one agent. `connection_limit` 0 means unbounded (pytemplate keeps one blocking
    query open per dependency). Bad TLS files or an unreadable token file surface as a
    TransportError on the first request, so a watcher retries them like any other failure."""

    def __init__(self, settings: ClientSettings, *, user_agent: str, timeout: float | None = None,
                 connection_limit: int = 100) -> None:
        self.settings = settings
        self.base_url = "http://localhost" if settings.scheme == "unix" else settings.base_url()
        self._user_agent = user_agent
        self._timeout = timeout
        self._limit = connection_limit
        self._session: aiohttp.ClientSession | None = None
        self._headers: dict[str, str] = {}

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            settings = self.settings
            connector: aiohttp.BaseConnector
            if settings.scheme == "unix":
                connector = aiohttp.UnixConnector(path=settings.address, limit=self._limit)
            else:
                ctx: ssl.SSLContext | bool = False
                if settings.tls:
                    from pyconsul.client.tls import build_ssl_context

                    ctx = build_ssl_context(settings)
                connector = aiohttp.TCPConnector(limit=self._limit, ssl=ctx)
            self._headers = request_headers(settings, resolve_token(settings), self._user_agent)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def request(self, method: str, path: str, params: QueryParams = (), *, json: Any = None,
                      timeout: float | None = None) -> AsyncResponse:
        """Send one request; `path` is already escaped. Raises TransportError."""
        limit = timeout if timeout is not None else self._timeout
        server_name = self.settings.tls_server_name if self.settings.tls else ""
        try:
            session = self._open()
            async with session.request(
                method, self.base_url + path, params=list(params.items()) if isinstance(params, Mapping) else list(params),
                json=json, headers=self._headers, timeout=aiohttp.ClientTimeout(total=limit),
                server_hostname=server_name or None,
            ) as resp:
                return AsyncResponse(resp.status, resp.headers, await resp.read())
        except ConfigError as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}", exc) from None
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}{client_cert_hint(self.settings, exc)}", exc) from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
