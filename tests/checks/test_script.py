"""Script checks: gated by enable_script_checks / enable_local_script_checks, exit codes, output, timeouts."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from pyconsul.checks import CheckDefinitionError, CheckScheduler
from pyconsul.clock import FakeClock
from tests.checks.conftest import Recorder, run_once
from tests.support.wait import wait_until

SCRIPT = {"CheckID": "s", "Args": ["sh", "-c", "exit 0"], "Interval": "10s"}
DISABLED = (
    "Scripts are disabled on this agent; to enable, configure 'enable_script_checks' or "
    "'enable_local_script_checks' to true"
)
DISABLED_REMOTE = "Scripts are disabled on this agent from remote calls; to enable, configure 'enable_script_checks' to true"


async def test_script_checks_are_refused_unless_enabled(recorder: Recorder) -> None:
    off = CheckScheduler(recorder)
    for local in (True, False):
        with pytest.raises(CheckDefinitionError) as err:
            off.add(SCRIPT, local=local)
        assert str(err.value) == DISABLED
    with pytest.raises(CheckDefinitionError, match="Scripts are disabled"):
        off.add({"CheckID": "d", "DockerContainerID": "c1", "Args": ["true"], "Interval": "10s"})
    assert off.check_ids() == []

    local_only = CheckScheduler(recorder, enable_local_script_checks=True)
    local_only.add(SCRIPT, local=True)
    with pytest.raises(CheckDefinitionError) as err:
        local_only.add({**SCRIPT, "CheckID": "remote"}, local=False)
    assert str(err.value) == DISABLED_REMOTE

    on = CheckScheduler(recorder, enable_script_checks=True)
    on.add(SCRIPT, local=False)
    assert on.check_ids() == ["s"]


async def test_exit_codes_and_output(recorder: Recorder, clock: FakeClock) -> None:
    s = CheckScheduler(recorder, clock=clock, enable_script_checks=True)
    try:
        s.add({"CheckID": "ok", "Args": ["sh", "-c", "echo fine; echo err >&2"], "Interval": "10s"})
        s.add({"CheckID": "warn", "ScriptArgs": ["sh", "-c", "echo degraded; exit 1"], "Interval": "10s"})
        s.add({"CheckID": "bad", "Args": ["sh", "-c", "echo broken; exit 2"], "Interval": "10s"})
        s.add({"CheckID": "missing", "Args": ["/no/such/checker"], "Interval": "10s"})
        s.add({"CheckID": "big", "Args": ["sh", "-c", "i=0; while [ $i -lt 2000 ]; do printf '%04d\\n' $i; i=$((i+1)); done"],
               "Interval": "10s"})
        await run_once(s, clock, 10)
        assert recorder.last("ok") == ("passing", "fine\nerr\n")
        assert recorder.last("warn") == ("warning", "degraded\n")
        assert recorder.last("bad") == ("critical", "broken\n")
        status, output = recorder.last("missing")
        assert status == "critical" and output.startswith("Failed to invoke:") and "/no/such/checker" in output
        status, output = recorder.last("big")
        assert output.startswith("Captured 4096 of 10000 bytes\n...\n")
        assert output.endswith("1999\n") and len(output.split("...\n", 1)[1]) == 4096
    finally:
        await s.stop()


async def test_timeout_kills_the_script_and_its_children(recorder: Recorder, clock: FakeClock, tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    s = CheckScheduler(recorder, clock=clock, enable_local_script_checks=True)
    try:
        s.add({"CheckID": "hang", "Args": ["sh", "-c", f"echo starting; sleep 60 & echo $! > {pidfile}; wait"],
               "Interval": "10s", "Timeout": "500ms"})
        started = time.monotonic()
        await run_once(s, clock, 10)
        assert time.monotonic() - started < 5
        assert recorder.last("hang") == ("critical", "Timed out (500ms) running check\n\nstarting\n")
        child = int(pidfile.read_text())
        wait_until(lambda: not _alive(child), 5, what="the script's child to die", interval=0.02)
        assert not _alive(child), "the script's child survived the timeout"
    finally:
        await s.stop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"
