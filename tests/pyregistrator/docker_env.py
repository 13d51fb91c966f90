"""Real Docker engine, real agent, real `python -m pyregistrator` for the integration tests.

Tests share one engine with other tests running in parallel: every container name starts with
a per-test prefix, assertions look only at services of those containers, and the containers are
removed at the end. Restarting the engine takes an exclusive file lock that every test here
holds shared while it uses the engine.
"""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from tests.support.agents import AgentProcess
from tests.support.wait import wait_until

REPO = Path(__file__).resolve().parents[2]
ENGINE_LOCK = Path("/tmp/pyregistrator-tests.engine.lock")
T = TypeVar("T")


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def engine_answers(url: str, timeout: float = 2.0) -> bool:
    """GET /_ping on the engine at a unix:// DOCKER_HOST."""
    if not url.startswith("unix://"):
        return False
    conn = _UnixHTTPConnection(url[len("unix://") :], timeout)
    try:
        conn.request("GET", "/_ping")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def skip_reason() -> str | None:
    url = os.environ.get("DOCKER_HOST", "")
    if not url:
        return "DOCKER_HOST is not set (CI starts a private engine with scripts/dockerd.sh and exports it)"
    if not engine_answers(url):
        return f"the Docker engine at DOCKER_HOST={url} does not answer /_ping"
    return None


def docker(*args: str, timeout: float = 60) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


@dataclass
class Containers:
    """Containers of one test: unique names, removed at the end."""

    prefix: str = field(default_factory=lambda: "t9-" + uuid.uuid4().hex[:8])
    names: list[str] = field(default_factory=list)

    def name(self, suffix: str) -> str:
        return f"{self.prefix}-{suffix}"

    def run(self, suffix: str, *options: str, image: str = "nginx", command: tuple[str, ...] = ()) -> str:
        """`docker run -d --init` a busybox httpd serving /www on port 80 (other ports idle)."""
        name = self.name(suffix)
        self.names.append(name)
        cmd = command or ("httpd", "-f", "-p", "80", "-h", "/www")
        docker("run", "-d", "--init", "--name", name, *options, image, *cmd)
        return name

    def stop(self, suffix: str) -> None:
        docker("stop", "-t", "2", self.name(suffix))

    def remove_all(self) -> None:
        if self.names:
            subprocess.run(["docker", "rm", "-f", *self.names], capture_output=True, timeout=60)


@contextlib.contextmanager
def engine_lock(exclusive: bool = False) -> Iterator[None]:
    with open(ENGINE_LOCK, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def restart_engine() -> None:
    subprocess.run(["bash", str(REPO / "scripts/dockerd.sh"), "stop"], check=True, timeout=120)
    subprocess.run(["bash", str(REPO / "scripts/dockerd.sh"), "start"], check=True, timeout=120,
                   capture_output=True)


@dataclass
class Registrator:
    proc: subprocess.Popen[bytes]
    log_path: Path
    args: list[str]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill9(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def start_registrator(workdir: Path, agent: AgentProcess, *flags: str, wait: bool = True) -> Registrator:
    log_path = workdir / f"registrator-{uuid.uuid4().hex[:6]}.log"
    args = [sys.executable, "-m", "pyregistrator", *flags, f"consul://{agent.http_addr}"]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    reg = Registrator(proc, log_path, args)
    if wait:
        def synced() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"registrator exited {proc.returncode}:\n{reg.log()}\n"
                    f"agent alive: {agent.alive()}; agent log tail:\n{agent.log()[-3000:]}"
                )
            return "synced" in reg.log()

        try:
            wait_until(synced, 20, what="the registrator's first sync", interval=0.02)
        except Exception:
            reg.stop()
            raise
    return reg


def catalog(agent: AgentProcess, prefix: str) -> dict[str, dict[str, Any]]:
    """Catalog entries (by service ID) whose ID holds `prefix` (containers named `prefix-*`)."""
    out: dict[str, dict[str, Any]] = {}
    for name in agent.get_json("/v1/catalog/services"):
        for entry in agent.get_json("/v1/catalog/service/" + quote(name, safe="")):
            if prefix in entry["ServiceID"]:
                out[entry["ServiceID"]] = entry
    return out


def http_get(host: str, port: int) -> str:
    conn = http.client.HTTPConnection(host, port, timeout=2)
    try:
        conn.request("GET", "/index.html")
        return conn.getresponse().read().decode()
    finally:
        conn.close()


def inspect_ip(name: str) -> str:
    data = json.loads(docker("inspect", name))[0]
    return str(data["NetworkSettings"]["IPAddress"])
