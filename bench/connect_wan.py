"""Connect across two real datacenters (own loopback addresses, WAN-joined; dc2 secondary).

    PYTHONPATH=$PWD python3 bench/connect_wan.py [--leaves 50] [--rounds 3]

Every figure is measured next to its dc1 (primary) reference in the same run:
- first-leaf latency: `GET /v1/agent/connect/ca/leaf/<new service>` on each server, p50/p99 ms
  (dc1 signs with its root, dc2 with the intermediate dc1 signed);
- rotation follow time: from the `PUT /v1/connect/ca/configuration` (RotateRoot) answering until
  each datacenter's leaf for one service chains to the new root, seconds, per round;
- intention propagation: from a deny written in dc1 until `/v1/agent/connect/authorize` refuses
  in each datacenter, seconds, per round.
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

from cryptography import x509

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.agents import AgentProcess, start_agent  # noqa: E402
from tests.support.ports import free_port, loopback  # noqa: E402
from tests.support.wait import wait_until  # noqa: E402


def _ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50_ms": round(statistics.median(ordered) * 1000, 2),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2)}


def _json(agent: AgentProcess, method: str, path: str, body: Any = None) -> Any:
    status, _, raw = agent.request(method, path, body)
    assert status == 200, (path, status, raw)
    return json.loads(raw) if raw.strip() else None


def _server(tmp: Path, name: str, host: str, dc: str, wan: int, *extra: str) -> AgentProcess:
    conf = tmp / f"{name}.hcl"
    conf.write_text('primary_datacenter = "dc1"\n')
    return start_agent(tmp / name, "-server", "-bootstrap", "-datacenter", dc, "-data-dir", str(tmp / f"{name}d"),
                       "-config-file", str(conf), *extra, dev=False, name=name, host=host,
                       ports={"serf_wan": wan}, wait=False)


def _issuer_is(agent: AgentProcess, service: str, root_pem: str) -> bool:
    """Whether the leaf's chain leads to `root_pem` (leaf → [intermediate] → root)."""
    chain = x509.load_pem_x509_certificates(_json(agent, "GET", f"/v1/agent/connect/ca/leaf/{service}")["CertPEM"].encode())
    root = x509.load_pem_x509_certificate(root_pem.encode()).subject
    cur = chain[0]
    for _ in range(len(chain)):
        if cur.issuer == root:
            return True
        nxt = next((c for c in chain[1:] if c.subject == cur.issuer and c.issuer != c.subject), None)
        if nxt is None:
            return False
        cur = nxt
    return False


def _until(pred: Any, start: float, timeout: float = 60) -> float:
    wait_until(pred, timeout, interval=0.02)
    return round(time.perf_counter() - start, 3)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--leaves", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    load_start = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="connect-wan-bench-"))
    wan1, wan2 = free_port(), free_port()
    agents: list[AgentProcess] = []
    try:
        s1 = _server(tmp, "s1", loopback(111), "dc1", wan1)
        agents.append(s1)
        s2 = _server(tmp, "s2", loopback(115), "dc2", wan2, "-retry-join-wan", f"{s1.host}:{wan1}",
                     "-retry-interval-wan", "1s")
        agents.append(s2)
        for a in agents:
            a.wait_ready(timeout=60)
        wait_until(lambda: _json(s2, "GET", "/v1/connect/ca/roots").get("ActiveRootID")
                   == _json(s1, "GET", "/v1/connect/ca/roots").get("ActiveRootID") != "", 60)
        leaf: dict[str, Any] = {}
        for dc, agent in (("dc1", s1), ("dc2", s2)):
            samples = []
            for i in range(args.leaves):
                t = time.perf_counter()
                _json(agent, "GET", f"/v1/agent/connect/ca/leaf/svc{i}")
                samples.append(time.perf_counter() - t)
            leaf[dc] = _ms(samples)
        rotation: dict[str, list[float]] = {"dc1": [], "dc2": []}
        intention: dict[str, list[float]] = {"dc1": [], "dc2": []}
        td = _json(s1, "GET", "/v1/connect/ca/roots")["TrustDomain"]
        for r in range(args.rounds):
            _json(s1, "GET", "/v1/agent/connect/ca/leaf/web")
            _json(s2, "GET", "/v1/agent/connect/ca/leaf/web")
            _json(s1, "PUT", "/v1/connect/ca/configuration", {"Provider": "consul", "Config": {"RotateRoot": True}})
            start = time.perf_counter()
            roots = _json(s1, "GET", "/v1/connect/ca/roots")
            new = next(x for x in roots["Roots"] if x["ID"] == roots["ActiveRootID"])["RootCert"]
            for dc, agent in (("dc1", s1), ("dc2", s2)):
                rotation[dc].append(_until(lambda agent=agent, new=new: _issuer_is(agent, "web", new), start))
            client = f"spiffe://{td}/ns/default/dc/dc1/svc/web"
            _json(s1, "PUT", f"/v1/connect/intentions/exact?source=web&destination=db{r}", {"Action": "deny"})
            start = time.perf_counter()
            for dc, agent in (("dc1", s1), ("dc2", s2)):
                intention[dc].append(_until(lambda agent=agent, r=r, client=client: not _json(
                    agent, "POST", "/v1/agent/connect/authorize",
                    {"Target": f"db{r}", "ClientCertURI": client})["Authorized"], start))
        print(json.dumps({
            "first_leaf": leaf,
            "rotation_follow_s": rotation,
            "intention_propagation_s": intention,
            "load_average_start": [round(x, 2) for x in load_start],
            "load_average_end": [round(x, 2) for x in os.getloadavg()],
        }, indent=2))
    finally:
        for a in reversed(agents):
            a.stop()


if __name__ == "__main__":
    main()
