"""Leaderless gaps under faults on three real servers (127.0.0.x, kill -9 and iptables cuts).

    PYTHONPATH=$PWD python3 bench/raft_failover.py [--trials N]

Alternates two faults, each trial timed from the fault: kill -9 of the leader (then a restart),
and isolating the leader (then a heal after a few seconds). Prints JSON: per fault, the time to
a new leader, to the first acknowledged write, and (for cuts) how long after the heal the cut-off
server named the leader; plus p50/p99/max of each. Partitions need root (iptables)."""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from tests.raft.procs import HOSTS, Cluster
from tests.support.wait import wait_until


def _leader_not(cluster: Cluster, among: list[str], old: str) -> str:
    got = cluster.leader(among)
    return got if got and got != old else ""


def _write_ok(cluster: Cluster, host: str) -> bool:
    try:
        return cluster.put(host, "bench/failover", b"x", timeout=3)[0] == 200
    except OSError:
        return False


def kill_trial(cluster: Cluster) -> dict[str, float]:
    old = wait_until(cluster.leader, 20, what="a leader")
    rest = [h for h in HOSTS if h != old]
    cluster.agents[old].kill9()
    t0 = time.monotonic()
    wait_until(lambda: _write_ok(cluster, rest[0]), 15, interval=0.02, what="a write")
    write = time.monotonic() - t0
    wait_until(lambda: _leader_not(cluster, rest, old), 15, interval=0.02, what="a new leader")
    leader = time.monotonic() - t0
    cluster.start(old)
    cluster.agents[old].wait_ready(timeout=30)
    wait_until(cluster.leader, 20, what="three agreeing")
    return {"new_leader_s": round(leader, 3), "first_write_s": round(write, 3)}


def cut_trial(cluster: Cluster, hold: float) -> dict[str, float]:
    old = wait_until(cluster.leader, 20, what="a leader")
    rest = [h for h in HOSTS if h != old]
    for h in rest:
        cluster.cut(old, h)
    t0 = time.monotonic()
    wait_until(lambda: _write_ok(cluster, rest[0]), 15, interval=0.02, what="a write")
    write = time.monotonic() - t0
    new = wait_until(lambda: _leader_not(cluster, rest, old), 15, interval=0.02, what="a new leader")
    leader = time.monotonic() - t0
    time.sleep(hold)  # the partition's length is part of the fault being measured
    cluster.heal()
    t1 = time.monotonic()
    wait_until(lambda: cluster.leader() == new, 15, interval=0.02, what="the cut server naming it")
    named = time.monotonic() - t1
    return {"new_leader_s": round(leader, 3), "first_write_s": round(write, 3), "heal_named_s": round(named, 3),
            "leader_kept": float(cluster.leader() == new)}


def _summary(xs: list[float]) -> dict[str, float]:
    xs = sorted(xs)
    return {"p50": round(statistics.median(xs), 3), "p99": round(xs[min(len(xs) - 1, int(0.99 * len(xs)))], 3),
            "max": round(xs[-1], 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--partition-seconds", type=float, default=3.0)
    args = ap.parse_args()
    results: dict[str, list[dict[str, float]]] = {"kill": [], "cut": []}
    with tempfile.TemporaryDirectory() as root:
        cluster = Cluster(Path(root))
        try:
            cluster.start_all()
            for i in range(args.trials):
                if i % 2 == 0 or not Cluster.iptables_usable():
                    results["kill"].append(kill_trial(cluster))
                else:
                    results["cut"].append(cut_trial(cluster, args.partition_seconds))
        finally:
            cluster.stop_all()
    out: dict[str, object] = {"trials": results}
    for fault, rows in results.items():
        if rows:
            out[fault] = {k: _summary([r[k] for r in rows]) for k in rows[0] if k != "leader_kept"}
    out["leader_stepped_down_after_heal"] = sum(1 for r in results["cut"] if not r["leader_kept"])
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
