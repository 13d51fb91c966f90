"""The agent-process helper: allocator ports, kill -9 and restart on the same ports, and the logs
of a failed test's agents in its report."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.agents import start_agent
from tests.support.ports import FIRST_PORT, ephemeral_start

ROOT = Path(__file__).resolve().parents[2]


def test_killed_agent_restarts_on_the_same_ports(tmp_path: Path) -> None:
    a = start_agent(tmp_path)
    try:
        ports = (a.http_port, a.dns_port, a.server_port, a.serf_lan_port)
        assert all(FIRST_PORT <= p < ephemeral_start() for p in ports)
        assert a.request("PUT", "/v1/kv/k", b"v")[0] == 200
        a.kill9()
        assert not a.alive()
        a.restart()
        assert (a.http_port, a.dns_port, a.server_port, a.serf_lan_port) == ports
        assert a.get_json("/v1/status/leader")
    finally:
        a.stop()
    assert not a.alive()


def test_a_failed_test_reports_its_agents_logs(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(
        "from tests.conftest import (pytest_configure, pytest_runtest_makereport,  # noqa: F401\n"
        "    pytest_runtest_setup, pytest_unconfigure)\n")
    (tmp_path / "test_fails.py").write_text(
        "from tests.support.agents import start_agent\n"
        "def test_fails(tmp_path):\n"
        "    a = start_agent(tmp_path, name='witness')\n"
        "    a.stop()\n"
        "    assert False\n")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                          str(tmp_path)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=tmp_path)
    assert run.returncode == 1, run.stdout
    section = run.stdout.split("agent witness (127.0.0.1:", 1)[1]
    assert ") log" in section.splitlines()[0]
    assert "Starting Consul agent" in section and "Node name: 'witness'" in section
