"""Mesh throughput, new connections per second and added latency: a pair of `pyconsul connect
proxy` processes next to a pair of nginx `stream` proxies doing mTLS with the same leaf
certificates, and the direct connection, all in one run.

    client ─► client-side proxy ─(mTLS)─► server-side proxy ─► echo server

- pyconsul: `connect proxy -service bench-srv -listen … -service-addr <echo> -register` and
  `connect proxy -service bench-cli -upstream bench-srv:…`, against a `pyconsul agent -dev`
  (every inbound connection is authorised by the agent, as Consul's proxy does).
- nginx: a server-side `stream` listener with the bench-srv leaf, `ssl_verify_client on` against
  the Connect roots; a client-side one presenting the bench-cli leaf (`proxy_ssl_verify off`: the
  leaves carry only a SPIFFE URI, no DNS name nginx could check; no session reuse, so every
  connection is a full handshake on both pairs).
- The echo server is one uvloop process shared by all three paths.

Figures: bulk MB/s (4 connections echoing 16 MiB each), new connections/s (16 workers, connect +
1-byte echo + close), p50/p99 round trip of 64-byte pings on one persistent connection, and the
added p99 over the direct connection. Prints one JSON object with pyconsul/nginx ratios.

    python bench/connect_proxy.py [--seconds 5] [--bulk-mib 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------ echo server (its own process)
def echo_main(port: int) -> None:
    import uvloop

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(256 * 1024):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, HOST, port, backlog=4096)
        await server.serve_forever()

    uvloop.run(main())


# ------------------------------------------------------------------ load (its own process)
async def bulk(port: int, mib: int, conns: int) -> float:
    chunk = os.urandom(64 * 1024)
    total = mib * 1024 * 1024

    async def one() -> None:
        reader, writer = await asyncio.open_connection(HOST, port)

        async def send() -> None:
            sent = 0
            while sent < total:
                writer.write(chunk)
                sent += len(chunk)
                await writer.drain()

        async def recv() -> None:
            got = 0
            while got < total:
                data = await reader.read(256 * 1024)
                if not data:
                    raise ConnectionError("closed early")
                got += len(data)

        await asyncio.gather(send(), recv())
        writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(conns)))
    return conns * total / (time.perf_counter() - start) / 1e6


async def conns_per_second(port: int, seconds: float, workers: int) -> float:
    done = 0
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < stop:
            reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(b"x")
            if await reader.read(1) == b"x":
                done += 1
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return done / (time.perf_counter() - start)


async def ping(port: int, count: int) -> list[float]:
    reader, writer = await asyncio.open_connection(HOST, port)
    msg = b"p" * 64
    out = []
    for _ in range(count):
        t = time.perf_counter()
        writer.write(msg)
        got = 0
        while got < len(msg):
            got += len(await reader.read(64))
        out.append((time.perf_counter() - t) * 1000)
    writer.close()
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def load_main(port: int, seconds: float, mib: int) -> None:
    import uvloop

    async def main() -> dict[str, float]:
        await asyncio.sleep(0)
        for _ in range(3):  # warm up (first leaf fetches, handshakes)
            await ping(port, 10)
        lat = await ping(port, 3000)
        return {"bulk_MBps": round(await bulk(port, mib, 4), 1),
                "conns_per_s": round(await conns_per_second(port, seconds, 16), 1),
                "ping_p50_ms": round(statistics.median(lat), 3), "ping_p99_ms": round(pct(lat, 0.99), 3)}

    print(json.dumps(uvloop.run(main())))


def measure(port: int, seconds: float, mib: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--load", str(port), "--seconds", str(seconds),
                          "--bulk-mib", str(mib)], capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return dict(json.loads(out.stdout))


# ------------------------------------------------------------------ the pieces
def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((HOST, port), 0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def nginx_conf(d: Path, client_port: int, server_port: int, echo_port: int) -> Path:
    conf = d / "nginx.conf"
    conf.write_text(f"""
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 8192; }}
stream {{
  server {{
    listen {HOST}:{server_port} ssl backlog=4096;
    ssl_certificate {d}/srv.crt;
    ssl_certificate_key {d}/srv.key;
    ssl_client_certificate {d}/roots.crt;
    ssl_verify_client on;
    ssl_protocols TLSv1.2 TLSv1.3;
    proxy_pass {HOST}:{echo_port};
  }}
  server {{
    listen {HOST}:{client_port} backlog=4096;
    proxy_pass {HOST}:{server_port};
    proxy_ssl on;
    proxy_ssl_certificate {d}/cli.crt;
    proxy_ssl_certificate_key {d}/cli.key;
    proxy_ssl_session_reuse off;
    proxy_ssl_verify off;
  }}
}}
""")
    return conf


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--bulk-mib", type=int, default=16)
    ap.add_argument("--load", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--echo", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.echo:
        echo_main(args.echo)
        return
    if args.load:
        load_main(args.load, args.seconds, args.bulk_mib)
        return
    if shutil.which("nginx") is None:
        sys.exit("nginx is needed (apt-get install -y nginx libnginx-mod-stream)")
    d = Path(tempfile.mkdtemp(prefix="bench-connect-"))
    procs: list[subprocess.Popen[bytes]] = []
    # the caller's PYTHONPATH stays behind ours (bench/_profile profiles the proxies too)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    try:
        http, echo = free_port(), free_port()
        py = [sys.executable, "-m", "pyconsul"]
        procs.append(subprocess.Popen([*py, "agent", "-dev", "-bind", HOST, "-client", HOST, "-http-port", str(http),
                                       "-dns-port", str(free_port()), "-server-port", str(free_port()),
                                       "-serf-lan-port", str(free_port()), "-log-level", "warn"],
                                      env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        procs.append(subprocess.Popen([sys.executable, __file__, "--echo", str(echo)], env=env))
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
        wait_port(echo)
        # pyconsul's pair
        srv_port, cli_port = free_port(), free_port()
        penv = {**env, "CONSUL_HTTP_ADDR": f"{HOST}:{http}"}
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        procs.append(subprocess.Popen([*py, "connect", "proxy", "-service", "bench-srv", "-listen",
                                       f"{HOST}:{srv_port}", "-service-addr", f"{HOST}:{echo}", "-register",
                                       "-log-level", "warn"], env=penv, **quiet))  # type: ignore[arg-type]
        procs.append(subprocess.Popen([*py, "connect", "proxy", "-service", "bench-cli", "-upstream",
                                       f"bench-srv:{HOST}:{cli_port}", "-log-level", "warn"],
                                      env=penv, **quiet))  # type: ignore[arg-type]
        wait_port(srv_port)
        wait_port(cli_port)
        deadline = time.monotonic() + 30
        while not get_json(base + "/v1/health/service/bench-srv-proxy?passing"):
            if time.monotonic() > deadline:
                raise RuntimeError("bench-srv-proxy did not register")
            time.sleep(0.1)
        # nginx's pair, with leaves from the same CA
        roots = "".join(r["RootCert"] for r in get_json(base + "/v1/connect/ca/roots")["Roots"])
        (d / "roots.crt").write_text(roots)
        for svc, name in (("bench-srv", "srv"), ("bench-cli", "cli")):
            leaf = get_json(f"{base}/v1/agent/connect/ca/leaf/{svc}")
            (d / f"{name}.crt").write_text(leaf["CertPEM"])
            (d / f"{name}.key").write_text(leaf["PrivateKeyPEM"])
        ng_srv, ng_cli = free_port(), free_port()
        conf = nginx_conf(d, ng_cli, ng_srv, echo)
        procs.append(subprocess.Popen(["nginx", "-p", str(d), "-c", str(conf), "-g", "daemon off;"]))
        wait_port(ng_cli)
        results = {
            "direct": measure(echo, args.seconds, args.bulk_mib),
            "pyconsul": measure(cli_port, args.seconds, args.bulk_mib),
            "nginx": measure(ng_cli, args.seconds, args.bulk_mib),
        }
        py_r, ng_r = results["pyconsul"], results["nginx"]
        results["ratio_pyconsul_to_nginx"] = {
            "bulk": round(py_r["bulk_MBps"] / ng_r["bulk_MBps"], 2),
            "conns": round(py_r["conns_per_s"] / ng_r["conns_per_s"], 2),
        }
        results["added_p99_ms"] = {k: round(results[k]["ping_p99_ms"] - results["direct"]["ping_p99_ms"], 3)
                                   for k in ("pyconsul", "nginx")}
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
