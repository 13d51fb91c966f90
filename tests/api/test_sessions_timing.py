"""Session TTL expiry and lock-delay, observed over the HTTP API of a real agent."""

from __future__ import annotations

import time

import consul

from tests.support.agents import AgentProcess
from tests.support.wait import wait_until


def test_ttl_expiry_invalidates_session_and_releases_lock(shared_agent: AgentProcess) -> None:
    cli = consul.Consul(host=shared_agent.host, port=shared_agent.http_port)
    sid = cli.session.create(ttl=10, lock_delay=0)
    assert cli.kv.put("ttlx/lock", "held", acquire=sid)
    t0 = time.monotonic()
    # Consul invalidates an unrenewed session within 2*TTL.
    assert wait_until(lambda: cli.session.info(sid)[1] is None, 25)
    assert time.monotonic() - t0 >= 10
    _, row = cli.kv.get("ttlx/lock")
    assert row["Value"] == b"held" and "Session" not in row


def test_lock_delay_blocks_reacquire_until_it_passes(shared_agent: AgentProcess) -> None:
    cli = consul.Consul(host=shared_agent.host, port=shared_agent.http_port)
    first = cli.session.create(lock_delay=2)
    assert cli.kv.put("delay/lock", "a", acquire=first)
    cli.session.destroy(first)
    second = cli.session.create(lock_delay=0)
    t0 = time.monotonic()
    assert cli.kv.put("delay/lock", "b", acquire=second) is False
    assert wait_until(lambda: cli.kv.put("delay/lock", "b", acquire=second), 5)
    assert 1.5 <= time.monotonic() - t0 < 5


def test_negative_lock_delay_means_none_not_a_server_error(shared_agent: AgentProcess) -> None:
    import json
    import urllib.request

    base = f"http://{shared_agent.host}:{shared_agent.http_port}"
    body = json.dumps({"LockDelay": -9.223372036854778e18}).encode()
    with urllib.request.urlopen(urllib.request.Request(f"{base}/v1/session/create", body, method="PUT")) as r:
        sid = json.loads(r.read())["ID"]
    with urllib.request.urlopen(f"{base}/v1/session/info/{sid}") as r:
        assert json.loads(r.read())[0]["LockDelay"] == 0
