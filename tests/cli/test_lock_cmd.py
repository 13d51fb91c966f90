"""`consul lock`: a child runs only while the KV lock (or a semaphore slot) is held."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.cli.cli_run import clean_env, consul
from tests.support.agents import AgentProcess
from tests.support.wait import wait_until


def _start(addr: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "pyconsul", "lock", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=clean_env(CONSUL_HTTP_ADDR=addr))


def test_child_runs_with_lock_held_env_and_lock_is_cleaned_up(shared_agent: AgentProcess) -> None:
    addr = shared_agent.http_addr
    r = consul("lock", "jobs/nightly", 'echo "held=$CONSUL_LOCK_HELD"', addr=addr)
    assert (r.code, r.out) == (0, "held=true\n")
    # Released and removed: nothing left under the prefix.
    assert consul("kv", "get", "-recurse", "jobs/nightly", addr=addr).out == ""


def test_child_exit_code_is_propagated_only_on_request(shared_agent: AgentProcess) -> None:
    addr = shared_agent.http_addr
    r = consul("lock", "jobs/fail", "exit 3", addr=addr)
    assert (r.code, r.err) == (0, "Error running handler: exit status 3\n")
    r = consul("lock", "-child-exit-code", "jobs/fail", "exit 3", addr=addr)
    assert r.code == 2


def test_second_holder_times_out_while_first_holds(shared_agent: AgentProcess, tmp_path: Path) -> None:
    addr = shared_agent.http_addr
    marker = tmp_path / "first"
    holder = _start(addr, "jobs/mutex", f"touch {marker}; sleep 60")
    try:
        wait_until(marker.exists, 20.0, what="first holder's child")
        detailed = consul("kv", "get", "-detailed", "jobs/mutex/.lock", addr=addr).out
        assert "Flags            3304740253564472344" in detailed
        start = time.monotonic()
        r = consul("lock", "-timeout=1s", "jobs/mutex", "echo second", addr=addr)
        assert (r.code, r.out) == (1, "")
        assert r.err == "Shutdown triggered or timeout during lock acquisition\n"
        assert time.monotonic() - start >= 1.0
    finally:
        holder.terminate()
        assert holder.wait(15) == 0
    # The holder released on SIGTERM, so the lock is free again.
    assert consul("lock", "-timeout=5s", "jobs/mutex", "echo second", addr=addr).out == "second\n"


def test_interrupt_while_waiting_gives_up_at_once(shared_agent: AgentProcess, tmp_path: Path) -> None:
    import signal

    addr = shared_agent.http_addr
    marker = tmp_path / "holding"
    holder = _start(addr, "jobs/wait", f"touch {marker}; sleep 60")
    waiter = None
    try:
        wait_until(marker.exists, 20.0, what="holder's child")
        waiter = _start(addr, "-name=patient waiter", "jobs/wait", "echo never")

        def waiter_session_exists() -> bool:
            return any(s["Name"] == "patient waiter" for s in shared_agent.get_json("/v1/session/list"))

        wait_until(waiter_session_exists, 20.0, what="the waiter's session")
        start = time.monotonic()
        waiter.send_signal(signal.SIGINT)
        out, err = waiter.communicate(timeout=10)
        assert time.monotonic() - start < 10  # not after the 15s blocking wait
        assert (waiter.returncode, out) == (1, b"")
        assert err == b"Shutdown triggered or timeout during lock acquisition\n"
        assert not waiter_session_exists()
    finally:
        for p in (holder, waiter):
            if p is not None and p.poll() is None:
                p.terminate()  # lets the holder release its lock
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def test_lost_lock_terminates_the_child(shared_agent: AgentProcess, tmp_path: Path) -> None:
    addr = shared_agent.http_addr
    started, got_term = tmp_path / "started", tmp_path / "term"
    script = f"trap 'touch {got_term}; exit 0' TERM; touch {started}; while true; do sleep 0.1; done"
    holder = _start(addr, "jobs/lost", script)
    try:
        wait_until(started.exists, 20.0, what="child start")
        pairs = shared_agent.get_json("/v1/kv/jobs/lost/.lock")
        session = pairs[0]["Session"]
        status, _, _ = shared_agent.request("PUT", f"/v1/session/destroy/{session}")
        assert status == 200
        assert holder.wait(20) == 0
        assert got_term.exists()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_semaphore_admits_at_most_n_holders(shared_agent: AgentProcess, tmp_path: Path) -> None:
    addr = shared_agent.http_addr
    log, go = tmp_path / "log", tmp_path / "go"
    script = f"echo start >> {log}; while [ ! -e {go} ]; do sleep 0.05; done; echo end >> {log}"
    procs = [_start(addr, "-n=2", "jobs/sem", script) for _ in range(3)]
    try:
        def starts() -> int:
            return log.read_text().count("start") if log.exists() else 0

        wait_until(lambda: starts() == 2, 20.0, what="two holders")
        # Every contender has registered its own key before any of them checks the slots.
        wait_until(lambda: len(consul("kv", "get", "-keys", "jobs/sem/", addr=addr).out.split()) == 4, 20.0, what="three contenders and the .lock document")
        doc = shared_agent.get_json("/v1/kv/jobs/sem/.lock")[0]
        import base64

        sem = json.loads(base64.b64decode(doc["Value"]))
        assert sem["Limit"] == 2 and len(sem["Holders"]) == 2
        assert starts() == 2
        go.touch()
        for p in procs:
            assert p.wait(30) == 0
        running = peak = 0
        for line in log.read_text().split():
            running += 1 if line == "start" else -1
            peak = max(peak, running)
        assert peak == 2 and log.read_text().count("end") == 3
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert consul("kv", "get", "-recurse", "jobs/sem", addr=addr).out == ""


def test_argument_errors() -> None:
    assert consul("lock", "only-prefix").err == "Key prefix and child command must be specified\n"
    assert consul("lock", "-n=0", "p", "true").err == "Lock holder limit must be positive\n"
    assert consul("lock", "-monitor-retry=-1", "p", "true").err == "Number for 'monitor-retry' must be >= 0\n"


def test_lock_is_compatible_with_kv_flags_value(shared_agent: AgentProcess) -> None:
    """A key used by something else (wrong flags) is a conflict, as with Consul's lock."""
    addr = shared_agent.http_addr
    assert shared_agent.request("PUT", "/v1/kv/jobs/conflict/.lock", b"x")[0] == 200
    r = consul("lock", "jobs/conflict", "true", addr=addr)
    assert (r.code, r.err) == (1, "Lock acquisition failed: Existing key does not match lock use\n")
