"""`exec` mode: supervise one child process, signal it when templates change."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import signal
from collections.abc import Mapping

from pytemplate.config import ExecConfig

log = logging.getLogger("pytemplate.child")


class Child:
    def __init__(self, config: ExecConfig, env: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.env = dict(env) if env is not None else None
        self.proc: asyncio.subprocess.Process | None = None
        self.restarting = False

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self) -> None:
        # Exec directly (no shell in between), so signals reach the program itself.
        cmd = self.config.command
        argv = shlex.split(cmd) if isinstance(cmd, str) else list(cmd)
        log.info("(child) spawning: %s", " ".join(argv))
        self.proc = await asyncio.create_subprocess_exec(*argv, env=self.env, start_new_session=True)

    async def wait(self) -> int:
        assert self.proc is not None
        return await self.proc.wait()

    async def changed(self) -> None:
        """Templates changed: send the reload signal, or restart when there is none."""
        if not self.running:
            await self.start()
            return
        if self.config.reload_signal is not None:
            log.info("(child) sending signal %d", self.config.reload_signal)
            self._signal(self.config.reload_signal)
        else:
            self.restarting = True
            try:
                await self.stop()
                await self.start()
            finally:
                self.restarting = False

    def _signal(self, sig: int, group: bool = False) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                if group:
                    os.killpg(self.proc.pid, sig)
                else:
                    os.kill(self.proc.pid, sig)

    async def stop(self) -> None:
        if not self.running:
            return
        assert self.proc is not None
        self._signal(self.config.kill_signal)
        try:
            await asyncio.wait_for(self.proc.wait(), self.config.kill_timeout)
        except TimeoutError:
            self._signal(signal.SIGKILL, group=True)
            await self.proc.wait()
