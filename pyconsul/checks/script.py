"""Script checks (`args`) and Docker exec checks (Consul's CheckMonitor / CheckDocker).

Exit code 0 is passing, 1 warning, anything else critical. stdout and stderr are captured
together, keeping the last `output_max_size` bytes ("Captured N of M bytes" when cut). A run past
its timeout is killed with its whole process group: "Timed out (30s) running check".
"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

from pyconsul.checks.base import CRITICAL, PASSING, WARNING, CheckResult, CheckSpec, TailBuffer
from pyconsul.durations import format_duration


def status_for_exit(code: int) -> str:
    if code == 0:
        return PASSING
    if code == 1:
        return WARNING
    return CRITICAL


def _args(defn: dict[str, Any]) -> list[str]:
    return [str(a) for a in (defn.get("Args") or defn.get("ScriptArgs") or [])]


def _timed_out(spec: CheckSpec, buf: TailBuffer) -> CheckResult:
    msg = f"Timed out ({format_duration(spec.timeout)}) running check"
    out = buf.script_output()
    return CheckResult(CRITICAL, msg + ("\n\n" + out if out else ""))


async def run_script(spec: CheckSpec) -> CheckResult:
    args = _args(spec.definition)
    buf = TailBuffer(spec.output_max_size)
    try:
        proc = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # its own process group, so a timeout kills its children too
        )
    except FileNotFoundError:
        return CheckResult(CRITICAL, f'Failed to invoke: exec: "{args[0]}": executable file not found in $PATH')
    except OSError as exc:
        return CheckResult(CRITICAL, f"Failed to invoke: fork/exec {args[0]}: {exc.strerror or exc}")

    async def collect() -> int:
        assert proc.stdout is not None
        while chunk := await proc.stdout.read(65536):
            buf.write(chunk)
        return await proc.wait()

    try:
        code = await asyncio.wait_for(collect(), spec.timeout)
    except (TimeoutError, asyncio.CancelledError) as exc:
        _kill_group(proc)
        await proc.wait()
        if isinstance(exc, asyncio.CancelledError):
            raise
        return _timed_out(spec, buf)
    return CheckResult(status_for_exit(code), buf.script_output())


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            proc.kill()
        except ProcessLookupError:
            pass


async def run_docker(spec: CheckSpec, docker: Any) -> CheckResult:
    """Run the args inside the container through the Docker API (`docker`: an aiodocker.Docker)."""
    import aiodocker

    defn = spec.definition
    cid = str(defn["DockerContainerID"])
    args = _args(defn)
    shell = str(defn.get("Shell") or "/bin/sh")
    cmd = args if args else [shell, "-c", ""]
    buf = TailBuffer(spec.output_max_size)

    async def execute() -> int:
        container = docker.containers.container(cid)
        exe = await container.exec(cmd=cmd, stdout=True, stderr=True, tty=False)
        async with exe.start(detach=False) as stream:
            while (msg := await stream.read_out()) is not None:
                buf.write(msg.data)
        info = await exe.inspect()
        return int(info.get("ExitCode") or 0)

    try:
        code = await asyncio.wait_for(execute(), spec.timeout)
    except TimeoutError:
        return _timed_out(spec, buf)
    except aiodocker.DockerError as exc:
        return CheckResult(CRITICAL, f"Error response from daemon: {exc.message}")
    except OSError as exc:
        return CheckResult(CRITICAL, f"Cannot connect to the Docker daemon: {exc}")
    return CheckResult(status_for_exit(code), buf.script_output())
