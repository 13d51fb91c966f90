from __future__ import annotations

import os
import shutil
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from tests.support import leaks
from tests.support.agents import STARTED, AgentProcess, start_agent

# Property tests draw the same examples on every run, so CI is no lottery: a failure reproduces
# on the next run and on any machine. `HYPOTHESIS_PROFILE=explore` draws fresh ones.
hypothesis_settings.register_profile("ci", derandomize=True)
hypothesis_settings.register_profile("explore", derandomize=False)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

LOG_TAIL_LINES = 150
_private_tmp: leaks.PrivateTmp | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _private_tmp
    if not hasattr(config, "workerinput") and config.getoption("dist", "no") != "no":
        return  # the xdist controller runs no tests
    _private_tmp = leaks.PrivateTmp()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _private_tmp is not None:
        shutil.rmtree(_private_tmp.path, ignore_errors=True)


# Where in STARTED the agents of the running test begin.
_first_agent = pytest.StashKey[int]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[_first_agent] = len(STARTED)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """A failed test's report carries the log tail of every agent it started or still shares."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    first = item.stash.get(_first_agent, len(STARTED))
    shown = {id(a): a for i, a in enumerate(STARTED) if i >= first or a.alive()}  # a restart appears twice
    for agent in shown.values():
        tail = "\n".join(agent.log().splitlines()[-LOG_TAIL_LINES:])
        report.sections.append((f"agent {agent.name} ({agent.http_addr}) log", tail))


@pytest.fixture(scope="module", autouse=True)
def _nothing_left_behind() -> Iterator[None]:
    """After a module's tests and fixtures: no agent or other child process still running, and no
    file left in the private temporary directory. Leftovers are removed and fail the module."""
    children = leaks.child_pids()
    tmp = _private_tmp.entries() if _private_tmp else set()
    first = len(STARTED)
    yield
    problems: list[str] = []
    agents = [a for a in STARTED[first:] if a.alive()]
    for a in agents:
        a.stop()
    problems += [f"agent {a.name} ({a.http_addr}) still running" for a in agents]
    del STARTED[first:]
    stray = leaks.child_pids() - children
    if stray:
        problems += [f"child process still running: {leaks.describe(p)}" for p in sorted(stray)]
        leaks.kill_and_reap(stray)
    if _private_tmp is not None:
        left = _private_tmp.entries() - tmp
        for name in sorted(left):
            problems.append(f"left in the temporary directory: {name}")
            target = _private_tmp.path / name
            if target.is_dir():
                shutil.rmtree(target, ignore_errors=True)
            else:
                target.unlink(missing_ok=True)
    if problems:
        pytest.fail("left behind by this module:\n  " + "\n  ".join(problems), pytrace=False)


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[AgentProcess]:
    """A real `pyconsul agent -dev` process on 127.0.0.1 with its own ports."""
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
