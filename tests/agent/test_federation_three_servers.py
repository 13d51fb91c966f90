"""A 3-server datacenter federated with a 1-server one, as real processes: killing dc1's
leader leaves reads and writes across the WAN working (dc2 reaches dc1's survivors, which
elect a new leader); a real network cut between the datacenters (iptables DROP between their
addresses, both ways) fails cross-datacenter requests within the forward timeout while each
datacenter keeps serving itself, and everything heals when the cut does.

Addresses come from this worker's leased loopback /24 (tests/support/ports.py): dc1 on .41-.43,
dc2 on .51; the cut's rules name only those addresses and are always removed."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.support.agents import AgentProcess, start_agent
from tests.support.ports import free_port, loopback
from tests.support.wait import wait_until

FORWARD_TIMEOUT = 7.0 + 2.0  # rpc_hold_timeout + 2 s: a non-blocking forward's deadline (agent/wan.py)


@dataclass
class Federation:
    dc1: dict[str, AgentProcess]  # host → server
    t1: AgentProcess
    rules: list[list[str]] = field(default_factory=list)

    def alive_dc1(self) -> list[AgentProcess]:
        return [a for a in self.dc1.values() if a.alive()]

    def leader(self) -> AgentProcess | None:
        seen = set()
        for a in self.alive_dc1():
            status, _, body = a.request("GET", "/v1/status/leader", timeout=3)
            if status != 200:
                return None
            seen.add(json.loads(body))
        if len(seen) != 1 or "" in seen:
            return None
        host = next(iter(seen)).rsplit(":", 1)[0]
        return self.dc1.get(host)

    def cut(self) -> None:
        """Drop every packet between dc1's hosts and dc2's, both ways."""
        for host in self.dc1:
            for src, dst in ((host, self.t1.host), (self.t1.host, host)):
                rule = ["INPUT", "-s", src, "-d", dst, "-j", "DROP"]
                subprocess.run(["iptables", "-w", "-A", *rule], check=True)
                self.rules.append(rule)

    def heal(self) -> None:
        while self.rules:
            subprocess.run(["iptables", "-w", "-D", *self.rules.pop()], check=False)


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    tmp = tmp_path_factory.mktemp("three")
    hosts = [loopback(41), loopback(42), loopback(43)]
    ports = {"server": free_port(), "serf_lan": free_port(), "serf_wan": free_port()}
    started: list[AgentProcess] = []
    f: Federation | None = None
    try:
        dc1: dict[str, AgentProcess] = {}
        for i, host in enumerate(hosts):
            joins = [a for h in hosts if h != host for a in ("-retry-join", f"{h}:{ports['serf_lan']}")]
            a = start_agent(tmp / f"s{i}", "-server", "-bootstrap-expect", "3", "-datacenter", "dc1",
                            "-data-dir", str(tmp / f"s{i}" / "data"), *joins, "-retry-interval", "1s",
                            dev=False, name=f"s{i}", host=host, ports=ports, wait=False)
            started.append(a)
            dc1[host] = a
        t1 = start_agent(tmp / "t1", "-server", "-bootstrap", "-datacenter", "dc2", "-data-dir", str(tmp / "t1" / "data"),
                         "-retry-join-wan", f"{hosts[0]}:{ports['serf_wan']}", "-retry-interval-wan", "1s",
                         dev=False, name="t1", host=loopback(51), ports={"serf_wan": ports["serf_wan"]}, wait=False)
        started.append(t1)
        for a in started:
            a.wait_ready(timeout=60)
        f = Federation(dc1, t1)
        wait_until(lambda: all(a.get_json("/v1/catalog/datacenters") == ["dc1", "dc2"] for a in dc1.values()),
                   30, "dc1's servers to know dc2")
        wait_until(lambda: len([m for m in t1.get_json("/v1/agent/members?wan=1") if m["Status"] == 1]) == 4,
                   30, "dc2 to see dc1's three servers")
        yield f
    finally:
        if f is not None:
            f.heal()
        for a in reversed(started):
            a.stop()


def _get(agent: AgentProcess, path: str, timeout: float = 30) -> tuple[int, bytes, float]:
    started = time.monotonic()
    status, _, body = agent.request("GET", path, timeout=timeout)
    return status, body, time.monotonic() - started


def test_cross_datacenter_reads_and_writes_survive_the_loss_of_dc1s_leader(fed: Federation) -> None:
    t1 = fed.t1
    first = next(iter(fed.dc1.values()))
    assert first.request("PUT", "/v1/kv/three/k", b"v1")[0] == 200
    assert _get(t1, "/v1/kv/three/k?dc=dc1&raw")[:2] == (200, b"v1")
    assert t1.request("PUT", "/v1/kv/in-dc2", b"x")[0] == 200
    leader = wait_until(fed.leader, 20, "dc1 to agree on a leader")
    assert leader is not None
    leader.kill9()
    new = wait_until(lambda: (lambda ld: ld if ld is not None and ld is not leader else None)(fed.leader()), 30,
                     "dc1 to elect a new leader")
    assert new is not leader
    # dc2 reaches dc1's survivors at once (a dead server refuses, the next one answers).
    status, body, took = _get(t1, "/v1/kv/three/k?dc=dc1&raw")
    assert (status, body) == (200, b"v1") and took < FORWARD_TIMEOUT, (status, body, took)
    assert t1.request("PUT", "/v1/kv/three/after?dc=dc1", b"v2")[0] == 200
    assert _get(new, "/v1/kv/three/after?raw")[:2] == (200, b"v2")
    # ... and dc1's survivors still read dc2.
    for a in fed.alive_dc1():
        assert _get(a, "/v1/kv/in-dc2?dc=dc2&raw")[:2] == (200, b"x")
    leader.restart(timeout=60)
    wait_until(lambda: fed.leader() is not None and len(fed.alive_dc1()) == 3, 30, "dc1 whole again")


def _iptables_usable() -> bool:
    if shutil.which("iptables") is None:
        return False
    return subprocess.run(["iptables", "-w", "-L", "INPUT", "-n"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _iptables_usable(), reason="needs iptables (root) to cut the link for real")
def test_a_cut_between_datacenters_fails_fast_and_heals(fed: Federation) -> None:
    t1 = fed.t1
    s = wait_until(fed.leader, 30, "dc1 to have a leader")
    assert s is not None
    assert s.request("PUT", "/v1/kv/cut/k", b"before")[0] == 200
    assert _get(t1, "/v1/kv/cut/k?dc=dc1&raw")[:2] == (200, b"before")  # pooled connections exist now
    assert t1.request("PUT", "/v1/kv/in-dc2", b"x")[0] == 200  # not left to the other test (xdist splits them)
    assert _get(s, "/v1/kv/in-dc2?dc=dc2&raw")[0] == 200
    try:
        fed.cut()
        for asker, dc in ((t1, "dc1"), (s, "dc2")):
            status, body, took = _get(asker, f"/v1/kv/cut/k?dc={dc}&raw")
            assert status == 500, (asker.name, status, body)
            assert took < FORWARD_TIMEOUT + 3, (asker.name, took)
        # Each side keeps serving itself meanwhile.
        assert s.request("PUT", "/v1/kv/cut/local", b"ok", timeout=15)[0] == 200
        assert t1.request("PUT", "/v1/kv/cut/local", b"ok", timeout=15)[0] == 200
    finally:
        fed.heal()
    wait_until(lambda: _get(t1, "/v1/kv/cut/k?dc=dc1&raw", timeout=15)[:2] == (200, b"before"), 90,
               "dc2 to reach dc1 again")
    wait_until(lambda: _get(s, "/v1/kv/in-dc2?dc=dc2&raw", timeout=15)[:2] == (200, b"x"), 90,
               "dc1 to reach dc2 again")
