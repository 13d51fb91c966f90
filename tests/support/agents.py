"""Start real `python -m pyconsul agent` processes for tests.

Each agent gets its own ports (HTTP, DNS, server, serf) from the collision-free allocator in
`tests.support.ports`, on the given address, so tests can run in parallel. `start_agent` returns
once the agent answers HTTP and knows a leader. Every agent started is recorded in `STARTED`, so
the test plugin (`tests/conftest.py`) can attach the logs of a failed test's agents to its report
and stop agents a test forgot.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.ports import free_port
from tests.support.wait import WaitTimeout, wait_until


@dataclass
class AgentProcess:
    proc: subprocess.Popen[bytes]
    host: str
    http_port: int
    dns_port: int
    server_port: int
    serf_lan_port: int
    args: list[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    name: str = "agent"

    @property
    def http_addr(self) -> str:
        return f"{self.host}:{self.http_port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    def request(
        self, method: str, path: str, body: Any = None, timeout: float = 10.0,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        req = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def get_json(self, path: str) -> Any:
        status, _, body = self.request("GET", path)
        assert status == 200, (status, body)
        return json.loads(body)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            self.proc.send_signal(sig)

    def kill9(self) -> None:
        self.signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout: float = 10.0) -> int | None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    def wait_ready(self, timeout: float = 20.0, need_leader: bool = True) -> None:
        def ready() -> bool:
            if not self.alive():
                raise RuntimeError(f"agent exited with {self.proc.returncode}:\n{self.log()}")
            status, _, body = self.request("GET", "/v1/status/leader", timeout=2)
            return status == 200 and (not need_leader or bool(json.loads(body)))

        try:
            wait_until(ready, timeout, what=f"agent {self.name} on {self.http_addr} to be ready")
        except WaitTimeout as exc:
            raise TimeoutError(f"{exc}:\n{self.log()}") from exc

    def restart(self, wait: bool = True, need_leader: bool = True, timeout: float = 20.0) -> AgentProcess:
        """Start the same command line again (same ports, data dir and log file) after a stop or kill."""
        if self.alive():
            self.stop()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT,
                                         env={**os.environ, **self.env})
        STARTED.append(self)
        if wait:
            self.wait_ready(timeout, need_leader)
        return self


# Every agent started in this process, in order (the conftest plugin reads and trims it).
STARTED: list[AgentProcess] = []


def start_agent(
    workdir: Path,
    *extra: str,
    host: str = "127.0.0.1",
    dev: bool = True,
    name: str = "agent",
    wait: bool = True,
    need_leader: bool = True,
    ports: dict[str, int] | None = None,
    env: dict[str, str] | None = None,
) -> AgentProcess:
    """Start an agent (`-dev` by default) on `host` with free ports; extra flags are appended."""
    ports = dict(ports or {})
    http = ports.get("http") or free_port()
    dns = ports.get("dns") or free_port()
    server = ports.get("server") or free_port()
    serf = ports.get("serf_lan") or free_port()
    serf_wan = ports.get("serf_wan") or free_port()  # servers run a WAN pool too
    args = [sys.executable, "-m", "pyconsul", "agent"]
    if dev:
        args.append("-dev")
    else:
        # Consul's production timing (elections in 1-2 s); the default 5 would make every
        # multi-server test wait 5-10 s per election.
        args += ["-hcl", "performance { raft_multiplier = 1 }"]
    args += [
        "-node", name, "-bind", host, "-client", host,
        "-http-port", str(http), "-dns-port", str(dns),
        "-server-port", str(server), "-serf-lan-port", str(serf), "-serf-wan-port", str(serf_wan),
        *extra,
    ]
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"{name}.log"
    full_env = {**os.environ, **(env or {})}
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=full_env)
    agent = AgentProcess(proc, host, http, dns, server, serf, args, log_path, env or {}, name)
    STARTED.append(agent)
    if wait:
        try:
            agent.wait_ready(need_leader=need_leader)
        except Exception:
            agent.stop()
            raise
    return agent
