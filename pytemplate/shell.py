"""Runs a template's command with a timeout; the whole process group dies on timeout."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class CommandResult:
    ok: bool
    returncode: int | None
    timed_out: bool = False
    error: str = ""

    def describe(self) -> str:
        if self.error:
            return self.error
        if self.timed_out:
            return "timed out"
        return f"exit status {self.returncode}"


def argv_for(command: str | Sequence[str]) -> list[str]:
    """A string runs through `sh -c` (so `nginx -s reload && x` works); a list runs as is."""
    if isinstance(command, str):
        return ["/bin/sh", "-c", command]
    return list(command)


async def run_command(command: str | Sequence[str], timeout: float,
                      env: Mapping[str, str] | None = None) -> CommandResult:
    argv = argv_for(command)
    if not argv:
        return CommandResult(False, None, error="empty command")
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, env=dict(env) if env is not None else None,
            start_new_session=True,
        )
    except OSError as exc:
        return CommandResult(False, None, error=f"cannot start: {exc.strerror or exc}")
    try:
        code = await asyncio.wait_for(proc.wait(), timeout if timeout > 0 else None)
    except TimeoutError:
        _kill_group(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 2.0)
        except TimeoutError:
            _kill_group(proc.pid, signal.SIGKILL)
            await proc.wait()
        return CommandResult(False, proc.returncode, timed_out=True)
    except asyncio.CancelledError:
        _kill_group(proc.pid, signal.SIGKILL)
        raise
    return CommandResult(code == 0, code)


def _kill_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
