from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent_proc import AgentProcess, start_agent


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[AgentProcess]:
    """A real `pyconsul agent -dev` process on 127.0.0.1 with free ports."""
    a = start_agent(tmp_path)
    yield a
    a.stop()


@pytest.fixture(scope="module")
def shared_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    """One dev agent for a whole test module (tests must use distinct names/keys)."""
    a = start_agent(tmp_path_factory.mktemp("agent"))
    yield a
    a.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the npm consul acceptance suite's pass count (recorded by its test, also under xdist)."""
    for outcome in ("passed", "failed"):
        for report in terminalreporter.stats.get(outcome, []):
            for name, value in getattr(report, "user_properties", []):
                if name == "npm_acceptance" and getattr(report, "when", "call") == "call":
                    terminalreporter.write_line(f"npm consul acceptance suite: {value}")
