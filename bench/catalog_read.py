"""Hot catalog read: `GET /v1/health/service/web?passing` from pyconsul next to nginx serving the same bytes.

Starts a dev agent (free ports), registers `--instances` instances of `web` through
/v1/catalog/register (one node each, a passing service check), fetches the exact response body of
`/v1/health/service/web?passing`, and writes it as a static file that a private nginx (own prefix,
free high port, one worker) serves at the same path. Then runs wrk (same threads, connections and
duration) against each, alternating for `--rounds` rounds so a change in machine load hits both
alike, and prints one JSON object with the median requests/s and latency p50/p99 of each and the
pyconsul/nginx ratio (plus every round). By default each server is pinned to CPU 0 and wrk to the
last CPU, so the two servers get the same single core. Everything started here is stopped before
exiting.

With `--tls` the agent also serves HTTPS and nginx also listens with `ssl` (the same worker on
the same pinned core, the same EC P-256 certificate and key for both, TLS 1.2/1.3, no session
reuse), and every round measures all four — pyconsul and nginx, plain and HTTPS, over keep-alive
connections — so TLS on/off and pyconsul/nginx are side by side in one run. The `https` object
holds the HTTPS figures, their ratio (the goal: >= 0.5) and each server's HTTPS/plain ratio.

    python bench/catalog_read.py [--seconds 5] [--rounds 3] [--connections 64] [--threads 1] [--instances 50] [--tls]
                                 [--acl]

With `--acl` a second agent runs with ACLs on (default deny) and is read with a token holding
`service_prefix "" { policy = "read" }` (and node_prefix read, so the reply has the same bytes);
the JSON adds its figures and the ACLs-on / ACLs-off ratio (goal ACL_GOAL).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
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

from bench._tls import Pki, https_config, make_pki, nginx_ssl_lines  # noqa: E402
from tests.support.agents import AgentProcess, start_agent  # noqa: E402
from tests.support.ports import free_port  # noqa: E402

PATH = "/v1/health/service/web?passing"
REQUIRED, GOAL = 0.2, 0.5
HTTPS_GOAL = 0.5
ACL_GOAL = 0.9
ACL_ROOT = "3f8a2c6e-9b1d-4e7f-a0c5-7d8e9f0a1b2c"
ACL_RULES = 'service_prefix "" { policy = "read" }\nnode_prefix "" { policy = "read" }'


def register_instances(agent: AgentProcess, n: int, headers: dict[str, str] | None = None) -> None:
    for i in range(n):
        node = f"web-node-{i:03d}"
        body = {
            "Datacenter": "dc1",
            "Node": node,
            "ID": f"5c0b2f6e-0000-4000-8000-{i:012d}",
            "Address": f"10.0.{i // 250}.{i % 250 + 1}",
            "TaggedAddresses": {"lan": f"10.0.{i // 250}.{i % 250 + 1}"},
            "NodeMeta": {"rack": f"r{i % 4}"},
            "Service": {
                "ID": f"web-{i}", "Service": "web", "Tags": ["primary", "v1"], "Port": 8080,
                "Address": f"10.0.{i // 250}.{i % 250 + 1}", "Meta": {"version": "1.0"},
            },
            "Check": {
                "Node": node, "CheckID": f"service:web-{i}", "Name": "web HTTP",
                "Status": "passing", "ServiceID": f"web-{i}", "Output": "HTTP GET: 200 OK",
            },
        }
        status, _, reply = agent.request("PUT", "/v1/catalog/register", body, headers=headers)
        if status != 200:
            raise RuntimeError(f"register {node}: {status} {reply[:200]!r}")


def fetch(url: str, ctx: ssl.SSLContext | None = None) -> tuple[int, bytes, str]:
    with urllib.request.urlopen(url, timeout=10, context=ctx) as resp:
        return resp.status, resp.read(), resp.headers.get("Content-Type", "")


NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; multi_accept on; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 65;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    types {{ }}
    default_type application/json;
    server {{
        listen 127.0.0.1:{port};
        {https}
        root {prefix}/html;
    }}
}}
"""


def start_nginx(prefix: Path, body: bytes, cpu: int | None,
                pki: Pki | None = None) -> tuple[subprocess.Popen[bytes], int, int | None]:
    """nginx on its own prefix and a free port, serving `body` at the benchmarked path; with
    `pki` the same server block also listens for HTTPS on a second port."""
    port = free_port()
    tls_port = free_port() if pki is not None else None
    https = f"listen 127.0.0.1:{tls_port} ssl; {nginx_ssl_lines(pki)}" if pki is not None else ""
    doc = prefix / "html" / PATH.split("?")[0].lstrip("/")
    doc.parent.mkdir(parents=True)
    doc.write_bytes(body)
    (prefix / "tmp").mkdir()
    for d in [prefix.parent, prefix, *prefix.rglob("*")]:  # workers may run as an unprivileged user
        d.chmod(0o755 if d.is_dir() else 0o644)
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(prefix=prefix, port=port, https=https))
    cmd = ["nginx", "-c", str(conf), "-p", str(prefix)]
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu), *cmd]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(prefix / "stderr.log", "wb"))
    deadline = time.monotonic() + 10
    while True:
        try:
            status, got, _ = fetch(f"http://127.0.0.1:{port}{PATH}")
            if status == 200 and got == body:
                return proc, port, tls_port
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            log = (prefix / "error.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"nginx did not serve the body on port {port}:\n{log}")
        time.sleep(0.05)


def pin(pid: int, cpu: int) -> None:
    """Pin every thread of a running process to one CPU."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            os.sched_setaffinity(int(task.name), {cpu})
        except OSError:
            pass


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        raise ValueError(f"unreadable wrk duration {text!r}")
    return round(float(m.group(1)) * _UNITS[m.group(2)], 3)


def parse_wrk(out: str) -> dict[str, Any]:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    total = re.search(r"(\d+) requests in", out)
    if not (rps and p50 and p99 and total):
        raise RuntimeError(f"unreadable wrk output:\n{out}")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: (.*)", out)
    return {
        "requests_per_sec": round(float(rps.group(1))),
        "p50_ms": _ms(p50.group(1)),
        "p99_ms": _ms(p99.group(1)),
        "requests": int(total.group(1)),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sock.group(1).strip() if sock else "",
    }


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time of these processes (all their threads) so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICK


def server_pids(proc: subprocess.Popen[bytes]) -> list[int]:
    """The process and its children (nginx's worker does the serving, not its master)."""
    pids = [proc.pid]
    for task in Path(f"/proc/{proc.pid}/task").iterdir():
        try:
            pids += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return pids


def _sans_indexes(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sans_indexes(v) for k, v in value.items() if k not in ("CreateIndex", "ModifyIndex")}
    if isinstance(value, list):
        return [_sans_indexes(v) for v in value]
    return value


def start_acl_agent(work: Path) -> tuple[AgentProcess, str]:
    """A default-deny agent and the secret of a token that may read every service and node."""
    work.mkdir(parents=True)
    conf = work / "acl.hcl"
    conf.write_text(f'acl {{\n enabled = true\n default_policy = "deny"\n tokens {{ initial_management = "{ACL_ROOT}" }}\n}}\n')
    agent = start_agent(work, f"-config-file={conf}", name="bench-acl")
    headers = {"X-Consul-Token": ACL_ROOT}
    status, _, reply = agent.request("PUT", "/v1/acl/policy", {"Name": "read-catalog", "Rules": ACL_RULES},
                                     headers=headers)
    if status != 200:
        raise RuntimeError(f"policy: {status} {reply[:200]!r}")
    status, _, reply = agent.request("PUT", "/v1/acl/token", {"Policies": [{"Name": "read-catalog"}]},
                                     headers=headers)
    if status != 200:
        raise RuntimeError(f"token: {status} {reply[:200]!r}")
    return agent, json.loads(reply)["SecretID"]


def run_wrk(url: str, seconds: int, threads: int, connections: int, cpu: int | None,
            server: subprocess.Popen[bytes] | None = None, token: str = "") -> dict[str, Any]:
    """wrk's figures and, given the server's process, the server CPU time per request: wrk on
    one core may saturate before the server does (TLS decryption costs the client too), and
    CPU per request compares servers whichever side is the bottleneck."""
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if token:
        cmd[1:1] = ["-H", f"X-Consul-Token: {token}"]
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu), *cmd]
    pids = server_pids(server) if server is not None else []
    before = cpu_seconds(pids)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}{done.stderr}")
    out = parse_wrk(done.stdout)
    if pids:
        used = cpu_seconds(pids) - before
        out["server_cpu_share"] = round(used / seconds, 2)
        out["server_cpu_us_per_request"] = round(used * 1e6 / max(out["requests"], 1), 1)
    return out


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of each figure over the rounds; errors are summed."""
    def median(key: str) -> Any:
        return statistics.median(r[key] for r in runs)
    return {
        "requests_per_sec": round(median("requests_per_sec")),
        "p50_ms": median("p50_ms"),
        "p99_ms": median("p99_ms"),
        "requests": sum(r["requests"] for r in runs),
        "non_2xx": sum(r["non_2xx"] for r in runs),
        "socket_errors": "; ".join(r["socket_errors"] for r in runs if r["socket_errors"]),
        **({"server_cpu_share": median("server_cpu_share"),
            "server_cpu_us_per_request": median("server_cpu_us_per_request")}
           if all("server_cpu_us_per_request" in r for r in runs) else {}),
    }


def https_report(results: dict[str, Any], rounds: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The HTTPS figures next to the plain ones: pyconsul/nginx over HTTPS, and each server's
    HTTPS/plain ratio (what TLS costs it), all from the same rounds."""
    def rps(name: str) -> int:
        return int(results[name]["requests_per_sec"])

    per_round = [round(p["requests_per_sec"] / max(n["requests_per_sec"], 1), 3)
                 for p, n in zip(rounds["pyconsul_https"], rounds["nginx_https"], strict=True)]
    ratio = rps("pyconsul_https") / max(rps("nginx_https"), 1)
    cpu = {n: results[n].get("server_cpu_us_per_request") for n in ("pyconsul_https", "nginx_https")}
    return {
        "pyconsul": results["pyconsul_https"],
        "nginx": results["nginx_https"],
        "ratio_rps": round(ratio, 3),
        "per_round_ratio": per_round,
        "median_round_ratio": round(statistics.median(per_round), 3),
        "goal_ratio": HTTPS_GOAL,
        "meets_goal": ratio >= HTTPS_GOAL,
        # requests per server CPU second, pyconsul/nginx: the ratio on one saturated core
        "cpu_ratio": round(cpu["nginx_https"] / cpu["pyconsul_https"], 3)
        if cpu["nginx_https"] and cpu["pyconsul_https"] else None,
        "tls_over_plain": {"pyconsul": round(rps("pyconsul_https") / max(rps("pyconsul"), 1), 3),
                           "nginx": round(rps("nginx_https") / max(rps("nginx"), 1), 3)},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=5, help="wrk duration per server and round (whole seconds)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--instances", type=int, default=50)
    ap.add_argument("--no-pin", action="store_true", help="do not pin the servers and wrk to CPUs")
    ap.add_argument("--tls", action="store_true", help="also measure both servers over HTTPS, side by side")
    ap.add_argument("--acl", action="store_true", help="also read an ACLs-on agent with a read token")
    args = ap.parse_args()
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (apt-get install -y {tool})")
    ncpu = len(os.sched_getaffinity(0))
    server_cpu, wrk_cpu = (None, None) if args.no_pin or ncpu < 2 or not shutil.which("taskset") else (0, ncpu - 1)

    work = Path(tempfile.mkdtemp(prefix="pyconsul-bench-catalog-"))
    agent: AgentProcess | None = None
    acl_agent: AgentProcess | None = None
    nginx: subprocess.Popen[bytes] | None = None
    tokens: dict[str, str] = {}
    try:
        pki = make_pki(work / "pki") if args.tls else None
        agent_https = free_port() if pki is not None else None
        extra = [f"-config-file={https_config(work / 'https.json', pki, agent_https)}"] \
            if pki is not None and agent_https is not None else []
        agent = start_agent(work / "agent", *extra)
        if server_cpu is not None:
            pin(agent.proc.pid, server_cpu)
        register_instances(agent, args.instances)
        status, body, ctype = fetch(agent.base_url + PATH)
        entries = json.loads(body)
        if status != 200 or len(entries) != args.instances:
            raise RuntimeError(f"expected {args.instances} passing instances, got {status} {len(entries)}")
        nginx, nginx_port, nginx_tls = start_nginx(work / "nginx", body, server_cpu, pki)
        targets = {"pyconsul": agent.base_url + PATH, "nginx": f"http://127.0.0.1:{nginx_port}{PATH}"}
        if pki is not None:
            targets["pyconsul_https"] = f"https://{agent.host}:{agent_https}{PATH}"
            targets["nginx_https"] = f"https://127.0.0.1:{nginx_tls}{PATH}"
            tls_ctx = ssl.create_default_context(cafile=str(pki.ca))
            for name in ("pyconsul_https", "nginx_https"):  # the same bytes over TLS
                got = fetch(targets[name], tls_ctx)[1]
                if got != body:
                    raise RuntimeError(f"{name} served other bytes over HTTPS")
        if args.acl:
            acl_agent, tokens["pyconsul_acl"] = start_acl_agent(work / "acl-agent")
            if server_cpu is not None:
                pin(acl_agent.proc.pid, server_cpu)
            register_instances(acl_agent, args.instances, {"X-Consul-Token": ACL_ROOT})
            req = urllib.request.Request(acl_agent.base_url + PATH, headers={"X-Consul-Token": tokens["pyconsul_acl"]})
            with urllib.request.urlopen(req, timeout=10) as resp:
                acl_body = resp.read()
            if len(json.loads(acl_body)) != args.instances:
                raise RuntimeError("the ACL agent's token does not read every instance")
            # right after the ACLs-off agent in each round, so the pair meets the same machine load
            targets = {"pyconsul": targets["pyconsul"], "pyconsul_acl": acl_agent.base_url + PATH,
                       **{k: v for k, v in targets.items() if k != "pyconsul"}}
        load_before = os.getloadavg()[0]
        if args.warmup > 0:
            for name, url in targets.items():
                run_wrk(url, args.warmup, args.threads, args.connections, wrk_cpu, token=tokens.get(name, ""))
        rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
        procs = {name: (acl_agent.proc if name == "pyconsul_acl" and acl_agent is not None else agent.proc)
                 if name.startswith("pyconsul") else nginx for name in targets}
        for _ in range(max(args.rounds, 1)):
            for name, url in targets.items():
                rounds[name].append(run_wrk(url, args.seconds, args.threads, args.connections, wrk_cpu,
                                            procs[name], tokens.get(name, "")))
        results = {name: summarize(runs) for name, runs in rounds.items()}
        # the agent must still answer the same bytes after the load (no stale or broken cache)
        after = fetch(agent.base_url + PATH)[1]
        ratio = results["pyconsul"]["requests_per_sec"] / max(results["nginx"]["requests_per_sec"], 1)
        pair_ratios = [round(p["requests_per_sec"] / max(n["requests_per_sec"], 1), 3)
                       for p, n in zip(rounds["pyconsul"], rounds["nginx"], strict=True)]
        acl_report: dict[str, Any] = {}
        if args.acl:
            acl_ratio = results["pyconsul_acl"]["requests_per_sec"] / max(results["pyconsul"]["requests_per_sec"], 1)
            acl_pairs = [round(a["requests_per_sec"] / max(p["requests_per_sec"], 1), 3)
                         for a, p in zip(rounds["pyconsul_acl"], rounds["pyconsul"], strict=True)]
            acl_report = {
                "pyconsul_acl": results["pyconsul_acl"],
                "acl_token_rules": ACL_RULES,
                "ratio_acl_vs_off": round(acl_ratio, 3),
                "ratio_acl_vs_nginx": round(results["pyconsul_acl"]["requests_per_sec"]
                                            / max(results["nginx"]["requests_per_sec"], 1), 3),
                "per_round_ratio_acl_vs_off": acl_pairs,
                "median_round_ratio_acl_vs_off": round(statistics.median(acl_pairs), 3),
                "acl_goal_ratio": ACL_GOAL,
                "meets_acl_goal": statistics.median(acl_pairs) >= ACL_GOAL,
                # the same entries (their Raft indexes differ: the ACL agent wrote its policy first)
                "acl_same_entries": _sans_indexes(json.loads(acl_body)) == _sans_indexes(entries),
            }
        report: dict[str, Any] = {}
        if pki is not None:
            report["https"] = https_report(results, rounds)
        print(json.dumps({
            "benchmark": "catalog_read",
            "path": PATH,
            "instances": args.instances,
            "body_bytes": len(body),
            "content_type": ctype,
            "seconds_per_round": args.seconds,
            "rounds": args.rounds,
            "threads": args.threads,
            "connections": args.connections,
            "pinned": server_cpu is not None,
            "pyconsul": results["pyconsul"],
            "nginx": results["nginx"],
            "ratio_rps": round(ratio, 3),
            "ratio_p99": round(results["pyconsul"]["p99_ms"] / max(results["nginx"]["p99_ms"], 1e-3), 2),
            "required_ratio": REQUIRED,
            "goal_ratio": GOAL,
            "meets_required": ratio >= REQUIRED,
            "meets_goal": ratio >= GOAL,
            "same_bytes_after_load": after == body,
            "loadavg_1m_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "per_round_rps": {name: [r["requests_per_sec"] for r in runs] for name, runs in rounds.items()},
            # each round's pair ran back to back, so its ratio is the least disturbed by other load
            "per_round_ratio": pair_ratios,
            "median_round_ratio": round(statistics.median(pair_ratios), 3),
            **report,
            **acl_report,
        }, indent=2))
    finally:
        if nginx is not None:
            stop(nginx)
        if agent is not None:
            agent.stop()
        if acl_agent is not None:
            acl_agent.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
