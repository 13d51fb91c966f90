"""Running out of file descriptors fails requests, never Raft: a real server agent whose
RLIMIT_NOFILE is lowered while it runs, then filled with idle connections."""

from __future__ import annotations

import http.client
import os
import resource
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.support.agents import AgentProcess, start_agent
from tests.support.ports import free_port


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def put(conn: http.client.HTTPConnection, key: str, value: bytes) -> int:
    conn.request("PUT", f"/v1/kv/{key}", body=value)
    resp = conn.getresponse()
    resp.read()
    return resp.status


def wait_for(cond: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def exhaust(a: AgentProcess, slack: int = 6) -> list[socket.socket]:
    """Lower the agent's limit to just above what it uses, then hold every descriptor left."""
    pid = a.proc.pid
    limit = open_fds(pid) + slack
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (limit, limit))
    hogs: list[socket.socket] = []
    for _ in range(slack * 3):
        hogs.append(socket.create_connection((a.host, a.http_port)))
    wait_for(lambda: open_fds(pid) >= limit - 1, 10, "the agent to use up its descriptors")
    return hogs


def test_raft_keeps_working_through_emfile(tmp_path: Path) -> None:
    a = start_agent(tmp_path, "-server", "-bootstrap", "-data-dir", str(tmp_path / "data"),
                    "-hcl", "raft_snapshot_threshold = 16", dev=False)
    try:
        conn = http.client.HTTPConnection(a.host, a.http_port, timeout=60)
        assert put(conn, "warm", b"1") == 200
        hogs = exhaust(a)
        # Snapshots need a new file: they fail and are retried; writes carry on meanwhile.
        for i in range(24):
            assert put(conn, f"small{i}", b"v") == 200, a.log()[-3000:]
        assert "could not save a snapshot" in a.log()
        # 16 MiB of values rotates the log onto a new segment file, which cannot be opened.
        done: list[int] = []

        def writer() -> None:
            big = b"x" * 500_000
            for i in range(40):
                done.append(put(conn, f"big{i}", big))

        t = threading.Thread(target=writer, daemon=True)
        t.start()
        # Usually the rotation blocks until descriptors come back (a descriptor the agent frees
        # on its own meanwhile may let it through: then only the snapshot path was exercised).
        wait_for(lambda: "cannot write its state; retrying" in a.log() or not t.is_alive(), 60, "a blocked write")
        stalled_at = len(done)
        for h in hogs:
            h.close()
        t.join(60)
        assert not t.is_alive() and done == [200] * 40, (stalled_at, done, a.log()[-3000:])
        status, _, body = a.request("GET", "/v1/kv/big39?consistent")
        assert status == 200, body
        wait_for(lambda: "raft snapshot taken" in a.log(), 30, "a snapshot once descriptors are back")
        assert "raft stopped working" not in a.log()
    finally:
        a.stop()


def test_agent_raises_its_open_file_soft_limit_to_the_hard_limit(tmp_path: Path) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = min(256, hard)
    if low >= hard:
        return  # nothing to raise on this machine

    def lower() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))

    args = [sys.executable, "-m", "pyconsul", "agent", "-dev", "-bind", "127.0.0.1", "-client", "127.0.0.1",
            "-http-port", str(free_port()), "-dns-port", str(free_port()),
            "-server-port", str(free_port()), "-serf-lan-port", str(free_port())]
    with open(tmp_path / "agent.log", "wb") as log:
        p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, preexec_fn=lower)
    try:
        wait_for(lambda: resource.prlimit(p.pid, resource.RLIMIT_NOFILE)[0] == hard or p.poll() is not None,
                 20, "the raised limit")
        assert resource.prlimit(p.pid, resource.RLIMIT_NOFILE) == (hard, hard)
    finally:
        p.terminate()
        p.wait(10)
