"""Cross-datacenter costs on two real datacenters (own loopback addresses, WAN-joined).

    PYTHONPATH=$PWD python3 bench/wan_forward.py [--requests 300]

dc1: one server and one client agent; dc2: one server. Every figure is measured next to its
local reference in the same run, through dc1's client agent (the path an application takes):
- KV read: `GET /v1/kv/k` (dc1) against `GET /v1/kv/k?dc=dc2` (client → dc1 server → WAN →
  dc2 server), p50/p99 milliseconds over sequential requests;
- prepared-query execute answered in dc1 against one that fails over to dc2 (dc1's instance
  critical), p50/p99;
- DNS `<q>.query.consul` answered from dc1 against answered through failover, p50/p99;
- switch time: from dc1's instance turning critical (TTL check failed) until the query's
  execute answers from dc2, and back after it passes again.
Prints one JSON object, with the machine's load average at the start and end."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import dns.resolver

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.agents import AgentProcess, start_agent  # noqa: E402
from tests.support.ports import free_port, loopback  # noqa: E402
from tests.support.wait import wait_until  # noqa: E402


def _ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50_ms": round(statistics.median(ordered) * 1000, 2),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2)}


def _time(fn: Any, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def _ok(agent: AgentProcess, path: str) -> Any:
    status, _, body = agent.request("GET", path)
    assert status == 200, (path, status, body)
    return json.loads(body) if body[:1] in (b"{", b"[") else body


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=300)
    n = ap.parse_args().requests
    load_start = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="wan-bench-"))
    wan1, wan2 = free_port(), free_port()
    agents: list[AgentProcess] = []
    try:
        s1 = start_agent(tmp / "s1", "-server", "-bootstrap", "-datacenter", "dc1", "-data-dir", str(tmp / "s1d"),
                         dev=False, name="s1", host=loopback(61), ports={"serf_wan": wan1}, wait=False)
        agents.append(s1)
        s2 = start_agent(tmp / "s2", "-server", "-bootstrap", "-datacenter", "dc2", "-data-dir", str(tmp / "s2d"),
                         "-retry-join-wan", f"{s1.host}:{wan1}", "-retry-interval-wan", "1s",
                         dev=False, name="s2", host=loopback(71), ports={"serf_wan": wan2}, wait=False)
        agents.append(s2)
        c1 = start_agent(tmp / "c1", "-datacenter", "dc1", "-data-dir", str(tmp / "c1d"),
                         "-retry-join", f"{s1.host}:{s1.serf_lan_port}", "-retry-interval", "1s",
                         dev=False, name="c1", host=loopback(62), wait=False)
        agents.append(c1)
        for a in agents:
            a.wait_ready(timeout=60)
        wait_until(lambda: c1.get_json("/v1/catalog/datacenters") == ["dc1", "dc2"], 30)
        assert c1.request("PUT", "/v1/kv/k", b"v")[0] == 200
        assert c1.request("PUT", "/v1/kv/k?dc=dc2", b"v")[0] == 200
        web = {"Name": "web", "Port": 80, "Check": {"CheckID": "web-ttl", "TTL": "10m", "Status": "passing"}}
        assert c1.request("PUT", "/v1/agent/service/register", web)[0] == 200
        assert s2.request("PUT", "/v1/agent/service/register", {"Name": "web", "Port": 8080})[0] == 200
        assert c1.request("POST", "/v1/query", {"Name": "web-q", "Service": {
            "Service": "web", "Failover": {"NearestN": 1}}})[0] == 200
        wait_until(lambda: _ok(c1, "/v1/query/web-q/execute")["Nodes"], 30)
        wait_until(lambda: _ok(s2, "/v1/health/service/web?passing"), 30)
        res = dns.resolver.Resolver(configure=False)
        res.nameservers, res.port, res.lifetime = [c1.host], c1.dns_port, 5
        wait_until(lambda: res.resolve("web-q.query.consul", "A"), 30, ignore=(dns.resolver.NXDOMAIN,))

        out: dict[str, Any] = {"requests": n}
        out["kv_read_local"] = _ms(_time(lambda: _ok(c1, "/v1/kv/k"), n))
        out["kv_read_dc2"] = _ms(_time(lambda: _ok(c1, "/v1/kv/k?dc=dc2"), n))
        out["query_execute_local"] = _ms(_time(lambda: _ok(c1, "/v1/query/web-q/execute"), n))
        out["dns_query_local"] = _ms(_time(lambda: res.resolve("web-q.query.consul", "A"), n))

        t = time.monotonic()
        assert c1.request("PUT", "/v1/agent/check/fail/web-ttl")[0] == 200
        wait_until(lambda: _ok(c1, "/v1/query/web-q/execute")["Datacenter"] == "dc2", 30, interval=0.01)
        out["switch_to_dc2_s"] = round(time.monotonic() - t, 3)
        wait_until(lambda: [r.address for r in res.resolve("web-q.query.consul", "A")] == [s2.host], 30,
                   ignore=(dns.resolver.NXDOMAIN,))
        out["query_execute_failover"] = _ms(_time(lambda: _ok(c1, "/v1/query/web-q/execute"), n))
        out["dns_query_failover"] = _ms(_time(lambda: res.resolve("web-q.query.consul", "A"), n))
        t = time.monotonic()
        assert c1.request("PUT", "/v1/agent/check/pass/web-ttl")[0] == 200
        wait_until(lambda: _ok(c1, "/v1/query/web-q/execute")["Datacenter"] == "dc1", 30, interval=0.01)
        out["switch_back_s"] = round(time.monotonic() - t, 3)
        out["loadavg_start"] = [round(x, 2) for x in load_start]
        out["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
        print(json.dumps(out, indent=2))
    finally:
        for a in reversed(agents):
            a.stop()


if __name__ == "__main__":
    main()
