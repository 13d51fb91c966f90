"""info, reload, leave, force-leave, join, monitor, event, version, keygen against a real agent."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time

import pytest

from tests.cli.cli_run import clean_env, consul
from tests.support.agents import AgentProcess
from tests.support.ports import free_port


def test_info_sections_sorted_with_leader(shared_agent: AgentProcess) -> None:
    r = consul("info", addr=shared_agent.http_addr)
    assert r.code == 0
    sections = [ln[:-1] for ln in r.out.splitlines() if not ln.startswith("\t")]
    assert sections == sorted(sections) and "consul" in sections and "raft" in sections
    assert "\tleader = true" in r.out.splitlines()


def test_reload(shared_agent: AgentProcess) -> None:
    r = consul("reload", addr=shared_agent.http_addr)
    assert (r.code, r.out) == (0, "Configuration reload triggered\n")


def test_event_fire_and_list(shared_agent: AgentProcess) -> None:
    r = consul("event", "-name=deploy", "v1.2.3", addr=shared_agent.http_addr)
    assert r.code == 0 and r.out.startswith("Event ID: ")
    event_id = r.out.split()[-1]
    events = shared_agent.get_json("/v1/event/list?name=deploy")
    fired = next(e for e in events if e["ID"] == event_id)
    assert base64.b64decode(fired["Payload"]) == b"v1.2.3"


def test_event_argument_errors() -> None:
    r = consul("event")
    assert r.code == 1 and r.err.startswith("Event name must be specified\n\nUsage: consul event")
    r = consul("event", "-name=x", "-tag=t")
    assert (r.code, r.err) == (1, "Cannot provide tag filter without service filter.\n")
    r = consul("event", "-name=x", "-node=(")
    assert r.code == 1 and r.err.startswith("Failed to compile node filter regexp: ")


def test_version_and_keygen() -> None:
    r = consul("version")
    lines = r.out.splitlines()
    assert r.code == 0 and lines[0].startswith("Consul v1.")
    assert lines[3].startswith("Protocol 2 spoken by default, understands 2 to 3")
    assert consul("--version").out == r.out and consul("-v").out == r.out
    r = consul("version", "-format=json")
    assert r.code == 0 and '"RPC": {' in r.out
    keys = {consul("keygen").out.strip() for _ in range(2)}
    assert len(keys) == 2
    assert all(len(base64.b64decode(k, validate=True)) == 32 for k in keys)


def test_monitor_streams_logs_and_exits_0_on_sigterm(shared_agent: AgentProcess) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "pyconsul", "monitor", "-log-level=debug"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=clean_env(CONSUL_HTTP_ADDR=shared_agent.http_addr))
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            consul("reload", addr=shared_agent.http_addr)
            assert proc.stdout is not None
            os.set_blocking(proc.stdout.fileno(), False)
            chunk = proc.stdout.read() or b""
            if b"reload" in chunk:
                break
            time.sleep(0.2)
        else:
            pytest.fail("no log line reached the monitor")
        proc.terminate()
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_force_leave_needs_one_name() -> None:
    r = consul("force-leave")
    assert r.code == 1 and r.err.startswith("A single node name must be specified to force leave.\n")


def test_join_needs_an_address() -> None:
    r = consul("join")
    assert r.code == 1 and r.err.startswith("At least one address to join must be specified.")


def test_join_unreachable_agent() -> None:
    port = free_port()
    r = consul("join", "10.0.0.1", addr=f"127.0.0.1:{port}")
    assert r.code == 1
    assert r.err == (f"Error joining address '10.0.0.1': Put \"http://127.0.0.1:{port}/v1/agent/join/10.0.0.1\": "
                     f"dial tcp 127.0.0.1:{port}: connect: connection refused\nFailed to join any nodes.\n")


def test_leave_shuts_the_agent_down(agent: AgentProcess) -> None:
    r = consul("leave", addr=agent.http_addr)
    assert (r.code, r.out) == (0, "Graceful leave complete\n")
    agent.proc.wait(20)
    assert agent.proc.returncode == 0
