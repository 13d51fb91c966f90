"""KV write throughput of a 3-server pyconsul cluster, side by side with a 3-member etcd cluster.

Starts three `pyconsul agent -server -bootstrap-expect 3` processes on 127.0.0.1/.2/.3 (same
free ports on each address, fsync'd Raft logs in a temp dir) and a 3-member etcd cluster
(Debian's `etcd`, also on 127.0.0.1/.2/.3, its own data dirs). The same load generator (wrk,
same connections, duration and value size) then PUTs one key on each cluster's leader:
`PUT /v1/kv/bench` for pyconsul, `POST /v3/kv/put` (the v3 JSON gateway) for etcd — alternating
for `--rounds` rounds so machine-load drift hits both alike. Prints one JSON object: median
writes/s, latency p50/p99 of each, the pyconsul/etcd ratio, the target (3,780 writes/s, what
Consul 0.7.1 published for 3 servers) and every round. Everything started is stopped on exit.

With `--tls` a second pair of clusters runs with TLS on every hop, from one CA and one EC P-256
server certificate: pyconsul with verify_incoming, verify_outgoing and verify_server_hostname
on the server port (Raft, replication, forwarded requests over mutually authenticated TLS) and
the PUTs over HTTPS; etcd with peer TLS (`--peer-client-cert-auth`) and client TLS. Each round
measures all four, so the `tls` object prints TLS on/off side by side: each system's TLS/plain
ratio (the goal for pyconsul: >= 0.8) and pyconsul/etcd with TLS.

    python bench/raft_write.py [--seconds 5] [--rounds 3] [--connections 64] [--value-size 128] [--tls]
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import shutil
import ssl
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

from bench._tls import Pki, cluster_tls_config, etcd_tls_flags, make_pki  # noqa: E402
from tests.raft.procs import HOSTS, Cluster  # noqa: E402
from tests.support.ports import free_port  # noqa: E402
from tests.support.wait import wait_until  # noqa: E402

TARGET = 3780.0
TLS_GOAL = 0.8

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
    """A 3-member etcd cluster; with `pki`, peer and client TLS from that CA."""

    def __init__(self, root: Path, pki: Pki | None = None, name: str = "etcd") -> None:
        self.root = root
        self.name = name
        self.pki = pki
        self.scheme = "https" if pki is not None else "http"
        self.client_port = free_port()
        self.peer_port = free_port()
        self.procs: list[subprocess.Popen[bytes]] = []
        self._ctx = ssl.create_default_context(cafile=str(pki.ca)) if pki is not None else None

    def start(self) -> None:
        sc = self.scheme
        cluster = ",".join(f"e{i}={sc}://{h}:{self.peer_port}" for i, h in enumerate(HOSTS))
        tls = etcd_tls_flags(self.pki) if self.pki is not None else []
        for i, h in enumerate(HOSTS):
            log = open(self.root / f"{self.name}{i}.log", "wb")
            self.procs.append(subprocess.Popen([
                "etcd", "--name", f"e{i}", "--data-dir", str(self.root / f"{self.name}{i}"),
                "--listen-client-urls", f"{sc}://{h}:{self.client_port}",
                "--advertise-client-urls", f"{sc}://{h}:{self.client_port}",
                "--listen-peer-urls", f"{sc}://{h}:{self.peer_port}",
                "--initial-advertise-peer-urls", f"{sc}://{h}:{self.peer_port}",
                "--initial-cluster", cluster, "--initial-cluster-state", "new",
                "--initial-cluster-token", self.name, *tls,
            ], stdout=log, stderr=subprocess.STDOUT))
        wait_until(self.leader, 30, f"{self.name} leader")

    def url(self, host: str, path: str) -> str:
        return f"{self.scheme}://{host}:{self.client_port}{path}"

    def _post(self, host: str, path: str, body: dict[str, Any]) -> Any:
        req = urllib.request.Request(self.url(host, path), json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=3, context=self._ctx) as r:
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


def tls_report(rounds: list[dict[str, Any]], med: Any) -> dict[str, Any]:
    """TLS on/off for each system from the same rounds; the per-round ratios are the least
    disturbed by other load (both sides of a round ran back to back)."""
    def per_round(a: str, b: str) -> list[float]:
        return [round(x[a]["writes_per_s"] / x[b]["writes_per_s"], 3) for x in rounds if x[b]["writes_per_s"]]

    out: dict[str, Any] = {}
    for system in ("pyconsul", "etcd"):
        on, off = med(f"{system}_tls", "writes_per_s"), med(system, "writes_per_s")
        ratios = per_round(f"{system}_tls", system)
        out[system] = {"writes_per_s": on, "p50_ms": med(f"{system}_tls", "p50_ms"),
                       "p99_ms": med(f"{system}_tls", "p99_ms"),
                       "tls_over_plain": round(on / off, 3) if off else None, "tls_over_plain_per_round": ratios,
                       "median_round_ratio": round(statistics.median(ratios), 3) if ratios else None}
    p, e = out["pyconsul"]["writes_per_s"], out["etcd"]["writes_per_s"]
    out["ratio"] = round(p / e, 3) if e else None
    out["goal_tls_over_plain"] = TLS_GOAL
    out["meets_goal"] = (out["pyconsul"]["tls_over_plain"] or 0) >= TLS_GOAL
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--value-size", type=int, default=128)
    ap.add_argument("--tls", action="store_true", help="also run both systems with TLS on every hop, side by side")
    args = ap.parse_args()
    for tool in ("wrk", "etcd"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (apt-get install wrk etcd-server)")
    root = Path(tempfile.mkdtemp(prefix="raft-bench-"))
    value = "v" * args.value_size
    root.chmod(0o755)
    clusters = {"pyconsul": Cluster(root / "pyconsul", extra=("-log-level", "warn"))}
    etcds = {"etcd": Etcd(root)}
    pki: Pki | None = None
    https_port = free_port()
    if args.tls:
        pki = make_pki(root / "pki", HOSTS)
        conf = cluster_tls_config(root / "cluster-tls.json", pki, https_port)
        clusters["pyconsul_tls"] = Cluster(root / "pyconsul-tls", extra=("-log-level", "warn", f"-config-file={conf}"))
        etcds["etcd_tls"] = Etcd(root, pki, name="etcd-tls")
    rounds: list[dict[str, Any]] = []
    e_body = json.dumps({"key": base64.b64encode(b"bench").decode(),
                         "value": base64.b64encode(value.encode()).decode()})
    try:
        targets: dict[str, tuple[str, str, str]] = {}  # name: url, method, body
        for name, cluster in clusters.items():
            cluster.start_all()
            leader = wait_until(cluster.leader, 30, f"{name} leader")
            base = f"https://{leader}:{https_port}" if name.endswith("_tls") else \
                f"http://{leader}:{cluster.agents[leader].http_port}"
            targets[name] = (f"{base}/v1/kv/bench", "PUT", value)
        for name, etcd in etcds.items():
            etcd.start()
            targets[name] = (etcd.url(etcd.leader(), "/v3/kv/put"), "POST", e_body)
        # Warm everything up (first connections, first log segment).
        for url, method, body in targets.values():
            run_wrk(url, method, body, 1, 8, root)
        for r in range(args.rounds):
            rounds.append({"round": r + 1, **{name: run_wrk(url, method, body, args.seconds, args.connections, root)
                                              for name, (url, method, body) in targets.items()}})
    finally:
        for cluster in clusters.values():
            cluster.stop_all()
        for etcd in etcds.values():
            etcd.stop()
        shutil.rmtree(root, ignore_errors=True)

    def med(who: str, key: str) -> float:
        return round(statistics.median(x[who][key] for x in rounds), 3)

    p_rate, e_rate = med("pyconsul", "writes_per_s"), med("etcd", "writes_per_s")
    extra: dict[str, Any] = {}
    if args.tls:
        extra["tls"] = tls_report(rounds, med)
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
        **extra,
        "rounds": rounds,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }, indent=2))


if __name__ == "__main__":
    main()
