"""The Docker engine as the registrator sees it: running containers, inspections, events.

`DockerEngine.events()` never ends by itself: when the engine goes away it reconnects with
backoff, and yields `StreamConnected` each time the stream is (re)opened, because events of the
gap are lost and the caller must compare the whole picture again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import aiodocker
import aiohttp

log = logging.getLogger("pyregistrator")

DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock"

# Container actions that can change what should be registered. Anything else is ignored.
RELEVANT_ACTIONS = frozenset(
    {"start", "die", "stop", "kill", "destroy", "pause", "unpause", "health_status", "rename", "restart"}
)


@dataclass(frozen=True)
class ContainerEvent:
    action: str  # "health_status: healthy" arrives as "health_status"
    container_id: str
    time_nano: int = 0
    exit_code: int | None = None  # from a `die` event

    def final_state(self) -> dict[str, object] | None:
        """What a `die` event says about the container, enough to decide without inspecting it.

        Inspecting a container that just died waits for the engine's cleanup (about half a
        second), so deregistration uses the event's own exit code."""
        if self.action != "die" or self.exit_code is None:
            return None
        return {"Running": False, "Paused": False, "Restarting": False, "ExitCode": self.exit_code}


@dataclass(frozen=True)
class StreamConnected:
    """The event stream is open (again); whatever happened before may have been missed."""

    attempt: int


class EngineUnavailable(Exception):
    """The engine did not answer; the stream will reconnect and a full sync follows."""


class ContainerEngine(Protocol):
    async def running_containers(self) -> list[str]:
        """IDs of containers that are running (paused ones included, as `docker ps` lists)."""

    async def inspect(self, container_id: str) -> dict[str, Any] | None:
        """The inspection document, or None when the container no longer exists."""

    def events(self) -> AsyncIterator[ContainerEvent | StreamConnected]: ...


class Backoff:
    """Exponential delays between reconnect attempts (pure: the caller sleeps)."""

    def __init__(self, initial: float = 0.05, maximum: float = 2.0, factor: float = 2.0) -> None:
        if initial <= 0 or maximum < initial or factor < 1:
            raise ValueError("need 0 < initial <= maximum and factor >= 1")
        self.initial, self.maximum, self.factor = initial, maximum, factor
        self._next = initial

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self.maximum, self._next * self.factor)
        return delay

    def reset(self) -> None:
        self._next = self.initial


def parse_event(data: Mapping[str, Any]) -> ContainerEvent | None:
    """A Docker event document → ContainerEvent, or None when it is not about a container."""
    if data.get("Type", "container") != "container":
        return None
    action = str(data.get("Action") or data.get("status") or "")
    action = action.split(":", 1)[0].strip()
    actor = data.get("Actor")
    container_id = str((actor.get("ID") if isinstance(actor, Mapping) else None) or data.get("id") or "")
    if action not in RELEVANT_ACTIONS or not container_id:
        return None
    exit_code: int | None = None
    attributes = actor.get("Attributes") if isinstance(actor, Mapping) else None
    if action == "die" and isinstance(attributes, Mapping):
        try:
            exit_code = int(attributes.get("exitCode", ""))
        except ValueError:
            exit_code = None
    return ContainerEvent(action, container_id, int(data.get("timeNano") or 0), exit_code)


def docker_url() -> str:
    """DOCKER_HOST, else the default socket (which may appear later)."""
    return os.environ.get("DOCKER_HOST") or "unix://" + DEFAULT_DOCKER_SOCKET


class DockerEngine:
    """ContainerEngine over the Docker HTTP API (aiodocker's transport)."""

    def __init__(self, url: str | None = None, backoff: Backoff | None = None) -> None:
        self.url = url or docker_url()
        if not self.url.startswith(("unix://", "tcp://", "http://", "https://")):
            raise ValueError(f"DOCKER_HOST must be unix://, tcp://, http:// or https://: {self.url}")
        self._docker = aiodocker.Docker(url=self.url)
        self._backoff = backoff or Backoff()

    async def close(self) -> None:
        await self._docker.close()

    async def _json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        try:
            return await self._docker._query_json(
                path, params=dict(params or {}), timeout=aiohttp.ClientTimeout(total=10)
            )
        except aiodocker.DockerError as exc:
            if exc.status == 404:
                raise LookupError(path) from exc
            raise EngineUnavailable(f"{self.url}: {exc}") from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise EngineUnavailable(f"{self.url}: {exc or type(exc).__name__}") from exc

    async def running_containers(self) -> list[str]:
        listing = await self._json("containers/json")
        return [str(c["Id"]) for c in listing if isinstance(c, Mapping) and c.get("Id")]

    async def inspect(self, container_id: str) -> dict[str, Any] | None:
        try:
            data = await self._json(f"containers/{container_id}/json")
        except LookupError:
            return None
        return data if isinstance(data, dict) else None

    async def events(self) -> AsyncIterator[ContainerEvent | StreamConnected]:
        attempt = 0
        filters = json.dumps({"type": ["container"]})
        # No read timeout: a quiet engine sends nothing for as long as nothing happens.
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None, connect=5)
        while True:
            try:
                async with self._docker._query(
                    "events", params={"filters": filters}, timeout=timeout
                ) as resp:
                    attempt += 1
                    self._backoff.reset()
                    log.info("listening for Docker events on %s", self.url)
                    yield StreamConnected(attempt)
                    async for line in resp.content:
                        event = _decode(line)
                        if event is not None:
                            yield event
                log.warning("Docker event stream ended; reconnecting")
            except (aiodocker.DockerError, aiohttp.ClientError, TimeoutError, OSError) as exc:
                log.warning("Docker engine unavailable (%s); retrying", exc or type(exc).__name__)
            await asyncio.sleep(self._backoff.next_delay())


def _decode(line: bytes) -> ContainerEvent | None:
    line = line.strip()
    if not line:
        return None
    try:
        data = json.loads(line)
    except ValueError:
        log.warning("undecodable Docker event: %r", line[:200])
        return None
    return parse_event(data) if isinstance(data, dict) else None
