"""Container churn through pyregistrator: engine event → catalog change delay, and wrong entries.

Starts a dev agent and `python -m pyregistrator -ip 127.0.0.1`, then starts and stops
`--containers` busybox httpd containers (image `nginx`, random host ports) in waves of
`--wave`: each wave starts `wave` containers and stops half of those running. A blocking-query
watcher on the catalog records when each service appears and disappears; the delay is that time
minus the engine's `start` / `die` event time. After every wave (once quiet) and at the end, the
catalog is compared with what runs: wrong entries = missing + extra (the goal is zero).

Needs DOCKER_HOST (scripts/dockerd.sh start). Prints one JSON object.
Run from the repo root: `python bench/registrator_churn.py [--containers 200] [--wave 50]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiodocker
import aiohttp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.agents import AgentProcess, start_agent  # noqa: E402

HOST = socket.gethostname()


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


class CatalogWatcher:
    """Follows /v1/catalog/service/<name> with blocking queries; remembers when IDs come and go."""

    def __init__(self, agent: AgentProcess, service: str) -> None:
        self.url = f"{agent.base_url}/v1/catalog/service/{service}"
        self.present: set[str] = set()
        self.appeared: dict[str, float] = {}
        self.vanished: dict[str, float] = {}
        self.changed = asyncio.Event()

    async def run(self) -> None:
        index = "0"
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    async with session.get(self.url, params={"index": index, "wait": "30s"}) as resp:
                        body = await resp.json()
                        new_index = resp.headers.get("X-Consul-Index", "")
                except (aiohttp.ClientError, ValueError):
                    await asyncio.sleep(0.05)
                    continue
                now = time.time()
                ids = {e["ServiceID"] for e in body}
                for sid in ids - self.present:
                    self.appeared[sid] = now
                for sid in self.present - ids:
                    self.vanished[sid] = now
                self.present = ids
                self.changed.set()
                if not new_index or new_index == index:
                    await asyncio.sleep(0.01)  # no blocking support: poll
                index = new_index or "0"


class EventLog:
    """Engine event times (seconds) per container name."""

    def __init__(self, docker: aiodocker.Docker, prefix: str) -> None:
        self.docker, self.prefix = docker, prefix
        self.started: dict[str, float] = {}
        self.died: dict[str, float] = {}
        self.ready = asyncio.Event()

    async def run(self) -> None:
        filters = json.dumps({"type": ["container"], "event": ["start", "die"]})
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        async with self.docker._query("events", params={"filters": filters}, timeout=timeout) as resp:
            self.ready.set()
            async for line in resp.content:
                if not line.strip():
                    continue
                ev = json.loads(line)
                name = ev.get("Actor", {}).get("Attributes", {}).get("name", "")
                if not name.startswith(self.prefix):
                    continue
                at = int(ev.get("timeNano", 0)) / 1e9
                (self.started if ev.get("Action") == "start" else self.died)[name] = at


async def quiet(watcher: CatalogWatcher, expected: set[str], timeout: float = 10.0) -> float:
    """Wait until the catalog equals `expected` (or timeout); returns seconds waited."""
    start = time.monotonic()
    while watcher.present != expected and time.monotonic() - start < timeout:
        watcher.changed.clear()
        try:
            await asyncio.wait_for(watcher.changed.wait(), 0.2)
        except TimeoutError:
            pass
    return time.monotonic() - start


async def churn(agent: AgentProcess, total: int, wave: int, parallel: int) -> dict[str, Any]:
    prefix = "churn-" + uuid.uuid4().hex[:6]
    service = prefix
    docker = aiodocker.Docker()
    watcher = CatalogWatcher(agent, service)
    events = EventLog(docker, prefix)
    tasks = [asyncio.create_task(watcher.run()), asyncio.create_task(events.run())]
    await events.ready.wait()
    sem = asyncio.Semaphore(parallel)
    running: dict[str, str] = {}  # name -> container id
    all_ids: list[str] = []
    wrong_per_wave: list[int] = []

    def sid(name: str) -> str:
        return f"{HOST}:{name}:80"

    async def start(n: int) -> None:
        name = f"{prefix}-{n}"
        config = {
            "Image": "nginx",
            "Cmd": ["httpd", "-f", "-p", "80", "-h", "/www"],
            "Env": [f"SERVICE_NAME={service}"],
            "ExposedPorts": {"80/tcp": {}},
            "HostConfig": {"Init": True, "PortBindings": {"80/tcp": [{"HostPort": ""}]}},
        }
        async with sem:
            c = await docker.containers.create(config, name=name)
            all_ids.append(c.id)
            await c.start()
        running[name] = c.id

    async def stop(name: str) -> None:
        cid = running.pop(name)
        async with sem:
            await docker.containers.container(cid).stop(t=2)

    began = time.monotonic()
    n = 0
    try:
        while n < total:
            count = min(wave, total - n)
            await asyncio.gather(*(start(n + i) for i in range(count)))
            n += count
            victims = sorted(running)[: len(running) // 2]
            await asyncio.gather(*(stop(v) for v in victims))
            await quiet(watcher, {sid(x) for x in running})
            wrong_per_wave.append(len(watcher.present ^ {sid(x) for x in running}))
        await asyncio.gather(*(stop(v) for v in list(running)))
        await quiet(watcher, set())
        wrong_end = len(watcher.present)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for cid in all_ids:
            try:
                await docker.containers.container(cid).delete(force=True)
            except aiodocker.DockerError:
                pass
        await docker.close()

    reg = [(watcher.appeared[sid(k)] - t) * 1000 for k, t in events.started.items() if sid(k) in watcher.appeared]
    dereg = [(watcher.vanished[sid(k)] - t) * 1000 for k, t in events.died.items() if sid(k) in watcher.vanished]
    return {
        "containers": total,
        "wave": wave,
        "duration_s": round(time.monotonic() - began, 2),
        "register_delay_ms": {"n": len(reg), "p50": percentile(reg, 0.5), "p99": percentile(reg, 0.99),
                              "max": round(max(reg), 2) if reg else None,
                              "mean": round(statistics.fmean(reg), 2) if reg else None},
        "deregister_delay_ms": {"n": len(dereg), "p50": percentile(dereg, 0.5), "p99": percentile(dereg, 0.99),
                                "max": round(max(dereg), 2) if dereg else None,
                                "mean": round(statistics.fmean(dereg), 2) if dereg else None},
        "never_registered": len(events.started) - len(reg),
        "wrong_entries_per_wave": wrong_per_wave,
        "wrong_entries_end": wrong_end,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--containers", type=int, default=200)
    parser.add_argument("--wave", type=int, default=50)
    parser.add_argument("--parallel", type=int, default=8, help="Docker API calls at once")
    args = parser.parse_args()
    if not os.environ.get("DOCKER_HOST"):
        print(json.dumps({"error": "DOCKER_HOST is not set; run scripts/dockerd.sh start"}))
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        agent = start_agent(Path(tmp) / "agent")
        log = open(Path(tmp) / "registrator.log", "wb")
        reg = subprocess.Popen(
            [sys.executable, "-m", "pyregistrator", "-ip", "127.0.0.1", f"consul://{agent.http_addr}"],
            stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
        )
        try:
            deadline = time.monotonic() + 20
            while b"synced" not in (Path(tmp) / "registrator.log").read_bytes():
                if reg.poll() is not None or time.monotonic() > deadline:
                    print(json.dumps({"error": "registrator did not start",
                                      "log": (Path(tmp) / "registrator.log").read_text()[-2000:]}))
                    return 1
                time.sleep(0.05)
            from pyconsul.loop import run

            result = run(churn(agent, args.containers, args.wave, args.parallel))
        finally:
            reg.terminate()
            reg.wait(10)
            log.close()
            agent.stop()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
