"""TLS cost, measured in one run: HTTPS of a pyconsul agent next to nginx with the same
certificate, and Raft writes over a TLS server port next to a plaintext one.

1. HTTPS: a `-dev` agent serving HTTPS with a server certificate from `pyconsul tls`-style
   certificates (EC P-256), and a private nginx with the same certificate and key answering
   `GET /v1/status/leader` with the agent's own bytes. wrk measures, alternating rounds:
   - requests/s over keep-alive connections (one handshake per connection, then requests);
   - handshakes/s: `Connection: close` on every request, so each request is a new TCP and TLS
     handshake (wrk does not resume sessions).
   Each is printed for both servers and as the pyconsul/nginx ratio.
2. Raft: two 3-server clusters on the loopback block, one plaintext and one with
   verify_incoming, verify_outgoing and verify_server_hostname (Raft, replication and forwarded
   requests over mutually authenticated TLS on the server port). wrk PUTs one key on each
   leader's plain HTTP API, alternating rounds; printed as writes/s and the TLS/plain ratio
   (the issue's goal: >= 0.8).

    python bench/tls_handshake.py [--seconds 3] [--rounds 3] [--connections 32]

Prints one JSON object. Everything started is stopped on exit.
"""

from __future__ import annotations

import argparse
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

from bench._tls import Pki, cluster_tls_config, https_config, make_pki, nginx_ssl_lines  # noqa: E402
from tests.raft.procs import Cluster  # noqa: E402
from tests.support.agents import AgentProcess, start_agent  # noqa: E402
from tests.support.ports import free_port  # noqa: E402
from tests.support.wait import wait_until  # noqa: E402

PATH = "/v1/status/leader"

NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; multi_accept on; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 65;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        {ssl}
        location = {path} {{ default_type application/json; return 200 '{body}'; }}
    }}
}}
"""


def start_nginx(prefix: Path, pki: Pki, body: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    (prefix / "tmp").mkdir(parents=True)
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(prefix=prefix, port=port, ssl=nginx_ssl_lines(pki), path=PATH, body=body))
    proc = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(prefix)], stdout=subprocess.DEVNULL,
                            stderr=open(prefix / "stderr.log", "wb"))
    return proc, port


def _wrk(url: str, seconds: int, connections: int, script: Path) -> dict[str, float]:
    out = subprocess.run(["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency",
                          "-s", str(script), url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {"per_s": rps, "p99_ms": _p99(out),
            "errors": float(sum(int(g) for g in errors.groups()) if errors else 0) + float(
                non2xx.group(1) if non2xx else 0)}


def _p99(out: str) -> float:
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    if not m:
        return float("nan")
    v, unit = float(m.group(1)), m.group(2)
    return round(v / 1000 if unit == "us" else v * 1000 if unit == "s" else v, 3)


def wrk_https(url: str, seconds: int, connections: int, workdir: Path, close: bool) -> dict[str, float]:
    """wrk GETs; with `close` every request opens a new connection (a full handshake)."""
    script = workdir / ("close.lua" if close else "keepalive.lua")
    script.write_text('wrk.headers["Connection"] = "close"\n' if close else "")
    return _wrk(url, seconds, connections, script)


def wrk_put(url: str, value: str, seconds: int, connections: int, workdir: Path) -> dict[str, float]:
    script = workdir / "put.lua"
    script.write_text(f'wrk.method = "PUT"\nwrk.body = "{value}"\n')
    return _wrk(url, seconds, connections, script)


def https_agent(root: Path, pki: Pki) -> tuple[AgentProcess, int]:
    https = free_port()
    return start_agent(root / "agent", f"-config-file={https_config(root / 'tls.json', pki, https)}"), https


def tls_cluster_flags(root: Path, pki: Pki) -> tuple[str, ...]:
    return ("-log-level", "warn", f"-config-file={cluster_tls_config(root / 'raft-tls.json', pki)}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--value-size", type=int, default=128)
    args = ap.parse_args()
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (apt-get install wrk nginx)")
    root = Path(tempfile.mkdtemp(prefix="tls-bench-"))
    root.chmod(0o755)  # nginx workers may run unprivileged
    pki = make_pki(root / "pki")
    https_rounds: list[dict[str, Any]] = []
    raft_rounds: list[dict[str, Any]] = []
    agent: AgentProcess | None = None
    nginx: subprocess.Popen[bytes] | None = None
    clusters: dict[str, Cluster] = {}
    try:
        agent, https = https_agent(root, pki)
        body = json.loads(agent.request("GET", PATH)[2])
        nginx, nginx_port = start_nginx(root / "nginx", pki, json.dumps(body))
        urls = {"pyconsul": f"https://127.0.0.1:{https}{PATH}", "nginx": f"https://127.0.0.1:{nginx_port}{PATH}"}
        import ssl

        ctx = ssl.create_default_context(cafile=str(pki.ca))
        wait_until(lambda: urllib.request.urlopen(urls["nginx"], context=ctx, timeout=3).status == 200, 10,
                   "nginx over TLS")
        for url in urls.values():  # warm up
            wrk_https(url, 1, 4, root, close=False)
        for r in range(args.rounds):
            row: dict[str, Any] = {"round": r + 1}
            for who, url in urls.items():
                row[who] = {"requests_per_s": wrk_https(url, args.seconds, args.connections, root, close=False),
                            "handshakes_per_s": wrk_https(url, args.seconds, args.connections, root, close=True)}
            https_rounds.append(row)
        agent.stop()
        agent = None
        nginx.terminate()
        nginx.wait(10)
        nginx = None

        clusters = {"plain": Cluster(root / "plain", extra=("-log-level", "warn")),
                    "tls": Cluster(root / "tls", extra=tls_cluster_flags(root, pki))}
        leaders: dict[str, str] = {}
        for name, cluster in clusters.items():
            cluster.start_all()
            leader = wait_until(cluster.leader, 30, f"{name} leader")
            leaders[name] = f"http://{leader}:{cluster.agents[leader].http_port}/v1/kv/bench"
        value = "v" * args.value_size
        for url in leaders.values():
            wrk_put(url, value, 1, 8, root)
        for r in range(args.rounds):
            raft_rounds.append({"round": r + 1, **{name: wrk_put(url, value, args.seconds, args.connections, root)
                                                   for name, url in leaders.items()}})
    finally:
        if agent is not None:
            agent.stop()
        if nginx is not None:
            nginx.terminate()
            nginx.wait(10)
        for cluster in clusters.values():
            cluster.stop_all()
        shutil.rmtree(root, ignore_errors=True)

    def med(rows: list[dict[str, Any]], *keys: str) -> float:
        def dig(row: dict[str, Any]) -> float:
            v: Any = row
            for k in keys:
                v = v[k]
            return float(v)

        return round(statistics.median(dig(row) for row in rows), 1)

    def ratio(a: float, b: float) -> float | None:
        return round(a / b, 3) if b else None

    rq = {w: med(https_rounds, w, "requests_per_s", "per_s") for w in ("pyconsul", "nginx")}
    hs = {w: med(https_rounds, w, "handshakes_per_s", "per_s") for w in ("pyconsul", "nginx")}
    raft = {n: med(raft_rounds, n, "per_s") for n in ("plain", "tls")}
    def round_ratio(rows: list[dict[str, Any]], a: tuple[str, ...], b: tuple[str, ...]) -> float | None:
        """The median of each round's own ratio: both sides of a round ran back to back, so
        load from elsewhere on the machine cancels out better than in a ratio of medians."""
        def dig(row: dict[str, Any], keys: tuple[str, ...]) -> float:
            v: Any = row
            for k in keys:
                v = v[k]
            return float(v)

        ratios = [dig(r, a) / dig(r, b) for r in rows if dig(r, b)]
        return round(statistics.median(ratios), 3) if ratios else None

    print(json.dumps({
        "benchmark": "tls_handshake",
        "connections": args.connections,
        "seconds_per_round": args.seconds,
        "https": {
            "requests_per_s": {**rq, "ratio": ratio(rq["pyconsul"], rq["nginx"]),
                               "ratio_per_round": round_ratio(https_rounds, ("pyconsul", "requests_per_s", "per_s"),
                                                              ("nginx", "requests_per_s", "per_s"))},
            "handshakes_per_s": {**hs, "ratio": ratio(hs["pyconsul"], hs["nginx"]),
                                 "ratio_per_round": round_ratio(https_rounds,
                                                                ("pyconsul", "handshakes_per_s", "per_s"),
                                                                ("nginx", "handshakes_per_s", "per_s"))},
        },
        "raft_writes_per_s": {**raft, "tls_over_plain": ratio(raft["tls"], raft["plain"]),
                              "tls_over_plain_per_round": round_ratio(raft_rounds, ("tls", "per_s"), ("plain", "per_s")),
                              "goal": 0.8},
        "rounds": {"https": https_rounds, "raft": raft_rounds},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }, indent=2))


if __name__ == "__main__":
    main()
