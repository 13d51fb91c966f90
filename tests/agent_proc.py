"""Old import path of the agent-process helper, kept only so tests written against it still run.
New tests import `tests.support.agents` and `tests.support.ports` directly."""

from __future__ import annotations

from tests.support import ports
from tests.support.agents import AgentProcess, start_agent


def free_port(host: str = "127.0.0.1", kind: int = 0) -> int:
    """Every allocated port is free on every address for both TCP and UDP; the arguments are moot."""
    return ports.free_port()


free_tcp_udp_port = free_port

__all__ = ["AgentProcess", "free_port", "free_tcp_udp_port", "start_agent"]
