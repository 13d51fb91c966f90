"""Docker checks: the args run inside a real container through the Docker API (aiodocker)."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from pyconsul.checks import CheckScheduler
from pyconsul.clock import FakeClock
from tests.checks.conftest import Recorder, run_once

pytestmark = pytest.mark.docker


def _docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60)


@pytest.fixture
def container() -> Iterator[str]:
    if not os.environ.get("DOCKER_HOST") or _docker("version").returncode != 0:
        pytest.skip("no Docker engine (DOCKER_HOST)")
    name = f"pyconsul-check-{uuid.uuid4().hex[:8]}"
    r = _docker("run", "-d", "--name", name, "localhost/busybox:latest", "sleep", "300")
    if r.returncode != 0:
        pytest.skip(f"cannot start a busybox container: {r.stderr.strip()}")
    try:
        yield name
    finally:
        _docker("rm", "-f", name)


async def test_docker_exec_check(container: str, recorder: Recorder, clock: FakeClock) -> None:
    s = CheckScheduler(recorder, clock=clock, enable_local_script_checks=True)
    try:
        s.add({"CheckID": "ok", "DockerContainerID": container, "Args": ["sh", "-c", "echo up; hostname >/dev/null"],
               "Interval": "10s"})
        s.add({"CheckID": "warn", "DockerContainerID": container, "Args": ["sh", "-c", "echo meh >&2; exit 1"],
               "Interval": "10s"})
        s.add({"CheckID": "gone", "DockerContainerID": "no-such-container", "Args": ["true"], "Interval": "10s"})
        await run_once(s, clock, 10)
        assert recorder.last("ok") == ("passing", "up\n")
        assert recorder.last("warn") == ("warning", "meh\n")
        status, output = recorder.last("gone")
        assert status == "critical" and "no-such-container" in output.lower()

        _docker("stop", "-t", "0", container)
        await run_once(s, clock, 10)
        status, output = recorder.last("ok")
        assert status == "critical", output
    finally:
        await s.stop()
