"""A big catalog on three real servers: RSS, snapshot, restart, catch-up and the hot read vs nginx.

    PYTHONPATH=$PWD python3 bench/catalog_scale.py [--nodes 10000] [--per-node 5] [--kv 100000]

Three `pyconsul agent -server` processes (own loopbacks, raft_multiplier 1). It loads `--nodes`
nodes with `--per-node` service instances each (two passing checks per instance; the instances
spread over `--nodes * --per-node / 500` services, so each has 500) through /v1/catalog/register
from `--writers` keep-alive connections, and `--kv` keys through /v1/txn (128 operations each).
Then, one JSON object:

- `rss_mib`: each server's VmRSS before and after the load.
- `snapshot`: the raft snapshot file's size on disk, the server's own timers for capturing the
  state between two applies (the only part on the event loop) and serialising it (in a thread);
  `GET /v1/snapshot` on the leader, timed, with a probe reading a key every 10 ms meanwhile: its
  worst latency next to the same probe's worst on the idle server just before (no request waits
  for the snapshot).
- `restart`: a follower stopped and started again; seconds from process start to answering
  `?consistent` and to serving its whole catalog locally (goal < 5 s).
- `catch_up`: a fourth server with an empty data dir joins while writers PUT keys through the
  leader; seconds until it serves the whole catalog, and the write latencies meanwhile (goal: no
  write slower than 100 ms).
- `read`: wrk on `GET /v1/health/service/<a 500-instance service>?passing` against the leader and
  against nginx serving the same bytes, each pinned to CPU 0 (wrk on the last CPU), alternated
  for `--rounds` rounds; goal ratio >= 0.8.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import catalog_read  # noqa: E402

from tests.raft.procs import HOSTS, Cluster  # noqa: E402
from tests.support.agents import AgentProcess, start_agent  # noqa: E402
from tests.support.ports import loopback  # noqa: E402

GOALS = {"restart_to_consistent_s": 5.0, "catch_up_max_write_ms": 100.0, "read_ratio": 0.8}
PER_SERVICE = 500


class Conn:
    """One keep-alive HTTP connection (urllib opens one per request: too slow for 150k writes)."""

    def __init__(self, agent: AgentProcess, timeout: float = 30.0) -> None:
        self.host, self.port, self.timeout = agent.host, agent.http_port, timeout
        self.c = http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        for attempt in range(2):
            try:
                self.c.request(method, path, body=body)
                r = self.c.getresponse()
                return r.status, r.read()
            except (OSError, http.client.HTTPException):
                self.c.close()
                self.c = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                if attempt:
                    raise
        raise AssertionError("unreachable")


def registration(i: int, j: int, per_node: int, services: int) -> bytes:
    node = f"node-{i:05d}"
    addr = f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"
    n = i * per_node + j
    sid = f"inst-{i:05d}-{j}"
    name = f"svc-{n % services:03d}"
    return json.dumps({
        "Datacenter": "dc1", "Node": node, "Address": addr,
        "NodeMeta": {"rack": f"r{i % 16}"},
        "Service": {"ID": sid, "Service": name, "Tags": ["v1", f"shard-{j}"], "Port": 8000 + j,
                    "Address": addr, "Meta": {"version": "1.0"}},
        "Checks": [
            {"Node": node, "CheckID": f"{sid}:http", "Name": "HTTP", "Status": "passing",
             "ServiceID": sid, "Output": "HTTP GET: 200 OK"},
            {"Node": node, "CheckID": f"{sid}:tcp", "Name": "TCP", "Status": "passing",
             "ServiceID": sid, "Output": "TCP connect: Success"},
        ],
    }).encode()


def run_pool(agents: list[AgentProcess], jobs: list[tuple[str, str, bytes]], writers: int) -> float:
    """Send every job (method, path, body) from `writers` threads spread over `agents`; seconds taken."""
    q: queue.Queue[tuple[str, str, bytes] | None] = queue.Queue()
    for job in jobs:
        q.put(job)
    errors: list[str] = []

    def work(k: int) -> None:
        conn = Conn(agents[k % len(agents)])
        while True:
            job = q.get()
            if job is None:
                return
            status, body = conn.request(*job)
            if status != 200:
                errors.append(f"{job[1]}: {status} {body[:200]!r}")

    threads = [threading.Thread(target=work, args=(k,), daemon=True) for k in range(writers)]
    for _ in threads:
        q.put(None)
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{len(errors)} writes failed, first: {errors[0]}")
    return time.monotonic() - start


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def wait_for(check: Callable[[], bool], timeout: float, what: str, every: float = 0.02) -> float:
    start = time.monotonic()
    while True:
        try:
            if check():
                return time.monotonic() - start
        except (OSError, http.client.HTTPException, ValueError):
            pass
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{what}: not within {timeout} s")
        time.sleep(every)


def whole_catalog(conn: Conn, service: str, marker: str) -> bool:
    """This server holds the whole load locally: the last service's 500 instances and the last key."""
    status, body = conn.request("GET", f"/v1/health/service/{service}?passing&stale")
    if status != 200 or len(json.loads(body)) != PER_SERVICE:
        return False
    status, _ = conn.request("GET", f"/v1/kv/{marker}?stale")
    return status == 200


class Probe:
    """Reads one key every 10 ms from its own connection and keeps each answer's latency."""

    def __init__(self, agent: AgentProcess, path: str = "/v1/kv/bench/probe") -> None:
        self.conn, self.path = Conn(agent), path
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            t0 = time.monotonic()
            self.conn.request("GET", self.path)
            self.latencies.append(time.monotonic() - t0)
            time.sleep(0.01)

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._t.join(10)
        return summary_ms(self.latencies)


def summary_ms(xs: list[float]) -> dict[str, Any]:
    if not xs:
        return {"count": 0}
    s = sorted(xs)
    return {"count": len(s), "p50_ms": round(s[len(s) // 2] * 1000, 2),
            "p99_ms": round(s[min(len(s) - 1, int(len(s) * 0.99))] * 1000, 2),
            "max_ms": round(s[-1] * 1000, 2), "over_100ms": sum(1 for x in s if x > 0.1)}


def timers(conn: Conn, names: tuple[str, ...]) -> dict[str, Any]:
    status, body = conn.request("GET", "/v1/agent/metrics")
    out: dict[str, Any] = {}
    if status != 200:
        return out
    for s in json.loads(body).get("Samples", []):
        for n in names:
            if s.get("Name", "").endswith(n):
                out[n] = {"count": s.get("Count"), "mean_ms": round(s.get("Mean", 0), 2),
                          "max_ms": round(s.get("Max", 0), 2)}
    return out


class Writers:
    """PUT keys through one server in a loop; every write's latency is kept."""

    def __init__(self, agent: AgentProcess, n: int) -> None:
        self.latencies: list[float] = []
        self.failed = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(agent, k), daemon=True) for k in range(n)]
        for t in self._threads:
            t.start()

    def _run(self, agent: AgentProcess, k: int) -> None:
        conn, i = Conn(agent), 0
        while not self._stop.is_set():
            i += 1
            t0 = time.monotonic()
            status, _ = conn.request("PUT", f"/v1/kv/bench/catchup/{k}", str(i).encode())
            if status == 200:
                self.latencies.append(time.monotonic() - t0)
            else:
                self.failed += 1
            time.sleep(0.005)

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        for t in self._threads:
            t.join(10)
        return {**summary_ms(self.latencies), "failed": self.failed}


def leader_agent(cluster: Cluster) -> AgentProcess:
    host = ""
    deadline = time.monotonic() + 30
    while not host:
        host = cluster.leader()
        if time.monotonic() > deadline:
            raise TimeoutError("no leader")
        time.sleep(0.1)
    return cluster.agents[host]


def newest_snap(data_dir: Path) -> int:
    snaps = sorted(data_dir.rglob("*.snap"))
    return snaps[-1].stat().st_size if snaps else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=10_000)
    ap.add_argument("--per-node", type=int, default=5, help="service instances per node (2 checks each)")
    ap.add_argument("--kv", type=int, default=100_000)
    ap.add_argument("--writers", type=int, default=16)
    ap.add_argument("--catch-up-writers", type=int, default=2)
    ap.add_argument("--seconds", type=int, default=5, help="wrk duration per server and round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--skip", action="append", default=[], choices=["snapshot", "restart", "catch-up", "read"])
    args = ap.parse_args()
    instances = args.nodes * args.per_node
    services = max(1, instances // PER_SERVICE)
    if instances % PER_SERVICE:
        sys.exit(f"--nodes x --per-node must be a multiple of {PER_SERVICE}")
    ncpu = len(os.sched_getaffinity(0))
    server_cpu, wrk_cpu = (0, ncpu - 1) if ncpu >= 2 and shutil.which("taskset") else (None, None)

    work = Path(tempfile.mkdtemp(prefix="pyconsul-bench-catalog-scale-"))
    cluster = Cluster(work)
    extra: AgentProcess | None = None
    nginx: subprocess.Popen[bytes] | None = None
    out: dict[str, Any] = {"benchmark": "catalog_scale", "nodes": args.nodes, "instances": instances,
                           "checks": instances * 2, "services": services, "kv_keys": args.kv,
                           "goals": GOALS, "loadavg_1m_start": round(os.getloadavg()[0], 2)}
    try:
        cluster.start_all()
        leader = leader_agent(cluster)
        agents = list(cluster.agents.values())
        before = {a.name: rss_mib(a.proc.pid) for a in agents}
        jobs = [("PUT", "/v1/catalog/register", registration(i, j, args.per_node, services))
                for i in range(args.nodes) for j in range(args.per_node)]
        took = run_pool(agents, jobs, args.writers)
        out["load_catalog"] = {"writes": len(jobs), "seconds": round(took, 1), "per_sec": round(len(jobs) / took)}
        value = json.dumps({"k": "x" * 40})
        kv_jobs = []
        for start in range(0, args.kv, 128):
            ops = [{"KV": {"Verb": "set", "Key": f"app/{k // 1000:03d}/{k:06d}",
                           "Value": __import__("base64").b64encode(value.encode()).decode()}}
                   for k in range(start, min(start + 128, args.kv))]
            kv_jobs.append(("PUT", "/v1/txn", json.dumps(ops).encode()))
        took = run_pool(agents, kv_jobs, args.writers)
        out["load_kv"] = {"txns": len(kv_jobs), "seconds": round(took, 1), "keys_per_sec": round(args.kv / took)}
        marker = "bench/loaded"
        Conn(leader).request("PUT", f"/v1/kv/{marker}", b"1")
        Conn(leader).request("PUT", "/v1/kv/bench/probe", b"1")
        last = f"svc-{services - 1:03d}"
        for a in agents:
            c = Conn(a)
            wait_for(lambda c=c: whole_catalog(c, last, marker), 300, f"{a.name} applied the load", 0.5)
        time.sleep(2)  # let the servers settle (snapshots after the load, collections)
        after = {a.name: rss_mib(a.proc.pid) for a in agents}
        out["rss_mib"] = {"before_load": before, "after_load": after}

        if "snapshot" not in args.skip:
            lc = Conn(leader, timeout=300)
            idle = Probe(leader)
            time.sleep(2)
            idle_lat = idle.stop()
            probe = Probe(leader)
            t0 = time.monotonic()
            status, archive = lc.request("GET", "/v1/snapshot")
            api_s = time.monotonic() - t0
            busy = probe.stop()
            out["snapshot"] = {
                "raft_snap_file_bytes": {a.name: newest_snap(cluster.root / f"data{HOSTS.index(a.host)}")
                                         for a in agents},
                "api_status": status, "api_archive_bytes": len(archive), "api_seconds": round(api_s, 2),
                "server_timers": timers(lc, ("raft.fsm.snapshot.capture", "raft.fsm.snapshot",
                                             "raft.snapshot.create", "raft.snapshot.persist", "raft.fsm.restore")),
                "probe_idle": idle_lat, "probe_during_snapshot": busy,
            }

        if "restart" not in args.skip:
            fol = next(a for a in agents if a is not leader)
            fol.stop()
            t0 = time.monotonic()
            fol.restart(wait=False)
            c = Conn(fol)
            t_consistent = wait_for(lambda: c.request("GET", "/v1/kv/bench/probe?consistent")[0] == 200, 120,
                                    "restarted follower answers ?consistent")
            t_local = wait_for(lambda: whole_catalog(c, last, marker), 120, "restarted follower serves locally")
            out["restart"] = {"server": fol.name, "to_consistent_read_s": round(t_consistent, 2),
                              "to_whole_catalog_local_s": round(t_consistent + t_local, 2),
                              "rss_mib_after": rss_mib(fol.proc.pid),
                              "meets_goal": t_consistent < GOALS["restart_to_consistent_s"],
                              "started_at": round(t0, 3)}
            leader = leader_agent(cluster)

        if "catch-up" not in args.skip:
            host = loopback(4)
            flags = ["-server", "-data-dir", str(work / "data-new")]
            for h in HOSTS:
                flags += ["-retry-join", f"{h}:{cluster.serf_port}"]
            idle_w = Writers(leader, args.catch_up_writers)
            time.sleep(3)
            quiet = idle_w.stop()
            writers = Writers(leader, args.catch_up_writers)
            t0 = time.monotonic()
            extra = start_agent(work, *flags, host=host, dev=False, name="srv-new", wait=False,
                                ports={"server": cluster.server_port, "serf_lan": cluster.serf_port})
            c = Conn(extra)
            took = wait_for(lambda: whole_catalog(c, last, marker), 300, "new server caught up", 0.1)
            during = writers.stop()
            log = extra.log()
            out["catch_up"] = {
                "seconds_to_whole_catalog": round(took, 2),
                "writes_before_join": quiet, "writes_during_catch_up": during,
                "meets_goal": during.get("max_ms", 0) <= GOALS["catch_up_max_write_ms"],
                "new_server_installed_snapshot": "snapshot" in log.lower(),
                "rss_mib_new": rss_mib(extra.proc.pid),
            }

        if "read" not in args.skip:
            path = f"/v1/health/service/{last}?passing"
            catalog_read.PATH = path
            if server_cpu is not None:
                catalog_read.pin(leader.proc.pid, server_cpu)
            status, body, _ = catalog_read.fetch(leader.base_url + path)
            nginx, nport = catalog_read.start_nginx(work / "nginx", body, server_cpu)
            targets = {"pyconsul": leader.base_url + path, "nginx": f"http://127.0.0.1:{nport}{path}"}
            for url in targets.values():
                catalog_read.run_wrk(url, 2, 1, args.connections, wrk_cpu)
            rounds: dict[str, list[dict[str, Any]]] = {k: [] for k in targets}
            for _ in range(max(1, args.rounds)):
                for k, url in targets.items():
                    rounds[k].append(catalog_read.run_wrk(url, args.seconds, 1, args.connections, wrk_cpu))
            res = {k: catalog_read.summarize(v) for k, v in rounds.items()}
            pairs = [round(p["requests_per_sec"] / max(n["requests_per_sec"], 1), 3)
                     for p, n in zip(rounds["pyconsul"], rounds["nginx"], strict=True)]
            ratio = statistics.median(pairs)
            out["read"] = {"path": path, "body_bytes": len(body), "pinned": server_cpu is not None,
                           "pyconsul": res["pyconsul"], "nginx": res["nginx"], "per_round_ratio": pairs,
                           "median_round_ratio": ratio, "meets_goal": ratio >= GOALS["read_ratio"],
                           "same_bytes_after": catalog_read.fetch(leader.base_url + path)[1] == body}
        out["rss_mib"]["end"] = {a.name: rss_mib(a.proc.pid) for a in agents if a.alive()}
        out["loadavg_1m_end"] = round(os.getloadavg()[0], 2)
        print(json.dumps(out, indent=2))
    finally:
        if nginx is not None:
            catalog_read.stop(nginx)
        if extra is not None:
            extra.stop()
        cluster.stop_all()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
