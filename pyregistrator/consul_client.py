"""The Consul agent's HTTP API, as far as the registrator needs it.

URIs as registrator takes them: `consul://HOST:PORT` (default 127.0.0.1:8500),
`consul-tls://HOST:PORT` (CA, certificate and key from CONSUL_CACERT, CONSUL_TLSCERT,
CONSUL_TLSKEY) and `consul-unix:///path/to/consul.sock`. CONSUL_HTTP_TOKEN is sent when set.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import aiohttp

DEFAULT_ADDRESS = "127.0.0.1:8500"


class RegistryError(Exception):
    """The agent could not do what was asked."""


class RegistryUnavailable(RegistryError):
    """The agent did not answer (refused, reset, timed out): try again later."""


class RegistryRejected(RegistryError):
    """The agent answered with an error status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


class ServiceRegistry(Protocol):
    """What the reconciler needs from a registry (the Consul agent, or a test double)."""

    async def ping(self) -> str: ...

    async def register(self, body: Mapping[str, Any]) -> None: ...

    async def deregister(self, service_id: str) -> None: ...

    async def services(self) -> dict[str, dict[str, Any]]: ...


class UsageError(ValueError):
    """A command-line value that cannot be used."""


@dataclass(frozen=True)
class RegistryURI:
    scheme: str  # consul | consul-tls | consul-unix
    address: str  # host:port, or a socket path for consul-unix

    @property
    def base_url(self) -> str:
        if self.scheme == "consul-unix":
            return "http://consul"
        return ("https://" if self.scheme == "consul-tls" else "http://") + self.address


def parse_registry_uri(uri: str) -> RegistryURI:
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme == "consul-unix":
        path = parts.path or parts.netloc
        if not path:
            raise UsageError(f"consul-unix needs a socket path, as in consul-unix:///run/consul.sock: {uri}")
        return RegistryURI(scheme, path)
    if scheme in ("consul", "consul-tls"):
        host = parts.netloc or DEFAULT_ADDRESS
        try:
            port = parts.port
        except ValueError as exc:
            raise UsageError(f"bad port in registry URI {uri}: {exc}") from exc
        if port is None and parts.netloc:
            host = f"{parts.netloc}:8500"
        return RegistryURI(scheme, host)
    raise UsageError(f"unrecognized adapter: {uri} (use consul://, consul-tls:// or consul-unix://)")


def _tls_context() -> ssl.SSLContext:
    ca = os.environ.get("CONSUL_CACERT") or None
    ctx = ssl.create_default_context(cafile=ca)
    cert, key = os.environ.get("CONSUL_TLSCERT"), os.environ.get("CONSUL_TLSKEY")
    if cert:
        ctx.load_cert_chain(cert, key or None)
    return ctx


class ConsulAgentClient:
    """Registers services with one Consul agent over HTTP; one keep-alive session."""

    def __init__(self, uri: RegistryURI, token: str | None = None, timeout: float = 5.0) -> None:
        self.uri = uri
        self._token = token if token is not None else os.environ.get("CONSUL_HTTP_TOKEN", "")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector: aiohttp.BaseConnector
            if self.uri.scheme == "consul-unix":
                connector = aiohttp.UnixConnector(path=self.uri.address)
            elif self.uri.scheme == "consul-tls":
                connector = aiohttp.TCPConnector(ssl=_tls_context())
            else:
                connector = aiohttp.TCPConnector()
            headers = {"X-Consul-Token": self._token} if self._token else {}
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self._timeout, headers=headers
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        session = self._open()
        try:
            async with session.request(method, self.uri.base_url + path, json=body) as resp:
                text = await resp.text()
                if resp.status >= 400:
                    raise RegistryRejected(resp.status, text.strip()[:300])
                if resp.content_type == "application/json" and text:
                    return await resp.json(content_type=None)
                return text
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError, OSError) as exc:
            raise RegistryUnavailable(f"{self.uri.base_url}: {exc or type(exc).__name__}") from exc

    async def ping(self) -> str:
        """The current leader, as registrator's Ping reads it."""
        return str(await self._call("GET", "/v1/status/leader"))

    async def register(self, body: Mapping[str, Any]) -> None:
        await self._call("PUT", "/v1/agent/service/register", dict(body))

    async def deregister(self, service_id: str) -> None:
        try:
            await self._call("PUT", "/v1/agent/service/deregister/" + quote(service_id, safe=""))
        except RegistryRejected as exc:
            if exc.status != 404:  # already gone is what we wanted
                raise

    async def services(self) -> dict[str, dict[str, Any]]:
        data = await self._call("GET", "/v1/agent/services")
        if not isinstance(data, dict):
            raise RegistryRejected(200, f"unexpected /v1/agent/services body: {str(data)[:100]}")
        return {str(k): v for k, v in data.items() if isinstance(v, dict)}
