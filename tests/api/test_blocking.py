"""Blocking queries over real HTTP: wake on a relevant change, not on an unrelated one,
time out at ?wait."""

from __future__ import annotations

import concurrent.futures
import time

from tests.support.agents import AgentProcess


def _index(headers: dict[str, str]) -> int:
    return int(headers["X-Consul-Index"])


def _register(agent: AgentProcess, name: str, sid: str, port: int) -> None:
    status, _, body = agent.request("PUT", "/v1/catalog/register", {
        "Node": "bn", "Address": "10.9.9.9", "Service": {"ID": sid, "Service": name, "Port": port}})
    assert status == 200, body


def test_blocking_wakes_on_relevant_change_only(shared_agent: AgentProcess) -> None:
    a = shared_agent
    _register(a, "blk-web", "w1", 80)
    _register(a, "blk-db", "d1", 5432)
    status, headers, _ = a.request("GET", "/v1/health/service/blk-web")
    idx = _index(headers)
    assert headers["X-Consul-KnownLeader"] == "true" and "X-Consul-LastContact" in headers
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        start = time.monotonic()
        fut = pool.submit(a.request, "GET", f"/v1/health/service/blk-web?index={idx}&wait=20s", None, 30)
        # Unrelated writes: another service and a KV key must not wake the query.
        _register(a, "blk-db", "d1", 5433)
        a.request("PUT", "/v1/kv/blk-unrelated", b"x")
        done, _ = concurrent.futures.wait([fut], timeout=0.7)
        assert not done, "a change to another service woke the watcher"
        _register(a, "blk-web", "w2", 81)
        status, headers, body = fut.result(timeout=10)
        assert status == 200 and _index(headers) > idx and b'"w2"' in body
        assert time.monotonic() - start < 10


def test_blocking_times_out_at_wait(shared_agent: AgentProcess) -> None:
    a = shared_agent
    a.request("PUT", "/v1/kv/blk-timeout", b"1")
    _, headers, _ = a.request("GET", "/v1/kv/blk-timeout")
    idx = _index(headers)
    t0 = time.monotonic()
    status, headers, _ = a.request("GET", f"/v1/kv/blk-timeout?index={idx}&wait=1s")
    elapsed = time.monotonic() - t0
    assert status == 200 and _index(headers) == idx
    assert 1.0 <= elapsed < 1.0 + 1.0 / 16 + 1.0  # wait plus at most wait/16 jitter (+ slack)


def test_recurse_watch_wakes_on_delete(shared_agent: AgentProcess) -> None:
    a = shared_agent
    a.request("PUT", "/v1/kv/blk-tree/a", b"1")
    _, headers, _ = a.request("GET", "/v1/kv/blk-tree/?recurse")
    idx = _index(headers)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        fut = pool.submit(a.request, "GET", f"/v1/kv/blk-tree/?recurse&index={idx}&wait=20s", None, 30)
        a.request("DELETE", "/v1/kv/blk-tree/a")
        status, headers, _ = fut.result(timeout=10)
    assert status == 404 and _index(headers) > idx


def test_index_goes_backwards_answers_at_once(shared_agent: AgentProcess) -> None:
    a = shared_agent
    a.request("PUT", "/v1/kv/blk-back", b"1")
    _, headers, _ = a.request("GET", "/v1/kv/blk-back")
    t0 = time.monotonic()
    status, headers2, _ = a.request("GET", f"/v1/kv/blk-back?index={_index(headers) + 10_000}&wait=10s")
    assert status == 200 and time.monotonic() - t0 < 2
