"""Anti-entropy and checks at size: one client agent with 2,000 services and 5,000 HTTP checks.

    PYTHONPATH=$PWD python3 bench/agent_scale.py [--services 2000] [--checks 5000] [--interval 10]

A server and a client agent (own loopbacks, -log-json at debug level for the client). The client
gets `--services` services through /v1/agent/service/register, with `--checks` HTTP checks spread
over them (every `--interval`), all against a local nginx whose answer changes on every request
(`ok <time>`), so every run of every check changes its output but not its status. Then, over
`--duration` seconds, which include the client's periodic full sync (60 s + stagger after its
start), one JSON object:

- `lateness`: from nginx's access log (msec timestamps per check URL): each run's start against
  its check's own grid (due = first run + k * interval, the phase taken as the earliest); goal:
  max < 1 s.
- `output_rate_limit`: catalog writes per second seen at the server's Raft commit index in the
  window, next to the rate without a limit (checks / interval) and Consul's limit with
  check_update_interval (checks / check_update_interval): output-only changes must not be
  synced more often than once per check_update_interval.
- `full_sync`: the client's periodic full syncs in the window (its own log line: writes, seconds,
  services and checks compared); goal: 0 writes when nothing but deferred output changed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.agents import AgentProcess, start_agent  # noqa: E402
from tests.support.ports import free_port, loopback  # noqa: E402

NGINX = """\
worker_processes 1;
daemon off;
pid {p}/nginx.pid;
error_log {p}/error.log warn;
worker_rlimit_nofile 65536;
events {{ worker_connections 16384; }}
http {{
    log_format t '$msec $uri';
    access_log {p}/access.log t buffer=64k flush=1s;
    client_body_temp_path {p}/tmp;
    proxy_temp_path {p}/tmp;
    fastcgi_temp_path {p}/tmp;
    uwsgi_temp_path {p}/tmp;
    scgi_temp_path {p}/tmp;
    server {{
        listen {host}:{port} backlog=4096;
        location / {{ default_type text/plain; return 200 "ok $msec"; }}
    }}
}}
"""


def start_nginx(prefix: Path, host: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    (prefix / "tmp").mkdir(parents=True)
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX.format(p=prefix, host=host, port=port))
    proc = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(prefix)], stdout=subprocess.DEVNULL,
                            stderr=open(prefix / "stderr.log", "wb"))
    deadline = time.monotonic() + 10
    while True:
        try:
            c = http.client.HTTPConnection(host, port, timeout=2)
            c.request("GET", "/ready")
            if c.getresponse().status == 200:
                return proc, port
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"nginx did not start: {(prefix / 'error.log').read_text(errors='replace')}")
        time.sleep(0.05)


def commit_index(a: AgentProcess) -> int:
    stats = a.get_json("/v1/agent/self")["Stats"]["raft"]
    return int(stats["commit_index"])


def lateness(access_log: Path, since: float, until: float, interval: float) -> dict[str, Any]:
    runs: dict[str, list[float]] = {}
    for line in access_log.read_text(errors="replace").splitlines():
        parts = line.split()
        if len(parts) != 2 or not parts[1].startswith("/c/"):
            continue
        t = float(parts[0])
        if since <= t <= until:
            runs.setdefault(parts[1], []).append(t)
    late: list[float] = []
    for ts in runs.values():
        ts.sort()
        first = ts[0]
        offsets = [t - (first + round((t - first) / interval) * interval) for t in ts]
        phase = min(offsets)
        late.extend(o - phase for o in offsets)
    late.sort()
    if not late:
        return {"runs": 0}
    return {"checks_seen": len(runs), "runs": len(late), "p50_s": round(late[len(late) // 2], 3),
            "p99_s": round(late[min(len(late) - 1, int(len(late) * 0.99))], 3), "max_s": round(late[-1], 3),
            "runs_over_1s": sum(1 for x in late if x > 1.0), "goal_max_s": 1.0, "meets_goal": late[-1] < 1.0}


def full_syncs(log: str) -> list[dict[str, Any]]:
    out = []
    for line in log.splitlines():
        if "anti-entropy: full sync done" not in line:
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        out.append({k: doc.get(k) for k in ("@timestamp", "writes", "seconds", "services", "checks")})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--services", type=int, default=2000)
    ap.add_argument("--checks", type=int, default=5000)
    ap.add_argument("--interval", type=float, default=10.0, help="check interval (s)")
    ap.add_argument("--check-update-interval", type=float, default=300.0)
    ap.add_argument("--duration", type=float, default=0.0,
                    help="measured seconds (default: until the client's first periodic full sync + 10 s)")
    args = ap.parse_args()
    if shutil.which("nginx") is None:
        sys.exit("nginx is not installed")
    work = Path(tempfile.mkdtemp(prefix="pyconsul-bench-agent-scale-"))
    server: AgentProcess | None = None
    client: AgentProcess | None = None
    nginx: subprocess.Popen[bytes] | None = None
    out: dict[str, Any] = {"benchmark": "agent_scale", "services": args.services, "checks": args.checks,
                           "interval_s": args.interval, "check_update_interval_s": args.check_update_interval,
                           "loadavg_1m_start": round(os.getloadavg()[0], 2)}
    try:
        nginx, nport = start_nginx(work / "nginx", loopback(3))
        serf = free_port()
        server = start_agent(work, "-server", "-bootstrap", "-data-dir", str(work / "srv"), host=loopback(1),
                             dev=False, name="srv", ports={"serf_lan": serf})
        client = start_agent(work, "-data-dir", str(work / "client"), "-retry-join", f"{loopback(1)}:{serf}",
                             "-log-level", "debug", "-log-json",
                             "-hcl", f'check_update_interval = "{int(args.check_update_interval)}s"',
                             host=loopback(2), dev=False, name="client")
        conn = http.client.HTTPConnection(client.host, client.http_port, timeout=60)
        per = [args.checks // args.services + (1 if i < args.checks % args.services else 0)
               for i in range(args.services)]
        t0 = time.monotonic()
        retries = 0
        for i, n in enumerate(per):
            body = {"ID": f"svc-{i:04d}", "Name": f"svc-{i % 200:03d}", "Port": 9000 + i % 1000, "Tags": ["v1"],
                    "Checks": [{"CheckID": f"svc-{i:04d}:{k}", "Name": f"http {k}",
                                "HTTP": f"http://{loopback(3)}:{nport}/c/{i}/{k}",
                                "Interval": f"{args.interval}s", "Timeout": "5s"} for k in range(n)]}
            for _attempt in range(6):
                conn.request("PUT", "/v1/agent/service/register", json.dumps(body))
                r = conn.getresponse()
                reply = r.read()
                if r.status != 500 or b"failed to reach any Consul server" not in reply:
                    break
                retries += 1  # the client's forward to the server dropped (see the report)
                time.sleep(0.5)
            if r.status != 200:
                raise RuntimeError(f"register svc-{i}: {r.status} {reply[:300]!r}\n{client.log()[-3000:]}")
        out["register_seconds"] = round(time.monotonic() - t0, 1)
        out["register_retries_forward_dropped"] = retries
        # First runs are staggered over one interval, and each first output goes out at once.
        time.sleep(args.interval * 1.5)
        start_wall, start_idx, start_m = time.time(), commit_index(server), time.monotonic()
        if args.duration:
            time.sleep(args.duration)
        else:  # until a periodic full sync (60 s + up to 1/16 apart) compared everything, + 5 s
            seen = len(full_syncs(client.log()))
            deadline = time.monotonic() + 150
            while time.monotonic() < deadline:
                new = full_syncs(client.log())[seen:]
                if any((s.get("services") or 0) >= args.services for s in new):
                    break
                time.sleep(1)
            time.sleep(5)
        end_wall, end_idx, end_m = time.time(), commit_index(server), time.monotonic()
        time.sleep(1.5)  # nginx flushes its log every second
        elapsed = end_m - start_m
        out["window_s"] = round(elapsed, 1)
        out["lateness"] = lateness(work / "nginx" / "access.log", start_wall + args.interval, end_wall,
                                   args.interval)
        writes_per_s = (end_idx - start_idx) / elapsed
        out["output_rate_limit"] = {
            "raft_writes_per_s": round(writes_per_s, 1),
            "without_limit_per_s": round(args.checks / args.interval, 1),
            "consul_limit_per_s": round(args.checks / args.check_update_interval, 1),
            # coordinates and the like write too; the check outputs must stay near the limit
            "within_limit": writes_per_s <= args.checks / args.check_update_interval * 1.5 + 2,
        }
        syncs = full_syncs(client.log())
        periodic = [s for s in syncs if (s.get("services") or 0) >= args.services]
        out["full_sync"] = {"periodic_syncs_seen": periodic, "all_syncs": len(syncs),
                            "goal_writes": 0, "meets_goal": bool(periodic) and all(s["writes"] == 0 for s in periodic)}
        out["rss_mib_client"] = round(int(next(ln for ln in Path(f"/proc/{client.proc.pid}/status").read_text()
                                                .splitlines() if ln.startswith("VmRSS:")).split()[1]) / 1024, 1)
        out["loadavg_1m_end"] = round(os.getloadavg()[0], 2)
        print(json.dumps(out, indent=2))
    finally:
        if client is not None:
            client.stop()
        if server is not None:
            server.stop()
        if nginx is not None:
            nginx.terminate()
            nginx.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
