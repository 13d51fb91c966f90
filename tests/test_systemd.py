"""systemd: the contrib units verify, the agent signals readiness over $NOTIFY_SOCKET, and it
leaves (or not) on the signals Consul's defaults say."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from pyconsul.sdnotify import notify
from tests.support.agents import start_agent

REPO = Path(__file__).resolve().parents[1]
UNITS = sorted((REPO / "contrib" / "systemd").glob("*/pyconsul.service"))


def test_both_variants_exist() -> None:
    assert {u.parent.name for u in UNITS} == {"server", "client"}


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed (apt: systemd)")
@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.parent.name)
def test_unit_verifies(unit: Path, tmp_path: Path) -> None:
    # verify checks that ExecStart's binary exists: point it at a real pyconsul launcher.
    launcher = tmp_path / "pyconsul"
    launcher.write_text("#!/bin/sh\nexec python3 -m pyconsul \"$@\"\n")
    launcher.chmod(0o755)
    text = unit.read_text()
    assert "Type=notify" in text and "-pid-file=/run/pyconsul/pyconsul.pid" in text
    (tmp_path / "pyconsul.service").write_text(text.replace("/usr/local/bin/pyconsul", str(launcher)))
    proc = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "pyconsul.service")],
                          capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stdout + proc.stderr) == (0, "")


def _notify_socket(tmp_path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(20)
    return sock


def test_notify_without_socket_sends_nothing() -> None:
    assert notify("READY=1", env={}) is False
    assert notify("READY=1", env={"NOTIFY_SOCKET": "/nonexistent/socket"}) is False


def test_abstract_notify_socket() -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0pyconsul-test-notify")
    sock.settimeout(5)
    try:
        assert notify("READY=1", env={"NOTIFY_SOCKET": "@pyconsul-test-notify"})
        assert sock.recv(64) == b"READY=1"
    finally:
        sock.close()


def test_agent_reports_ready_reloading_and_stopping(tmp_path: Path) -> None:
    sock = _notify_socket(tmp_path)
    agent = start_agent(tmp_path, env={"NOTIFY_SOCKET": str(tmp_path / "notify")}, wait=False)
    try:
        assert sock.recv(64) == b"READY=1"
        # READY comes only once the API answers.
        assert agent.request("GET", "/v1/status/leader")[0] == 200
        agent.signal(signal.SIGHUP)
        assert sock.recv(64) == b"RELOADING=1"
        assert sock.recv(64) == b"READY=1"
        agent.signal(signal.SIGTERM)
        assert sock.recv(64) == b"STOPPING=1"
        assert agent.proc.wait(20) is not None
    finally:
        agent.stop()
        sock.close()


@pytest.mark.parametrize(("server", "sig", "graceful"), [
    (True, signal.SIGTERM, False),  # servers: leave_on_terminate defaults to false
    (True, signal.SIGINT, False),  # and skip_leave_on_interrupt to true
    (False, signal.SIGTERM, True),  # clients leave on both
    (False, signal.SIGINT, True),
])
def test_leave_on_signal_defaults(tmp_path: Path, server: bool, sig: int, graceful: bool) -> None:
    args = ["-server", "-bootstrap"] if server else []
    agent = start_agent(tmp_path, *args, "-data-dir", str(tmp_path / "data"), dev=False, wait=False)
    # A client without servers never has a leader: wait for the agent's own "running" line.
    deadline = time.monotonic() + 20
    while "Consul agent running!" not in agent.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    agent.signal(sig)
    code = agent.proc.wait(30)
    assert ("gracefully shutting down agent" in agent.log()) is graceful, agent.log()
    assert code == (0 if graceful else 1)


def test_leave_on_terminate_overrides_the_server_default(tmp_path: Path) -> None:
    agent = start_agent(tmp_path, "-server", "-bootstrap", "-data-dir", str(tmp_path / "data"),
                        "-hcl", "leave_on_terminate = true", dev=False)
    agent.signal(signal.SIGTERM)
    assert agent.proc.wait(30) == 0
    assert "gracefully shutting down agent" in agent.log()
