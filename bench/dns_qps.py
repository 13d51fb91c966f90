"""DNS queries/s and latency with dnsperf: pyconsul's DNS server next to dnsmasq, same records.

Both serve a service `web` with 20 instances: A records for web.service.consul and SRV records
pointing at <node>.node.dc1.consul with the A records as additional data. pyconsul runs in its own
process (uvloop) over a real StateStore filled through the FSM; dnsmasq serves the same records
from an addn-hosts file and srv-host lines. With --agent, a real `pyconsul agent -dev` with the
instances registered over HTTP is measured too. Prints one JSON object with pyconsul/dnsmasq ratios.

With --agent and --churn N (default 50), the agent is measured once more while a writer registers
N instances of `web` a second and deregisters each again (N registrations and N deregistrations a
second, over HTTP), against dnsmasq's quiet figures. After each change the writer polls the
agent's DNS (EDNS0 A query, every instance) until the answer shows it: the staleness, from the
write being sent to the first answer that reflects it, is reported (goal: max <= 1 s).

Plain queries get replies of different sizes: pyconsul, like Consul, gives a non-EDNS client
udp_answer_limit (3) records, dnsmasq all 20; the "+EDNS" kinds (dnsperf -e) get all 20 from both.

    python bench/dns_qps.py [--seconds 4] [--rounds 3] [--instances 20] [--agent [--churn 50]]
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
import threading
import time
import urllib.request
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


def start_bench_agent(workdir: Path, instances: int, debug: bool = False) -> Any:
    """A real dev agent with the same instances, registered over its HTTP API."""
    sys.path.insert(0, str(ROOT))
    from tests.support.agents import start_agent

    agent = start_agent(workdir / "agent", *(["-hcl", "enable_debug = true"] if debug else []), name="bench-agent")
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


def _a_query(qid: int, name: str = f"{SERVICE}.service.consul") -> bytes:
    """An A query with an EDNS0 OPT record (4096-byte payload), so every instance is answered."""
    q = qid.to_bytes(2, "big") + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x01"
    q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00\x00\x01\x00\x01"
    return q + b"\x00\x00\x29\x10\x00\x00\x00\x00\x00\x00\x00"


def _skip_name(msg: bytes, at: int) -> int:
    while True:
        n = msg[at]
        if n == 0:
            return at + 1
        if n >= 0xC0:
            return at + 2
        at += n + 1


def a_records(msg: bytes) -> set[str]:
    """The addresses in a reply's answer section."""
    count = int.from_bytes(msg[6:8], "big")
    at = _skip_name(msg, 12) + 4
    out: set[str] = set()
    for _ in range(count):
        at = _skip_name(msg, at)
        rtype, rdlen = int.from_bytes(msg[at:at + 2], "big"), int.from_bytes(msg[at + 8:at + 10], "big")
        at += 10
        if rtype == 1 and rdlen == 4:
            out.add(".".join(str(b) for b in msg[at:at + 4]))
        at += rdlen
    return out


class Churn:
    """A writer registering `rate` instances of `web` a second (each deregistered again `life`
    changes later, so as many deregistrations a second), and a checker asking the agent's DNS
    for every instance without pause: each answer settles every pending change it reflects, its
    staleness measured from the write being sent."""

    LIFE = 10

    def __init__(self, base: str, dns_port: int, rate: float) -> None:
        self.base, self.dns_port, self.rate = base, dns_port, rate
        self.stop = threading.Event()
        self.staleness: list[float] = []
        self.pending: dict[tuple[str, bool], float] = {}  # (ip, present) -> when the write was sent
        self.lock = threading.Lock()
        self.changes = 0
        self.elapsed = 0.0
        self.threads = [threading.Thread(target=self._write, daemon=True),
                        threading.Thread(target=self._check, daemon=True)]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def join(self, timeout: float) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout)

    def _http(self, method: str, path: str, body: dict[str, Any]) -> None:
        req = urllib.request.Request(self.base + path, data=json.dumps(body).encode(), method=method)
        with urllib.request.urlopen(req, timeout=10) as r:
            r.read()

    def _change(self, ip: str, present: bool, method: str, path: str, body: dict[str, Any]) -> None:
        with self.lock:
            self.pending[(ip, present)] = time.perf_counter()
        self._http(method, path, body)
        self.changes += 1

    def _write(self) -> None:
        period = 1.0 / self.rate
        start = time.perf_counter()
        k = 0
        while not self.stop.is_set():
            k += 1
            ip = f"10.200.{k // 250 % 250}.{k % 250 + 1}"
            self._change(ip, True, "PUT", "/v1/catalog/register", {
                "Node": f"churn{k}", "Address": ip,
                "Service": {"ID": f"{SERVICE}-churn", "Service": SERVICE, "Port": 8080}})
            if k > self.LIFE:
                old = k - self.LIFE
                self._change(f"10.200.{old // 250 % 250}.{old % 250 + 1}", False, "PUT",
                             "/v1/catalog/deregister", {"Node": f"churn{old}"})
            delay = start + k * period - time.perf_counter()
            if delay > 0:
                self.stop.wait(delay)
        self.elapsed = time.perf_counter() - start

    def _check(self) -> None:
        qid = 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(0.5)
            while not self.stop.is_set():
                qid = (qid + 1) & 0xFFFF
                sent = time.perf_counter()
                sock.sendto(_a_query(qid), ("127.0.0.1", self.dns_port))
                try:
                    while True:
                        data = sock.recv(65535)
                        if data[:2] == qid.to_bytes(2, "big"):
                            break
                except TimeoutError:
                    continue
                ips = a_records(data)
                with self.lock:
                    # a change counts as seen once an answer to a question asked after it shows it
                    done = [(c, t) for c, t in self.pending.items() if t < sent and (c[0] in ips) == c[1]]
                    for c, t in done:
                        del self.pending[c]
                        self.staleness.append(time.perf_counter() - t)
                time.sleep(0.002)

    def summary(self) -> dict[str, Any]:
        s = sorted(self.staleness)
        now = time.perf_counter()
        return {
            "changes": self.changes, "changes_per_s": round(self.changes / max(self.elapsed, 1e-9), 1),
            "staleness_p50_ms": round(s[len(s) // 2] * 1000, 1) if s else None,
            "staleness_p99_ms": round(s[min(len(s) - 1, int(len(s) * 0.99))] * 1000, 1) if s else None,
            "staleness_max_ms": round(s[-1] * 1000, 1) if s else None,
            "not_reflected_yet": sum(1 for t in self.pending.values() if now - t > 1.0),
        }


def top_functions(folded: str, n: int = 20) -> dict[str, Any]:
    """Self and cumulative shares of the busy samples of a folded-stack profile (idle samples,
    the loop waiting in select, left out)."""
    self_c: dict[str, int] = {}
    cum_c: dict[str, int] = {}
    total = 0
    for line in folded.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        if frames[-1].endswith(("runners.py:run", "selectors.py:select", "base_events.py:_run_once")):
            continue
        c = int(count)
        total += c
        self_c[frames[-1]] = self_c.get(frames[-1], 0) + c
        for f in set(frames):
            cum_c[f] = cum_c.get(f, 0) + c

    def top(d: dict[str, int]) -> list[list[Any]]:
        return [[f, round(100 * c / total, 1)] for f, c in sorted(d.items(), key=lambda kv: -kv[1])[:n]]

    return {"busy_samples": total, "self_pct": top(self_c), "cumulative_pct": top(cum_c)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--instances", type=int, default=20)
    ap.add_argument("--agent", action="store_true", help="also measure a real agent")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are reported")
    ap.add_argument("--churn", type=float, default=50.0,
                    help="with --agent: registrations (and as many deregistrations) a second during a "
                         "further agent run (0: none)")
    ap.add_argument("--profile", type=float, default=0.0,
                    help="seconds of the agent's CPU profile (/debug/pprof/profile) to take as the churn run starts")
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
            agent = start_bench_agent(workdir, args.instances, debug=args.profile > 0)
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
        churn: Churn | None = None
        if agent is not None and args.churn > 0:
            results["pyconsul_agent_churn"] = {}
            churn = Churn(agent.base_url, agent.dns_port, args.churn)
            churn.start()
            prof: list[str] = []
            taker = None
            if args.profile > 0:
                url = f"{agent.base_url}/debug/pprof/profile?seconds={args.profile:g}"
                taker = threading.Thread(target=lambda: prof.append(
                    urllib.request.urlopen(url, timeout=args.profile + 60).read().decode()), daemon=True)
                taker.start()
            for _ in range(max(1, args.rounds)):
                for qtype in KINDS:
                    runs.setdefault(("pyconsul_agent_churn", qtype), []).append(
                        dnsperf(agent.dns_port, qtype, args.seconds, workdir))
            churn.join(30)
            results["churn"] = churn.summary()
            if taker is not None:
                taker.join(args.profile + 60)
                results["profile_agent_churn"] = top_functions(prof[0] if prof else "")
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
        if churn is not None:  # under churn against dnsmasq quiet (goal >= 1.0)
            results["ratio_agent_churn"] = {
                q: round(results["pyconsul_agent_churn"][q]["qps"] / results["dnsmasq"][q]["qps"], 3) for q in KINDS
            }
        results["load_avg"] = os.getloadavg()[0]
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
