"""`/debug/pprof/*` on a real agent: absent unless enable_debug, a CPU profile that names the
agent's code while the agent keeps answering, the task dump and the heap summary."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.agents import start_agent


def _get(url: str, timeout: float = 30.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_profiles_are_not_served_without_enable_debug(tmp_path: Path) -> None:
    agent = start_agent(tmp_path / "a")
    try:
        for what in ("profile?seconds=1", "goroutine", "heap"):
            assert _get(f"{agent.base_url}/debug/pprof/{what}")[0] == 404
    finally:
        agent.stop()


def test_cpu_profile_samples_the_loop_while_it_keeps_serving(tmp_path: Path) -> None:
    agent = start_agent(tmp_path / "a", "-hcl", "enable_debug = true")
    try:
        result: dict[str, tuple[int, str]] = {}
        t = threading.Thread(target=lambda: result.setdefault("p", _get(f"{agent.base_url}/debug/pprof/profile?seconds=2")))
        t.start()
        # While the profile runs, KV writes and reads are answered promptly (it samples from a thread).
        slowest = 0.0
        deadline = time.monotonic() + 1.5
        n = 0
        while time.monotonic() < deadline:
            start = time.monotonic()
            req = urllib.request.Request(f"{agent.base_url}/v1/kv/p{n}", data=b"x", method="PUT")
            with urllib.request.urlopen(req, timeout=5) as r:
                assert r.read() == b"true"
            assert _get(f"{agent.base_url}/v1/kv/p{n}")[0] == 200
            slowest = max(slowest, time.monotonic() - start)
            n += 1
        t.join(timeout=30)
        status, body = result["p"]
        assert status == 200, body
        lines = body.splitlines()
        counts = [int(line.rsplit(" ", 1)[1]) for line in lines]
        assert sum(counts) >= 50  # about 100 Hz for 2 s, minus scheduling
        assert any("pyconsul/" in line for line in lines), body[:2000]  # the requests above were handled
        assert n >= 5 and slowest < 1.0
        assert _get(f"{agent.base_url}/debug/pprof/profile?seconds=abc")[0] == 400
        assert _get(f"{agent.base_url}/debug/pprof/profile?seconds=100000")[0] == 400
        status, dump = _get(f"{agent.base_url}/debug/pprof/goroutine")
        assert status == 200 and "asyncio tasks:" in dump and "pyconsul/" in dump
        status, heap = _get(f"{agent.base_url}/debug/pprof/heap")
        assert status == 200 and heap.startswith("objects: ") and " dict\n" in heap
    finally:
        agent.stop()
