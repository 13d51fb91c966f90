"""The only code that talks to Consul: HTTP GETs with blocking-query parameters.

`ConsulTransport` is the seam: views depend on it, `HttpConsulClient` implements it over the
shared aiohttp transport (`pyconsul.client.aio`: settings, TLS, token and auth headers), and tests
that need a fault no agent can produce wrap it at this boundary.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pyconsul.client.aio import AsyncClient
from pyconsul.client.errors import TransportError
from pyconsul.client.settings import ClientSettings


class ConsulError(Exception):
    """A failed request (connection refused, timeout, 5xx, ACL denied…)."""


class ACLDenied(ConsulError):
    """A 403: the token lacks a permission (Consul's text names it) or is unknown. Retrying
    cannot help until an operator changes the token, so a view gives up on it at once."""


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


class HttpConsulClient:
    """The ConsulTransport over HTTP. `settings` may be a bare address (nothing else set)."""

    def __init__(self, settings: ClientSettings | str) -> None:
        if isinstance(settings, str):
            settings = ClientSettings.at(settings)
        # No pool limit: every dependency keeps its own blocking query open.
        self._http = AsyncClient(settings, user_agent="pytemplate", connection_limit=0)
        self.requests = 0  # how many HTTP requests were sent (the benchmark reads it)

    @property
    def url(self) -> str:
        return self._http.base_url

    async def get(self, path: str, params: Sequence[tuple[str, str]], timeout: float) -> Response:
        self.requests += 1
        try:
            resp = await self._http.request("GET", path, params, timeout=timeout)
        except TransportError as exc:
            raise ConsulError(f"GET {path}: {exc}") from None
        status, raw, hdr = resp.status, resp.body, resp.headers
        if status not in (200, 404):
            text = " ".join(raw.decode("utf-8", "replace").split())[:200]  # one log line
            error = ACLDenied if status == 403 else ConsulError
            raise error(f"GET {path}: unexpected response code: {status} ({text})")
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
        await self._http.close()
