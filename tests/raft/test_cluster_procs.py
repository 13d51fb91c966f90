"""Real three-server clusters: separate processes on three loopback addresses of this worker's own, kill -9, iptables cuts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.raft.procs import HOSTS, Cluster
from tests.support.wait import wait_until


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One cluster for the module (starting three servers takes seconds); every test leaves all
    three running and connected."""
    c = Cluster(tmp_path_factory.mktemp("raftcluster"))
    try:
        c.start_all()
        yield c
    finally:
        c.stop_all()


def test_servers_agree_on_leader_and_peers(cluster: Cluster) -> None:
    leader = wait_until(cluster.leader, 15, what="an agreed leader")
    peers = {h: cluster.agents[h].get_json("/v1/status/peers") for h in HOSTS}
    want = sorted(f"{h}:{cluster.server_port}" for h in HOSTS)
    for h in HOSTS:
        assert sorted(peers[h]) == want
    conf = cluster.agents[HOSTS[2]].get_json("/v1/operator/raft/configuration")
    assert sorted(s["Address"] for s in conf["Servers"]) == want
    assert [s["Address"] for s in conf["Servers"] if s["Leader"]] == [f"{leader}:{cluster.server_port}"]
    # A write through a follower is visible to a consistent read on another follower.
    f1, f2 = [h for h in HOSTS if h != leader]
    assert cluster.put(f1, "greeting", b"hello") == (200, b"true")
    status, headers, body = cluster.get(f2, "greeting", "?consistent")
    assert (status, body) == (200, b"hello")
    assert headers["X-Consul-KnownLeader"] == "true"
    # The operator's view, through the CLI as users run it.
    out = cli(cluster, f1, "operator", "raft", "list-peers")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0].split() == ["Node", "ID", "Address", "State", "Voter", "RaftProtocol"]
    rows = {ln.split()[2]: ln.split() for ln in lines[1:]}
    assert sorted(rows) == want
    assert rows[f"{leader}:{cluster.server_port}"][3] == "leader"
    assert sorted(r[0] for r in rows.values()) == ["srv0", "srv1", "srv2"]
    bad = cli(cluster, f1, "operator", "raft", "remove-peer", "-address=127.0.0.9:8300")
    assert bad.returncode != 0 and "Error removing peer" in bad.stderr
    info = cli(cluster, leader, "info")
    assert "state = Leader" in info.stdout and "num_peers = 2" in info.stdout, info.stdout


def cli(cluster: Cluster, host: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONSUL_HTTP_ADDR": f"{host}:{cluster.http_ports[host]}"}
    return subprocess.run([sys.executable, "-m", "pyconsul", *args], capture_output=True, text=True,
                          env=env, timeout=30)


def test_kill9_leader_new_leader_takes_writes_within_5s_and_old_catches_up(cluster: Cluster) -> None:
    old = wait_until(cluster.leader, 15, what="an agreed leader")
    for i in range(20):
        assert cluster.put(old, f"before/{i}", b"v%d" % i)[0] == 200
    cluster.agents[old].kill9()
    killed_at = time.monotonic()
    rest = [h for h in HOSTS if h != old]

    def write_ok() -> bool:
        status, body = cluster.put(rest[0], "after", b"new", timeout=3)
        return status == 200 and body == b"true"

    wait_until(write_ok, 10, what="a write accepted after the leader died", interval=0.1)
    took = time.monotonic() - killed_at
    assert took < 5.0, f"new leader took {took:.2f}s to accept writes"
    new = wait_until(lambda: cluster.leader(rest), 5, what="agreed new leader")
    assert new != old
    cluster.start(old)  # same data dir, same ports
    cluster.agents[old].wait_ready(timeout=30)

    def caught_up() -> bool:
        status, _, body = cluster.get(old, "after", "?stale", timeout=3)
        return status == 200 and body == b"new"

    wait_until(caught_up, 15, what="restarted server catching up")
    status, _, body = cluster.get(old, "before/19", "?stale")
    assert (status, body) == (200, b"v19")


@pytest.mark.skipif(not Cluster.iptables_usable(), reason="needs iptables (root)")
def test_minority_behind_a_real_partition_refuses_then_heals(cluster: Cluster) -> None:
    leader = wait_until(cluster.leader, 15, what="an agreed leader")
    lone = next(h for h in HOSTS if h != leader)
    majority = [h for h in HOSTS if h != lone]
    for h in majority:
        cluster.cut(lone, h)
    # The majority goes on.
    assert cluster.put(leader, "during", b"yes") == (200, b"true")
    # The minority refuses writes and consistent reads with Consul's error.
    with ThreadPoolExecutor(2) as pool:  # both wait out Consul's 7 s hold: overlap them
        write = pool.submit(cluster.put, lone, "lost", b"x", 20)
        read = pool.submit(cluster.get, lone, "during", "?consistent", 20)
        status, body = write.result()
        assert status == 500 and b"No cluster leader" in body
        status, _, body = read.result()
        assert status == 500 and b"No cluster leader" in body
    # Stale reads still answer, and say truthfully that no leader is known.
    def no_known_leader() -> bool:
        st, headers, _ = cluster.get(lone, "during", "?stale", timeout=5)
        return st in (200, 404) and headers.get("X-Consul-KnownLeader") == "false"

    wait_until(no_known_leader, 10, what="stale read reporting no known leader")
    cluster.heal()

    def healed() -> bool:
        st, _, b = cluster.get(lone, "during", "?consistent", timeout=5)
        return st == 200 and b == b"yes"

    wait_until(healed, 20, what="the cut server rejoining")
    assert cluster.get(lone, "lost", "?stale")[0] == 404
    assert json.loads(cluster.agents[lone].request("GET", "/v1/status/leader")[2]) == (
        f"{wait_until(cluster.leader, 10, what='leader')}:{cluster.server_port}"
    )
