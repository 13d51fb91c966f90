"""Three real `pyconsul agent -server` processes on .1, .2 and .3 of this worker's own loopback
block for cluster tests.

Each server uses the same server and serf port numbers on its own address (like separate
machines with standard ports); the allocator hands out ports free on every address and never to
two workers. Real partitions use iptables DROP rules on those ports between those addresses, so a
rule can only ever match this cluster's traffic.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from tests.support.agents import AgentProcess, start_agent
from tests.support.ports import free_port, loopbacks

HOSTS = loopbacks(3)


class Cluster:
    def __init__(self, root: Path, extra: tuple[str, ...] = ()) -> None:
        self.root = root
        self.server_port = free_port()
        self.serf_port = free_port()
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
                subprocess.run(["iptables", "-w", "-A", *rule], check=True)
                self.rules.append(rule)

    def heal(self) -> None:
        # -w: wait for the xtables lock (other runs change rules too) instead of failing and
        # leaving a rule behind.
        while self.rules:
            subprocess.run(["iptables", "-w", "-D", *self.rules.pop()], check=False)
