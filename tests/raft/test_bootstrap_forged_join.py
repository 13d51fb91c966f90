"""The first configuration holds only servers gossip reported: a `raft.join` made up by anyone
who can reach a fresh server's port, before gossip has reported any server, does not count
towards `bootstrap_expect` (raw Raft calls against real server processes)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from pyconsul.raft.tcp_transport import CALL, MAGIC, REPLY, _frame, _read_frame
from tests.support.agents import AgentProcess, start_agent
from tests.support.ports import free_port, loopbacks
from tests.support.wait import wait_until

FORGED_ID = "ffffffff-ffff-ffff-ffff-ffffffffffff"  # sorts last: the real server would bootstrap


def raw_call(a: AgentProcess, method: str, body: Any) -> tuple[bool, Any]:
    async def go() -> tuple[bool, Any]:
        r, w = await asyncio.open_connection(a.host, a.server_port)
        try:
            w.write(MAGIC + _frame([CALL, 7, method, body]))
            await w.drain()
            reply = await asyncio.wait_for(_read_frame(r), 10)
            assert reply[0] == REPLY and reply[1] == 7
            return bool(reply[2]), reply[3]
        finally:
            w.close()

    return asyncio.run(go())


def raft_stats(a: AgentProcess) -> dict[str, str]:
    return a.get_json("/v1/agent/self")["Stats"]["raft"]


def test_forged_join_before_gossip_does_not_bootstrap_and_real_servers_do(tmp_path: Path) -> None:
    hosts = loopbacks(2, first=60)
    server_port, serf_port = free_port(), free_port()
    ports = {"server": server_port, "serf_lan": serf_port}

    def start(i: int, *join: str) -> AgentProcess:
        flags = ["-server", "-bootstrap-expect", "2", "-data-dir", str(tmp_path / f"d{i}"), *join]
        return start_agent(tmp_path, *flags, host=hosts[i], dev=False, name=f"srv{i}", wait=False,
                           ports=dict(ports))

    first = start(0)
    second: AgentProcess | None = None
    try:
        first.wait_ready(need_leader=False)
        ok, reply = raw_call(first, "raft.join", {"id": FORGED_ID, "name": "forged", "addr": "127.0.0.9:8300",
                                                  "has_state": False})
        assert ok and isinstance(reply, dict)
        wait_until(lambda: FORGED_ID in first.log(), 5, what="the server noting the forged join")
        # Several discovery rounds (one a second) pass: the made-up server is not counted.
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            assert raft_stats(first)["last_log_index"] == "0", "bootstrapped with a made-up server"
            time.sleep(0.2)
        # A real second server, reported by gossip, completes bootstrap_expect.
        second = start(1, "-retry-join", f"{hosts[0]}:{serf_port}")
        first.wait_ready(timeout=30)
        second.wait_ready(timeout=30)
        conf = json.loads(first.request("GET", "/v1/operator/raft/configuration")[2])
        addrs = sorted(s["Address"] for s in conf["Servers"])
        assert addrs == sorted(f"{h}:{server_port}" for h in hosts)
        assert FORGED_ID not in {s["ID"] for s in conf["Servers"]}
    finally:
        for a in (first, second):
            if a is not None:
                a.stop()
