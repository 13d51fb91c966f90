"""How late do checks start when one process runs 5,000 HTTP checks every 10 s?

Goal (issue 3): no check more than 1 s late. The checks hit a local nginx (an aiohttp server in a
child process when nginx is missing), so the measured process does only what an agent does: run the
scheduler and its HTTP client. Lateness = actual start - due time, measured on every run after
the first full interval (the warm-up, while the staggered first runs spread out). Prints JSON.

    python bench/check_scheduler.py [--checks 5000] [--interval 10] [--duration 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyconsul.checks import CheckScheduler  # noqa: E402
from pyconsul.loop import loop_name, run  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_target(tmp: Path) -> tuple[int, subprocess.Popen[bytes] | None, list[str] | None, str]:
    port = free_port()
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx:
        (tmp / "logs").mkdir()
        conf = tmp / "nginx.conf"
        conf.write_text(
            f"""user root;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/logs/error.log;
daemon on;
worker_rlimit_nofile 65536;
events {{ worker_connections 16384; }}
http {{
  access_log off;
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    location / {{ return 200 "ok"; }}
  }}
}}
"""
        )
        subprocess.run([nginx, "-c", str(conf), "-p", str(tmp)], check=True)
        stop = [nginx, "-c", str(conf), "-p", str(tmp), "-s", "stop"]
        proc, kind = None, "nginx"
    else:
        code = (
            "from aiohttp import web\n"
            "app = web.Application()\n"
            "app.router.add_get('/{t:.*}', lambda r: web.Response(text='ok'))\n"
            f"web.run_app(app, host='127.0.0.1', port={port}, access_log=None, print=None)\n"
        )
        proc = subprocess.Popen([sys.executable, "-c", code])
        stop, kind = None, "aiohttp"
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    return port, proc, stop, kind


class Counter:
    def __init__(self) -> None:
        self.results = 0
        self.not_passing = 0
        self.sample_output = ""

    def update_check(self, check_id: str, status: str, output: str) -> None:
        self.results += 1
        if status != "passing":
            self.not_passing += 1
            self.sample_output = output

    def critical_too_long(self, check_id: str) -> None:
        pass


async def bench(port: int, checks: int, interval: float, duration: float) -> dict[str, object]:
    notifier = Counter()
    sched = CheckScheduler(notifier, record_lateness=True)
    for i in range(checks):
        sched.add({"CheckID": f"c{i}", "HTTP": f"http://127.0.0.1:{port}/health/{i}", "Interval": f"{interval}s",
                   "Timeout": "5s"})
    cpu0 = time.process_time()
    await sched.start()
    await asyncio.sleep(interval)  # warm-up: every check has had its staggered first run
    sched.max_lateness, sched.late_runs, sched.total_runs, sched.skipped_runs = 0.0, 0, 0, 0
    assert sched.lateness_samples is not None
    sched.lateness_samples.clear()
    results0, failures0 = notifier.results, notifier.not_passing
    t0, cpu1 = time.monotonic(), time.process_time()
    await asyncio.sleep(duration)
    elapsed, cpu = time.monotonic() - t0, time.process_time() - cpu1
    samples = sorted(sched.lateness_samples)
    await sched.stop()

    def pct(p: float) -> float:
        return round(samples[min(len(samples) - 1, int(p * len(samples)))], 4) if samples else 0.0

    return {
        "max_lateness_s": round(sched.max_lateness, 4),
        "p50_lateness_s": pct(0.50),
        "p99_lateness_s": pct(0.99),
        "runs_late_over_1s": sched.late_runs,
        "runs": sched.total_runs,
        "runs_expected": int(checks * duration / interval),
        "skipped_overlapping_runs": sched.skipped_runs,
        "results": notifier.results - results0,
        "not_passing_results": notifier.not_passing - failures0,
        "sample_failure_output": notifier.sample_output[:200],
        "checks_per_second": round((notifier.results - results0) / elapsed, 1),
        "cpu_fraction_of_one_core": round(cpu / elapsed, 3),
        "warmup_cpu_s": round(cpu1 - cpu0, 2),
        "cpu_before_start_s": round(cpu0, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--checks", type=int, default=5000)
    ap.add_argument("--interval", type=float, default=10.0)
    ap.add_argument("--duration", type=float, default=60.0, help="measured seconds after a one-interval warm-up")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    with tempfile.TemporaryDirectory() as tmp:
        port, proc, stop, kind = start_target(Path(tmp))
        try:
            result = run(bench(port, args.checks, args.interval, args.duration))
        finally:
            if stop:
                subprocess.run(stop, capture_output=True)
            if proc is not None:
                proc.terminate()
                proc.wait(10)
    out = {
        "bench": "check_scheduler",
        "checks": args.checks,
        "interval_s": args.interval,
        "measured_s": args.duration,
        "target": kind,
        "loop": loop_name(),
        "cpus": os.cpu_count(),
        "goal": "no check starts more than 1 s late",
        "goal_met": result["runs_late_over_1s"] == 0 and result["skipped_overlapping_runs"] == 0,
        **result,
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
