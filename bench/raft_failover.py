"""Availability under faults on three real servers (own loopback addresses, kill -9 and iptables).

    PYTHONPATH=$PWD python3 bench/raft_failover.py [--faults 30] [--partition-seconds 3]

Three servers at raft_multiplier 1 and a client agent; one writer per server and one through
the client agent PUT keys in a loop the whole time. The faults cycle through kill -9 of the
leader, kill -9 of a random server, an iptables partition isolating the leader and one isolating
a random server (Raft and gossip ports between the servers; the client agent reaches all).
Partitions need root and a working iptables; without it the bench says so and uses kills only.

At each fault, writes and `?consistent` reads are sent to a surviving server and through the
client agent ("in flight"). Per fault it prints: the longest window without an acknowledged
write from the fault until the cluster is whole again, the time until writes are accepted
again, the time to a new leader (when the leader was hit), how long after the new leader was
known the last in-flight request was answered (negative: before; when the leader stayed, how
long it took from the fault instead), after a heal how long until every
server names the leader, and whether a leader with a quorum stepped down. Then p50/p99/max of
each against issue 23's goals at raft_multiplier 1: leader kill -> writes again p99 < 2 s; heal
-> every server names the leader within 1 s; no leader stepping down while it has a quorum;
in-flight requests answered within 0.5 s of a new leader being known."""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.raft.procs import HOSTS, Cluster
from tests.support.agents import AgentProcess, start_agent
from tests.support.ports import loopback
from tests.support.wait import wait_until

GOALS = {"kill_leader_writes_again_p99_s": 2.0, "heal_named_s": 1.0, "in_flight_after_leader_s": 0.5}
FAULTS = ("kill-leader", "kill-random", "cut-leader", "cut-random")


def _request(base: str, method: str, path: str, body: bytes | None, timeout: float) -> int:
    req = urllib.request.Request(base + path, data=body, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            resp.read()
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return 0


class Writers:
    """One writer per target, each PUTting in a loop; every acknowledged write's time is kept."""

    def __init__(self, targets: dict[str, AgentProcess]) -> None:
        self.acks: list[float] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(name, a), daemon=True) for name, a in targets.items()]
        for t in self._threads:
            t.start()

    def _run(self, name: str, agent: AgentProcess) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            if not agent.alive():
                time.sleep(0.05)
                continue
            if _request(agent.base_url, "PUT", f"/v1/kv/bench/{name}", str(n).encode(), 3.0) == 200:
                with self._lock:
                    self.acks.append(time.monotonic())
            else:
                time.sleep(0.02)

    def gaps(self, start: float, end: float) -> tuple[float, float]:
        """(longest window without an ack overlapping [start, end], first ack after start - start)."""
        with self._lock:
            acks = sorted(self.acks)
        before = [a for a in acks if a <= start]
        inside = [a for a in acks if start < a <= end]
        points = ([before[-1]] if before else [start]) + inside + ([end] if not inside or inside[-1] < end else [])
        longest = max(b - a for a, b in zip(points, points[1:], strict=False)) if len(points) > 1 else end - start
        first = inside[0] - start if inside else float("nan")
        return longest, first

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(5)


def _names(cluster: Cluster, host: str) -> str:
    a = cluster.agents[host]
    if not a.alive():
        return "?"
    try:
        status, _, body = a.request("GET", "/v1/status/leader", timeout=1)
    except OSError:
        return "?"
    return json.loads(body).rsplit(":", 1)[0] if status == 200 else "?"


class LeaderLog:
    """Samples whom each server names every 20 ms, to find the new leader's time and any change."""

    def __init__(self, cluster: Cluster) -> None:
        self.samples: list[tuple[float, dict[str, str]]] = []
        self._stop = threading.Event()
        self._cluster = cluster
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with ThreadPoolExecutor(len(HOSTS)) as pool:
            while not self._stop.is_set():
                got = dict(zip(HOSTS, pool.map(lambda h: _names(self._cluster, h), HOSTS), strict=True))
                self.samples.append((time.monotonic(), got))
                time.sleep(0.02)

    def agreed_at(self, among: list[str], since: float, not_leader: str = "") -> tuple[float, str]:
        """First time after `since` that all of `among` name one leader (other than `not_leader`)."""
        for t, got in list(self.samples):
            if t < since:
                continue
            seen = {got[h] for h in among}
            if len(seen) == 1:
                lead = next(iter(seen))
                if lead not in ("", "?", not_leader):
                    return t, lead
        return float("nan"), ""

    def leaders_named(self, among: list[str], start: float, end: float) -> list[str]:
        """The distinct leaders `among` agreed on in [start, end], in order."""
        out: list[str] = []
        for t, got in list(self.samples):
            if start <= t <= end:
                seen = {got[h] for h in among}
                if len(seen) == 1 and (lead := next(iter(seen))) not in ("", "?") and (not out or out[-1] != lead):
                    out.append(lead)
        return out

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def _in_flight(pool: ThreadPoolExecutor, targets: list[AgentProcess]) -> list[Future[float]]:
    def call(a: AgentProcess, method: str, path: str, body: bytes | None) -> float:
        _request(a.base_url, method, path, body, 15.0)
        return time.monotonic()

    out = []
    for a in targets:
        out.append(pool.submit(call, a, "PUT", "/v1/kv/bench/in-flight", b"x"))
        out.append(pool.submit(call, a, "GET", "/v1/kv/bench/seed?consistent", None))
    return out


def run_fault(kind: str, cluster: Cluster, client: AgentProcess, writers: Writers, leaders: LeaderLog,
              pool: ThreadPoolExecutor, hold: float, rng: random.Random) -> dict[str, Any]:
    old = wait_until(cluster.leader, 30, what="a leader")
    target = old if kind.endswith("leader") else rng.choice(HOSTS)
    rest = [h for h in HOSTS if h != target]
    row: dict[str, Any] = {"fault": kind, "target_was_leader": target == old}
    if kind.startswith("kill"):
        cluster.agents[target].kill9()
    else:
        for h in rest:
            cluster.cut(target, h)
    t0 = time.monotonic()
    flying = _in_flight(pool, [cluster.agents[rest[0]], client])
    wait_until(lambda: leaders.agreed_at(rest, t0, old if target == old else "")[1] != "", 20, interval=0.02,
               what="the survivors agreeing on a leader")
    new_at, new = leaders.agreed_at(rest, t0, old if target == old else "")
    if target == old:
        row["new_leader_s"] = round(new_at - t0, 3)
    done = [f.result(30) for f in flying]
    if target == old:  # how long after the new leader was known the last one was answered
        row["in_flight_after_leader_s"] = round(max(d - new_at for d in done), 3)
    else:  # the leader stayed: how long the last one took from the fault
        row["in_flight_wait_s"] = round(max(d - t0 for d in done), 3)
    if kind.startswith("kill"):
        time.sleep(1.0)  # the cluster running a while without the dead server is part of the fault
        cluster.start(target)
        cluster.agents[target].wait_ready(timeout=30)
        whole = wait_until(lambda: cluster.leader() != "", 30, what="three agreeing")
        t_end = time.monotonic()
        row["leader_after"] = whole
    else:
        time.sleep(hold)  # the partition's length is part of the fault being measured
        cluster.heal()
        t1 = time.monotonic()
        wait_until(lambda: leaders.agreed_at(HOSTS, t1)[1] != "", 20, interval=0.02, what="all naming a leader")
        named_at, named = leaders.agreed_at(HOSTS, t1)
        row["heal_named_s"] = round(named_at - t1, 3)
        time.sleep(2.0)  # watch the healed cluster: does the leader keep its place?
        t_end = time.monotonic()
        row["leader_stepped_down"] = len(leaders.leaders_named(HOSTS, t1, t_end)) > 1 or named != new
    longest, first = writers.gaps(t0, t_end)
    row["no_ack_window_s"] = round(longest, 3)
    row["writes_again_s"] = round(first, 3)
    return row


def _summary(xs: list[float]) -> dict[str, float]:
    xs = sorted(x for x in xs if x == x)
    if not xs:
        return {}
    return {"n": len(xs), "p50": round(statistics.median(xs), 3),
            "p99": round(xs[min(len(xs) - 1, int(0.99 * len(xs)))], 3), "max": round(xs[-1], 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--faults", type=int, default=30)
    ap.add_argument("--partition-seconds", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=23)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    iptables = Cluster.iptables_usable()
    kinds = [k for k in FAULTS if iptables or k.startswith("kill")]
    rows: list[dict[str, Any]] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as root:
        cluster = Cluster(Path(root))
        client: AgentProcess | None = None
        writers: Writers | None = None
        leaders: LeaderLog | None = None
        try:
            cluster.start_all()
            client = start_agent(Path(root), "-data-dir", str(Path(root) / "client"), "-retry-join",
                                 f"{HOSTS[0]}:{cluster.serf_port}", host=loopback(4), dev=False, name="client",
                                 wait=False, ports={"serf_lan": cluster.serf_port})
            client.wait_ready(timeout=30)
            client.request("PUT", "/v1/kv/bench/seed", b"1")
            writers = Writers({**{f"srv{i}": cluster.agents[h] for i, h in enumerate(HOSTS)}, "client": client})
            leaders = LeaderLog(cluster)
            with ThreadPoolExecutor(8) as pool:
                for i in range(args.faults):
                    rows.append(run_fault(kinds[i % len(kinds)], cluster, client, writers, leaders, pool,
                                          args.partition_seconds, rng))
        finally:
            if writers is not None:
                writers.stop()
            if leaders is not None:
                leaders.stop()
            if client is not None:
                client.stop()
            cluster.stop_all()
    out: dict[str, Any] = {
        "faults": len(rows), "seconds": round(time.monotonic() - started, 1),
        "partitions": "iptables" if iptables else "none (iptables unusable here: kills only)",
        "raft_multiplier": 1, "goals": GOALS, "rows": rows,
    }
    summary: dict[str, Any] = {}
    for kind in kinds:
        mine = [r for r in rows if r["fault"] == kind]
        summary[kind] = {k: _summary([r[k] for r in mine if k in r]) for k in
                         ("no_ack_window_s", "writes_again_s", "new_leader_s", "in_flight_after_leader_s",
                          "in_flight_wait_s", "heal_named_s")}
        summary[kind] = {k: v for k, v in summary[kind].items() if v}
    leader_kills = [r for r in rows if r["fault"].startswith("kill") and r["target_was_leader"]]
    summary["leader_killed"] = {k: _summary([r[k] for r in leader_kills]) for k in ("writes_again_s", "no_ack_window_s")}
    summary["in_flight_after_new_leader_s"] = _summary([r["in_flight_after_leader_s"] for r in rows
                                                        if "in_flight_after_leader_s" in r])
    summary["heal_named_s"] = _summary([r["heal_named_s"] for r in rows if "heal_named_s" in r])
    summary["leader_stepped_down_after_heal"] = sum(1 for r in rows if r.get("leader_stepped_down"))
    out["summary"] = summary
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
