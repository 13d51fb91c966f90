"""Three real `pyconsul agent -server` processes on 127.0.0.1, .2 and .3 for cluster tests.

Each server uses the same server and serf port numbers on its own address (like separate
machines with standard ports), picked free on all three so parallel test workers don't collide.
Real partitions use iptables DROP rules on those ports between the loopback addresses.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.agent_proc import AgentProcess, free_port, start_agent

HOSTS = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]


def port_free_everywhere(hosts: list[str]) -> int:
    """A port free for TCP and UDP on every host in `hosts`."""
    for _ in range(200):
        port = free_port(hosts[0])
        try:
            for h in hosts:
                for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                    with socket.socket(socket.AF_INET, kind) as s:
                        s.bind((h, port))
            return port
        except OSError:
            continue
    raise RuntimeError("no port free on all hosts")


def wait_until(cond: Callable[[], Any], timeout: float, what: str, step: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = cond()
            if last:
                return last
        except OSError as exc:
            last = exc
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class Cluster:
    def __init__(self, root: Path, extra: tuple[str, ...] = ()) -> None:
        self.root = root
        self.server_port = port_free_everywhere(HOSTS)
        self.serf_port = port_free_everywhere(HOSTS)
        self.extra = extra
        self.agents: dict[str, AgentProcess] = {}
        self.http_ports: dict[str, int] = {}
        self.rules: list[list[str]] = []

    def start(self, host: str, wait: bool = False) -> AgentProcess:
        i = HOSTS.index(host)
        flags = ["-server", "-bootstrap-expect", "3", "-data-dir", str(self.root / f"data{i}")]
        for other in HOSTS:
            if other != host:
                flags += ["-retry-join", f"{other}:{self.serf_port}"]
        ports = {"server": self.server_port, "serf_lan": self.serf_port}
        if host in self.http_ports:
            ports["http"] = self.http_ports[host]
        a = start_agent(self.root, *flags, *self.extra, host=host, dev=False, name=f"srv{i}", wait=wait,
                        ports=ports)
        self.http_ports[host] = a.http_port
        self.agents[host] = a
        return a

    def start_all(self) -> None:
        for h in HOSTS:
            self.start(h)
        for a in self.agents.values():
            a.wait_ready(timeout=30)

    def stop_all(self) -> None:
        self.heal()
        for a in self.agents.values():
            a.stop()

    def leader(self, among: list[str] | None = None) -> str:
        """Host of the server that all of `among` (default: all live) agree is the leader."""
        hosts = among or [h for h, a in self.agents.items() if a.alive()]
        seen = set()
        for h in hosts:
            status, _, body = self.agents[h].request("GET", "/v1/status/leader", timeout=3)
            if status != 200:
                return ""
            seen.add(json.loads(body))
        if len(seen) != 1 or "" in seen:
            return ""
        return next(iter(seen)).rsplit(":", 1)[0]

    def put(self, host: str, key: str, value: bytes, timeout: float = 15.0, query: str = "") -> tuple[int, bytes]:
        status, _, body = self.agents[host].request("PUT", f"/v1/kv/{key}{query}", value, timeout=timeout)
        return status, body

    def get(self, host: str, key: str, query: str = "", timeout: float = 15.0) -> tuple[int, dict[str, str], bytes]:
        sep = "&" if "?" in query else "?"
        return self.agents[host].request("GET", f"/v1/kv/{key}{query}{sep}raw" if query else f"/v1/kv/{key}?raw",
                                         timeout=timeout)

    # ------------------------------------------------------------------ partitions
    @staticmethod
    def iptables_usable() -> bool:
        if shutil.which("iptables") is None:
            return False
        return subprocess.run(["iptables", "-L", "INPUT", "-n"], capture_output=True).returncode == 0

    def cut(self, a: str, b: str) -> None:
        """Drop Raft and gossip traffic between hosts a and b (both directions)."""
        for src, dst in ((a, b), (b, a)):
            for proto, port in (("tcp", self.server_port), ("tcp", self.serf_port), ("udp", self.serf_port)):
                rule = ["INPUT", "-s", src, "-d", dst, "-p", proto, "--dport", str(port), "-j", "DROP"]
                subprocess.run(["iptables", "-A", *rule], check=True)
                self.rules.append(rule)

    def heal(self) -> None:
        while self.rules:
            subprocess.run(["iptables", "-D", *self.rules.pop()], check=False)
