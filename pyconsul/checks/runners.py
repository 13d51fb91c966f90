"""The table from check kind to the coroutine that runs one check of that kind.

It owns the clients shared by many checks (one aiohttp session, one Docker client) and closes
them. Runner modules are imported on first use, so an agent with only HTTP checks never loads the
others.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import Any

from pyconsul.checks.alias import AliasSource, evaluate_alias
from pyconsul.checks.base import CRITICAL, CheckResult, CheckSpec
from pyconsul.checks.tls import AgentTLS

Runner = Callable[[CheckSpec], Awaitable[CheckResult]]


def _lazy(module: str, name: str, **kwargs: Any) -> Runner:
    async def run(spec: CheckSpec) -> CheckResult:
        fn = getattr(importlib.import_module(module), name)
        result: CheckResult = await fn(spec, **kwargs)
        return result

    return run


class Runners:
    def __init__(self, alias_source: AliasSource | None = None, docker: Any = None,
                 overrides: dict[str, Runner] | None = None, agent_tls: AgentTLS | None = None) -> None:
        self.alias_source = alias_source
        self.agent_tls = agent_tls
        self._docker = docker
        self._own_docker = False
        self._session: Any = None
        self.table: dict[str, Runner] = {
            "http": self._run_http,
            "tcp": _lazy("pyconsul.checks.sockets", "run_tcp", agent_tls=agent_tls),
            "udp": _lazy("pyconsul.checks.sockets", "run_udp"),
            "script": _lazy("pyconsul.checks.script", "run_script"),
            "docker": self._run_docker,
            "grpc": _lazy("pyconsul.checks.h2", "run_grpc", agent_tls=agent_tls),
            "h2ping": _lazy("pyconsul.checks.h2", "run_h2ping", agent_tls=agent_tls),
            "alias": self._run_alias,
        }
        self.table.update(overrides or {})

    def __contains__(self, kind: str) -> bool:
        return kind in self.table

    def __getitem__(self, kind: str) -> Runner:
        return self.table[kind]

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._docker is not None and self._own_docker:
            await self._docker.close()
            self._docker = None

    async def _run_http(self, spec: CheckSpec) -> CheckResult:
        from pyconsul.checks.http import make_session, run_http

        if self._session is None:
            self._session = make_session()
        return await run_http(spec, self._session, self.agent_tls)

    async def _run_docker(self, spec: CheckSpec) -> CheckResult:
        from pyconsul.checks.script import run_docker

        if self._docker is None:
            import aiodocker

            self._docker = aiodocker.Docker()
            self._own_docker = True
        return await run_docker(spec, self._docker)

    async def _run_alias(self, spec: CheckSpec) -> CheckResult:
        if self.alias_source is None:
            return CheckResult(CRITICAL, "Alias checks are not available on this agent")
        node = str(spec.definition.get("AliasNode") or "")
        sid = str(spec.definition.get("AliasService") or "")
        return evaluate_alias(self.alias_source.checks_of(node, sid), node, sid)
