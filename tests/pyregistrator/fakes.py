"""In-memory engine and registry for driving the reconciler step by step.

Real engines and agents cannot replay a chosen interleaving of events, worker steps and outages;
these stand in at the two boundaries (ContainerEngine, ServiceRegistry) for the property test.
The integration tests use the real ones."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Mapping
from typing import Any

from pyregistrator.consul_client import RegistryUnavailable
from pyregistrator.events import ContainerEvent, EngineUnavailable, StreamConnected
from tests.pyregistrator.inspections import inspection


class MemoryEngine:
    def __init__(self) -> None:
        self.containers: dict[str, dict[str, Any]] = {}
        self.up = True

    def _check(self) -> None:
        if not self.up:
            raise EngineUnavailable("engine down")

    async def running_containers(self) -> list[str]:
        self._check()
        return [cid for cid, c in self.containers.items() if c["State"]["Running"]]

    async def inspect(self, container_id: str) -> dict[str, Any] | None:
        self._check()
        c = self.containers.get(container_id)
        return copy.deepcopy(c) if c is not None else None

    async def events(self) -> AsyncIterator[ContainerEvent | StreamConnected]:
        raise NotImplementedError("tests hand events to Reconciler.notice")
        yield  # pragma: no cover

    # Lifecycle operations return the events the engine would emit, in its order.

    def create_and_start(self, cid: str, name: str, published: Mapping[str, str], env: list[str]) -> list[ContainerEvent]:
        self.containers[cid] = inspection(name, "nginx", published, env=env, container_id=cid)
        return [ContainerEvent("start", cid)]

    def start(self, cid: str) -> list[ContainerEvent]:
        self.containers[cid]["State"].update(Running=True, Paused=False, ExitCode=0)
        return [ContainerEvent("start", cid)]

    def stop(self, cid: str, code: int) -> list[ContainerEvent]:
        self.containers[cid]["State"].update(Running=False, Paused=False, ExitCode=code)
        return [ContainerEvent("kill", cid), ContainerEvent("die", cid, exit_code=code), ContainerEvent("stop", cid)]

    def pause(self, cid: str, paused: bool) -> list[ContainerEvent]:
        self.containers[cid]["State"]["Paused"] = paused
        return [ContainerEvent("pause" if paused else "unpause", cid)]

    def remove(self, cid: str) -> list[ContainerEvent]:
        del self.containers[cid]
        return [ContainerEvent("destroy", cid)]


class MemoryRegistry:
    """The agent's service table; `up = False` is an unreachable agent."""

    def __init__(self) -> None:
        self.services_held: dict[str, dict[str, Any]] = {}
        self.up = True

    def _check(self) -> None:
        if not self.up:
            raise RegistryUnavailable("connection refused")

    async def ping(self) -> str:
        self._check()
        return "127.0.0.1:8300"

    async def register(self, body: Mapping[str, Any]) -> None:
        self._check()
        self.services_held[body["ID"]] = {
            "ID": body["ID"], "Service": body["Name"], "Tags": list(body.get("Tags") or []),
            "Address": body.get("Address", ""), "Port": body.get("Port", 0), "Meta": dict(body.get("Meta") or {}),
        }

    async def deregister(self, service_id: str) -> None:
        self._check()
        self.services_held.pop(service_id, None)

    async def services(self) -> dict[str, dict[str, Any]]:
        self._check()
        return copy.deepcopy(self.services_held)
