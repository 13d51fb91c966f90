"""The only code that talks to Consul: HTTP GETs with blocking-query parameters, via aiohttp.

`ConsulTransport` is the seam: views depend on it, `HttpConsulClient` implements it over a real
socket, and tests that need a fault no agent can produce wrap it at this boundary.
"""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp


class ConsulError(Exception):
    """A failed request (connection refused, timeout, 5xx, ACL denied…)."""


@dataclass
class Response:
    status: int
    index: int
    last_contact: float  # seconds since the answering server heard from the leader
    known_leader: bool
    body: Any


class ConsulTransport(Protocol):
    async def get(self, path: str, params: Sequence[tuple[str, str]], timeout: float) -> Response:
        """GET `path`; 404 is an answer (missing key), other errors raise ConsulError."""

    async def node_name(self) -> str:
        """Name of the agent's own node (for `node` without a name)."""


@dataclass
class SSLOptions:
    enabled: bool = False
    verify: bool = True
    ca_cert: str = ""
    ca_path: str = ""
    cert: str = ""
    key: str = ""
    server_name: str = ""


def base_url(address: str, use_ssl: bool) -> str:
    address = address.strip()
    if address.startswith(("http://", "https://")):
        return address.rstrip("/")
    return ("https://" if use_ssl else "http://") + address.rstrip("/")


def _ssl_context(opts: SSLOptions) -> ssl.SSLContext | bool:
    if not opts.enabled:
        return False
    ctx = ssl.create_default_context(cafile=opts.ca_cert or None, capath=opts.ca_path or None)
    if not opts.verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if opts.cert:
        ctx.load_cert_chain(opts.cert, opts.key or None)
    return ctx


@dataclass
class HttpConsulClient:
    address: str = "127.0.0.1:8500"
    token: str = ""
    ssl_options: SSLOptions = field(default_factory=SSLOptions)
    auth: str = ""  # "user:password" for HTTP basic auth (-consul-auth)
    requests: int = 0  # how many HTTP requests were sent (the benchmark reads it)
    _session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return base_url(self.address, self.ssl_options.enabled)

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=0, ssl=_ssl_context(self.ssl_options))
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def get(self, path: str, params: Sequence[tuple[str, str]], timeout: float) -> Response:
        headers = {"X-Consul-Token": self.token} if self.token else {}
        if self.auth:
            headers["Authorization"] = "Basic " + base64.b64encode(self.auth.encode()).decode()
        self.requests += 1
        server_hostname = self.ssl_options.server_name or None
        try:
            async with self._get_session().get(
                self.url + path, params=list(params), headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout), server_hostname=server_hostname,
            ) as resp:
                raw = await resp.read()
                status = resp.status
                hdr = resp.headers
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise ConsulError(f"GET {path}: {type(exc).__name__}: {exc}") from None
        if status not in (200, 404):
            text = " ".join(raw.decode("utf-8", "replace").split())[:200]  # one log line
            raise ConsulError(f"GET {path}: unexpected response code: {status} ({text})")
        try:
            body = json.loads(raw) if raw and status == 200 else None
        except ValueError:
            raise ConsulError(f"GET {path}: invalid JSON in response") from None
        try:
            index = int(hdr.get("X-Consul-Index", "0"))
            last_contact = int(hdr.get("X-Consul-LastContact", "0")) / 1000.0
        except ValueError:
            raise ConsulError(f"GET {path}: malformed X-Consul-* headers") from None
        return Response(status, index, last_contact, hdr.get("X-Consul-KnownLeader", "true") == "true", body)

    async def node_name(self) -> str:
        resp = await self.get("/v1/agent/self", (), 10.0)
        try:
            return str(resp.body["Config"]["NodeName"])
        except (TypeError, KeyError):
            raise ConsulError("GET /v1/agent/self: no Config.NodeName in answer") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
