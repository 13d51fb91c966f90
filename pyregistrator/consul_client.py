"""The Consul agent's HTTP API, as far as the registrator needs it.

URIs as registrator takes them: `consul://HOST:PORT` (default 127.0.0.1:8500),
`consul-tls://HOST:PORT` (CA, certificate and key from CONSUL_CACERT, CONSUL_TLSCERT,
CONSUL_TLSKEY) and `consul-unix:///path/to/consul.sock`. Like registrator, which starts from
Consul's api.DefaultConfig(), the rest (CONSUL_HTTP_TOKEN, CONSUL_HTTP_AUTH…) comes from Consul's
environment; `pyconsul.client.settings.registrator_settings` reads it, the shared async
transport sends the requests.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from pyconsul.client.aio import AsyncClient, client_cert_hint
from pyconsul.client.errors import TransportError
from pyconsul.client.settings import ClientSettings, registrator_settings

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


class ConsulAgentClient:
    """Registers services with one Consul agent over HTTP; one keep-alive session."""

    def __init__(self, uri: RegistryURI, token: str | None = None, timeout: float = 5.0,
                 settings: ClientSettings | None = None) -> None:
        """`settings` default to registrator's: Consul's environment and then `uri`; an explicit
        `token` replaces the environment's."""
        self.uri = uri
        base = settings if settings is not None else registrator_settings(uri.scheme, uri.address)
        if token is not None:
            base = replace(base, token=token, token_file="")
        self._http = AsyncClient(base, user_agent="pyregistrator", timeout=timeout)

    async def close(self) -> None:
        await self._http.close()

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            resp = await self._http.request(method, path, json=body)
        except TransportError as exc:
            cause = exc.cause if exc.cause is not None else exc
            hint = client_cert_hint(self._http.settings, cause)
            raise RegistryUnavailable(f"{self.uri.base_url}: {cause or type(cause).__name__}{hint}") from cause
        text = resp.text()
        if resp.status >= 400:
            raise RegistryRejected(resp.status, text.strip()[:300])
        if resp.content_type == "application/json" and text:
            try:
                return json.loads(text)
            except ValueError:
                raise RegistryRejected(resp.status, f"invalid JSON from {path}: {text[:100]}") from None
        return text

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
