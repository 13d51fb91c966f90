"""Start real `python -m pyconsul agent` processes for tests.

Each agent gets its own free ports (HTTP, DNS, server, serf) on the given loopback address so
tests can run in parallel. `start_agent` returns once the agent answers HTTP and knows a leader.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def free_port(host: str = "127.0.0.1", kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def free_tcp_udp_port(host: str = "127.0.0.1") -> int:
    """A port free for both TCP and UDP (DNS and serf listen on both)."""
    for _ in range(50):
        port = free_port(host)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.bind((host, port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free TCP+UDP port")


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

    @property
    def http_addr(self) -> str:
        return f"{self.host}:{self.http_port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    def request(
        self, method: str, path: str, body: Any = None, timeout: float = 10.0
    ) -> tuple[int, dict[str, str], bytes]:
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
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
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"agent exited with {self.proc.returncode}:\n{self.log()}")
            try:
                status, _, body = self.request("GET", "/v1/status/leader", timeout=2)
                last = f"{status} {body!r}"
                if status == 200 and (not need_leader or json.loads(body)):
                    return
            except (OSError, ValueError) as exc:
                last = repr(exc)
            time.sleep(0.05)
        raise TimeoutError(f"agent not ready ({last}):\n{self.log()}")


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
    http = ports.get("http") or free_port(host)
    dns = ports.get("dns") or free_tcp_udp_port(host)
    server = ports.get("server") or free_port(host)
    serf = ports.get("serf_lan") or free_tcp_udp_port(host)
    args = [sys.executable, "-m", "pyconsul", "agent"]
    if dev:
        args.append("-dev")
    args += [
        "-node", name, "-bind", host, "-client", host,
        "-http-port", str(http), "-dns-port", str(dns),
        "-server-port", str(server), "-serf-lan-port", str(serf),
        *extra,
    ]
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"{name}.log"
    full_env = {**os.environ, **(env or {})}
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=full_env)
    agent = AgentProcess(proc, host, http, dns, server, serf, args, log_path, env or {})
    if wait:
        try:
            agent.wait_ready(need_leader=need_leader)
        except Exception:
            agent.stop()
            raise
    return agent
