"""Seed 003's path: plain HTTP from an app (`http_proxy=`) through `connect proxy -http-proxy`,
mTLS to the service's sidecar, plain HTTP to the service — next to a pair of nginx proxies doing
the same with the same leaf certificates, and the direct request, all in one run.

    wrk ─► node proxy (-http-proxy) ─(mTLS)─► sidecar (-listen) ─► nginx "hello" (the service)

- pyconsul: `connect proxy -service hello -listen … -service-addr <hello> -register` and
  `connect proxy -service web -http-proxy …`, against a `pyconsul agent -dev`; wrk sends what
  curl sends through `http_proxy` (`GET http://hello/ HTTP/1.1`) on keep-alive connections.
- nginx: an http server taking the same absolute-form requests and proxying them over TLS with
  the web leaf (upstream keep-alive) to a `stream` listener with the hello leaf that requires a
  client certificate from the Connect roots.
- direct: wrk straight to the service.

Figures: requests/s and p50/p99 latency (wrk, 16 keep-alive connections), the pyconsul/nginx
ratio and the latency each pair adds over the direct request. Prints one JSON object.

    python bench/http_proxy.py [--seconds 5] [--connections 16]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from connect_proxy import HOST, ROOT, free_port, get_json, wait_port  # noqa: E402

LUA = 'wrk.path = "http://hello/"\nwrk.headers["Host"] = "hello"\n'


def nginx_conf(d: Path, hello: int, front: int, mesh: int) -> Path:
    conf = d / "nginx.conf"
    conf.write_text(f"""
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  upstream mesh {{ server {HOST}:{mesh}; keepalive 64; }}
  server {{
    listen {HOST}:{hello} backlog=4096;
    location / {{ return 200 "Hello world\\n"; }}
  }}
  server {{
    listen {HOST}:{front} backlog=4096;
    location / {{
      proxy_pass https://mesh;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_ssl_certificate {d}/web.crt;
      proxy_ssl_certificate_key {d}/web.key;
      proxy_ssl_verify off;
    }}
  }}
}}
stream {{
  server {{
    listen {HOST}:{mesh} ssl backlog=4096;
    ssl_certificate {d}/hello.crt;
    ssl_certificate_key {d}/hello.key;
    ssl_client_certificate {d}/roots.crt;
    ssl_verify_client on;
    proxy_pass {HOST}:{hello};
  }}
}}
""")
    return conf


def wrk(port: int, seconds: float, connections: int, script: Path | None) -> dict[str, float]:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    if script is not None:
        argv += ["-s", str(script)]
    out = subprocess.run([*argv, f"http://{HOST}:{port}/"], capture_output=True, text=True,
                         timeout=seconds + 60).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw errors:\n{out}")

    def ms(label: str) -> float:
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)$", out, re.M)
        if m is None:
            raise RuntimeError(out)
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if rps is None:
        raise RuntimeError(out)
    return {"req_per_s": round(float(rps.group(1))), "p50_ms": round(ms("50"), 3), "p99_ms": round(ms("99"), 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--connections", type=int, default=16)
    args = ap.parse_args()
    for tool in ("nginx", "wrk"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed (apt-get install -y nginx libnginx-mod-stream wrk)")
    d = Path(tempfile.mkdtemp(prefix="bench-http-proxy-"))
    procs: list[subprocess.Popen[bytes]] = []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    quiet: dict[str, Any] = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    try:
        http = free_port()
        py = [sys.executable, "-m", "pyconsul"]
        procs.append(subprocess.Popen([*py, "agent", "-dev", "-bind", HOST, "-client", HOST, "-http-port", str(http),
                                       "-dns-port", str(free_port()), "-server-port", str(free_port()),
                                       "-serf-lan-port", str(free_port()), "-log-level", "warn"], env=env, **quiet))
        base = f"http://{HOST}:{http}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if get_json(base + "/v1/connect/ca/roots")["ActiveRootID"]:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("agent did not start")
            time.sleep(0.1)
        roots = "".join(r["RootCert"] for r in get_json(base + "/v1/connect/ca/roots")["Roots"])
        (d / "roots.crt").write_text(roots)
        for svc in ("hello", "web"):
            leaf = get_json(f"{base}/v1/agent/connect/ca/leaf/{svc}")
            (d / f"{svc}.crt").write_text(leaf["CertPEM"])
            (d / f"{svc}.key").write_text(leaf["PrivateKeyPEM"])
        hello, front, mesh = free_port(), free_port(), free_port()
        conf = nginx_conf(d, hello, front, mesh)
        procs.append(subprocess.Popen(["nginx", "-p", str(d), "-c", str(conf), "-g", "daemon off;"], **quiet))
        sidecar, node = free_port(), free_port()
        penv = {**env, "CONSUL_HTTP_ADDR": f"{HOST}:{http}"}
        procs.append(subprocess.Popen([*py, "connect", "proxy", "-service", "hello", "-listen", f"{HOST}:{sidecar}",
                                       "-service-addr", f"{HOST}:{hello}", "-register", "-log-level", "warn"],
                                      env=penv, **quiet))
        procs.append(subprocess.Popen([*py, "connect", "proxy", "-service", "web", "-http-proxy", f"{HOST}:{node}",
                                       "-log-level", "warn"], env=penv, **quiet))
        for port in (hello, front, sidecar, node):
            wait_port(port)
        deadline = time.monotonic() + 30
        while not get_json(base + "/v1/health/service/hello-proxy?passing"):
            if time.monotonic() > deadline:
                raise RuntimeError("hello-proxy did not register")
            time.sleep(0.1)
        script = d / "proxy.lua"
        script.write_text(LUA)
        wrk(node, 1, 2, script)  # warm-up: the first request follows hello's instances
        results: dict[str, Any] = {
            "direct": wrk(hello, args.seconds, args.connections, None),
            "pyconsul": wrk(node, args.seconds, args.connections, script),
            "nginx": wrk(front, args.seconds, args.connections, script),
        }
        results["ratio_pyconsul_to_nginx"] = round(results["pyconsul"]["req_per_s"] / results["nginx"]["req_per_s"], 2)
        results["added_p50_ms"] = {k: round(results[k]["p50_ms"] - results["direct"]["p50_ms"], 3)
                                   for k in ("pyconsul", "nginx")}
        results["loadavg"] = os.getloadavg()[0]
        print(json.dumps(results, indent=2))
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
