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
