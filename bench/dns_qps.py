"""DNS queries/s and latency with dnsperf: pyconsul's DNS server next to dnsmasq, same records.

Both serve a service `web` with 20 instances: A records for web.service.consul and SRV records
pointing at <node>.node.dc1.consul with the A records as additional data. pyconsul runs in its own
process (uvloop) over a real StateStore filled through the FSM; dnsmasq serves the same records
from an addn-hosts file and srv-host lines. With --agent, a real `pyconsul agent -dev` with the
instances registered over HTTP is measured too. Prints one JSON object with pyconsul/dnsmasq ratios.

Plain queries get replies of different sizes: pyconsul, like Consul, gives a non-EDNS client
udp_answer_limit (3) records, dnsmasq all 20; the "+EDNS" kinds (dnsperf -e) get all 20 from both.

    python bench/dns_qps.py [--seconds 4] [--rounds 3] [--instances 20] [--agent]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SERVICE = "web"
# Plain queries (pyconsul answers udp_answer_limit records, dnsmasq all) and EDNS0 queries (both
# answer every instance, so the replies are alike).
KINDS = ("A", "SRV", "A+EDNS", "SRV+EDNS")


def free_port() -> int:
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port")


def instance_ip(i: int) -> str:
    return f"10.0.{i // 250}.{i % 250 + 1}"


# ------------------------------------------------------------------ the pyconsul side (subprocess)
def serve(port: int, instances: int) -> None:
    sys.path.insert(0, str(ROOT))
    from pyconsul.config.runtime import RuntimeConfig
    from pyconsul.dns.server import start_dns_server
    from pyconsul.fsm import commands as c
    from pyconsul.fsm.machine import StateMachine
    from pyconsul.loop import run
    from pyconsul.state.store import StateStore

    store = StateStore()
    fsm = StateMachine(store)
    for i in range(instances):
        node = {"Node": f"node{i}", "Address": instance_ip(i), "Datacenter": "dc1"}
        svc = {"Service": SERVICE, "ID": f"{SERVICE}-{i}", "Port": 8080}
        chk = {"CheckID": f"service:{SERVICE}-{i}", "Name": "alive", "Status": "passing", "ServiceID": f"{SERVICE}-{i}"}
        fsm.apply_command(i + 1, c.Register(node=node, service=svc, checks=[chk]))
    config = RuntimeConfig(node_name="bench", client_addr="127.0.0.1")
    config.ports = replace(config.ports, dns=port)

    async def main() -> None:
        server = await start_dns_server(config, store.catalog)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        print("READY", flush=True)
        await stop.wait()
        await server.close()

    run(main())


# ------------------------------------------------------------------ dnsmasq with the same records
def dnsmasq_config(workdir: Path, port: int, instances: int) -> Path:
    hosts = workdir / "hosts"
    lines = []
    for i in range(instances):
        lines.append(f"{instance_ip(i)} {SERVICE}.service.consul")
        lines.append(f"{instance_ip(i)} node{i}.node.dc1.consul")
    hosts.write_text("\n".join(lines) + "\n")
    conf = workdir / "dnsmasq.conf"
    srv = [f"srv-host={SERVICE}.service.consul,node{i}.node.dc1.consul,8080,1,1" for i in range(instances)]
    conf.write_text("\n".join([
        f"port={port}", "listen-address=127.0.0.1", "bind-interfaces", "no-resolv", "no-hosts",
        f"addn-hosts={hosts}", "cache-size=10000", "local=/consul/", *srv,
    ]) + "\n")
    return conf


def wait_answers(port: int, timeout: float = 15.0) -> None:
    query = bytes.fromhex("abcd01000001000000000000") + b"\x03web\x07service\x06consul\x00\x00\x01\x00\x01"
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        while time.monotonic() < deadline:
            s.sendto(query, ("127.0.0.1", port))
            try:
                data, _ = s.recvfrom(4096)
                if data[:2] == b"\xab\xcd":
                    return
            except OSError:
                pass
    raise TimeoutError(f"no DNS answer on port {port}")


def dnsperf(port: int, kind: str, seconds: float, workdir: Path) -> dict[str, Any]:
    """kind: "A", "SRV", or "A+EDNS" / "SRV+EDNS" (EDNS0 queries: every instance, both servers)."""
    qtype, _, edns = kind.partition("+")
    qfile = workdir / f"q-{qtype}.txt"
    qfile.write_text(f"{SERVICE}.service.consul {qtype}\n")
    cmd = ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", str(qfile), "-l", str(seconds),
           "-c", "1", "-T", "1", "-q", "200", "-t", "2", *(["-e"] if edns else [])]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=seconds + 30).stdout

    def num(pattern: str) -> float:
        m = re.search(pattern, out)
        return float(m.group(1)) if m else float("nan")

    return {
        "qps": round(num(r"Queries per second:\s+([\d.]+)"), 1),
        "avg_latency_ms": round(num(r"Average Latency \(s\):\s+([\d.]+)") * 1000, 3),
        "queries_completed": int(num(r"Queries completed:\s+(\d+)")),
        "queries_lost": int(num(r"Queries lost:\s+(\d+)")),
    }


def start_bench_agent(workdir: Path, instances: int) -> Any:
    """A real dev agent with the same instances, registered over its HTTP API."""
    sys.path.insert(0, str(ROOT))
    from tests.support.agents import start_agent

    agent = start_agent(workdir / "agent", name="bench-agent")
    for i in range(instances):
        body = {"Node": f"node{i}", "Address": instance_ip(i),
                "Service": {"ID": f"{SERVICE}-{i}", "Service": SERVICE, "Port": 8080},
                "Check": {"CheckID": f"service:{SERVICE}-{i}", "Name": "alive", "Status": "passing",
                          "ServiceID": f"{SERVICE}-{i}"}}
        status, _, text = agent.request("PUT", "/v1/catalog/register", body)
        if status != 200:
            agent.stop()
            raise RuntimeError(f"register failed: {status} {text!r}")
    wait_answers(agent.dns_port)
    return agent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--instances", type=int, default=20)
    ap.add_argument("--agent", action="store_true", help="also measure a real agent")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are reported")
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve, args.instances)
        return
    for tool in ("dnsperf", "dnsmasq"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            sys.exit(f"{tool} is not installed")
    workdir = Path(tempfile.mkdtemp(prefix="dns-bench-"))
    py_port, mq_port = free_port(), free_port()
    py = subprocess.Popen([sys.executable, __file__, "--serve", str(py_port), "--instances", str(args.instances)],
                          stdout=subprocess.PIPE, text=True)
    dnsmasq_bin = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    mq = subprocess.Popen([dnsmasq_bin, "--no-daemon", "-C", str(dnsmasq_config(workdir, mq_port, args.instances))],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    agent = None
    try:
        wait_answers(py_port)
        wait_answers(mq_port)
        results: dict[str, Any] = {"instances": args.instances, "seconds": args.seconds,
                                   "cpus": os.cpu_count(), "pyconsul": {}, "dnsmasq": {}}
        if args.agent:
            agent = start_bench_agent(workdir, args.instances)
            results["pyconsul_agent"] = {}
        targets = {"dnsmasq": mq_port, "pyconsul": py_port}
        if agent is not None:
            targets["pyconsul_agent"] = agent.dns_port
        runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
        # Interleaved rounds, so a burst of other load on the machine hits every server alike.
        for _ in range(max(1, args.rounds)):
            for qtype in KINDS:
                for label, port in targets.items():
                    runs.setdefault((label, qtype), []).append(dnsperf(port, qtype, args.seconds, workdir))
        for (label, qtype), rounds in runs.items():
            results[label][qtype] = {
                "qps": statistics.median(r["qps"] for r in rounds),
                "qps_rounds": [r["qps"] for r in rounds],
                "avg_latency_ms": statistics.median(r["avg_latency_ms"] for r in rounds),
                "queries_lost": sum(r["queries_lost"] for r in rounds),
            }
        results["ratio"] = {
            q: round(results["pyconsul"][q]["qps"] / results["dnsmasq"][q]["qps"], 3) for q in KINDS
        }
        if agent is not None:
            results["ratio_agent"] = {
                q: round(results["pyconsul_agent"][q]["qps"] / results["dnsmasq"][q]["qps"], 3) for q in KINDS
            }
        print(json.dumps(results, indent=2))
    finally:
        if agent is not None:
            agent.stop()
        for p in (py, mq):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
