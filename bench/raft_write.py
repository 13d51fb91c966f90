"""KV write throughput of a 3-server pyconsul cluster, side by side with a 3-member etcd cluster.

Starts three `pyconsul agent -server -bootstrap-expect 3` processes on 127.0.0.1/.2/.3 (same
free ports on each address, fsync'd Raft logs in a temp dir) and a 3-member etcd cluster
(Debian's `etcd`, also on 127.0.0.1/.2/.3, its own data dirs). The same load generator (wrk,
same connections, duration and value size) then PUTs one key on each cluster's leader:
`PUT /v1/kv/bench` for pyconsul, `POST /v3/kv/put` (the v3 JSON gateway) for etcd — alternating
for `--rounds` rounds so machine-load drift hits both alike. Prints one JSON object: median
writes/s, latency p50/p99 of each, the pyconsul/etcd ratio, the target (3,780 writes/s, what
Consul 0.7.1 published for 3 servers) and every round. Everything started is stopped on exit.

    python bench/raft_write.py [--seconds 5] [--rounds 3] [--connections 64] [--value-size 128]
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.raft.procs import HOSTS, Cluster  # noqa: E402
from tests.support.ports import free_port  # noqa: E402
from tests.support.wait import wait_until  # noqa: E402

TARGET = 3780.0

LUA = """
wrk.method = "{method}"
wrk.body = '{body}'
wrk.headers["Content-Type"] = "application/json"
"""


def run_wrk(url: str, method: str, body: str, seconds: int, connections: int, workdir: Path) -> dict[str, float]:
    script = workdir / f"wrk-{method}.lua"
    script.write_text(LUA.format(method=method, body=body))
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "writes_per_s": rps,
        "p50_ms": _pct(out, "50%"),
        "p99_ms": _pct(out, "99%"),
        "errors": float(non2xx.group(1)) if non2xx else 0.0,
    }


def _pct(out: str, label: str) -> float:
    m = re.search(rf"{re.escape(label)}\s+([\d.]+)(us|ms|s)", out)
    if not m:
        return float("nan")
    v, unit = float(m.group(1)), m.group(2)
    return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v


class Etcd:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.client_port = free_port()
        self.peer_port = free_port()
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        cluster = ",".join(f"e{i}=http://{h}:{self.peer_port}" for i, h in enumerate(HOSTS))
        for i, h in enumerate(HOSTS):
            log = open(self.root / f"etcd{i}.log", "wb")
            self.procs.append(subprocess.Popen([
                "etcd", "--name", f"e{i}", "--data-dir", str(self.root / f"etcd{i}"),
                "--listen-client-urls", f"http://{h}:{self.client_port}",
                "--advertise-client-urls", f"http://{h}:{self.client_port}",
                "--listen-peer-urls", f"http://{h}:{self.peer_port}",
                "--initial-advertise-peer-urls", f"http://{h}:{self.peer_port}",
                "--initial-cluster", cluster, "--initial-cluster-state", "new",
                "--initial-cluster-token", "bench",
            ], stdout=log, stderr=subprocess.STDOUT))
        wait_until(self.leader, 30, "etcd leader")

    def _post(self, host: str, path: str, body: dict[str, Any]) -> Any:
        req = urllib.request.Request(f"http://{host}:{self.client_port}{path}", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=3) as r:
            return json.loads(r.read())

    def leader(self) -> str:
        try:
            st = {h: self._post(h, "/v3/maintenance/status", {}) for h in HOSTS}
        except OSError:
            return ""
        for h, s in st.items():
            if s.get("leader") and s["leader"] == s.get("header", {}).get("member_id"):
                return h
        return ""

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--value-size", type=int, default=128)
    args = ap.parse_args()
    for tool in ("wrk", "etcd"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (apt-get install wrk etcd-server)")
    root = Path(tempfile.mkdtemp(prefix="raft-bench-"))
    value = "v" * args.value_size
    cluster = Cluster(root / "pyconsul", extra=("-log-level", "warn"))
    etcd = Etcd(root)
    rounds: list[dict[str, Any]] = []
    try:
        cluster.start_all()
        leader = wait_until(cluster.leader, 30, "pyconsul leader")
        etcd.start()
        e_leader = etcd.leader()
        p_url = f"http://{leader}:{cluster.agents[leader].http_port}/v1/kv/bench"
        e_url = f"http://{e_leader}:{etcd.client_port}/v3/kv/put"
        e_body = json.dumps({"key": base64.b64encode(b"bench").decode(),
                             "value": base64.b64encode(value.encode()).decode()})
        # Warm both up (first connections, first log segment).
        run_wrk(p_url, "PUT", value, 1, 8, root)
        run_wrk(e_url, "POST", e_body, 1, 8, root)
        for r in range(args.rounds):
            p = run_wrk(p_url, "PUT", value, args.seconds, args.connections, root)
            e = run_wrk(e_url, "POST", e_body, args.seconds, args.connections, root)
            rounds.append({"round": r + 1, "pyconsul": p, "etcd": e})
    finally:
        cluster.stop_all()
        etcd.stop()
        shutil.rmtree(root, ignore_errors=True)

    def med(who: str, key: str) -> float:
        return round(statistics.median(x[who][key] for x in rounds), 3)

    p_rate, e_rate = med("pyconsul", "writes_per_s"), med("etcd", "writes_per_s")
    print(json.dumps({
        "benchmark": "raft_write",
        "servers": 3,
        "connections": args.connections,
        "value_size": args.value_size,
        "seconds_per_round": args.seconds,
        "pyconsul": {"writes_per_s": p_rate, "p50_ms": med("pyconsul", "p50_ms"), "p99_ms": med("pyconsul", "p99_ms")},
        "etcd": {"writes_per_s": e_rate, "p50_ms": med("etcd", "p50_ms"), "p99_ms": med("etcd", "p99_ms")},
        "ratio": round(p_rate / e_rate, 3) if e_rate else None,
        "target_writes_per_s": TARGET,
        "meets_target": p_rate >= TARGET,
        "rounds": rounds,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }, indent=2))


if __name__ == "__main__":
    main()
