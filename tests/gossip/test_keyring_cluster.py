"""Gossip key rotation on real agents (one server, two clients on 127.0.0.1-3): a key is installed,
made primary and the old one removed through /v1/operator/keyring and `pyconsul keyring`, with every
member alive throughout; an agent that kept only the old key is cut off; the keyring file carries
the new key across a restart; and encryption is turned on in a running plaintext cluster with
encrypt_verify_incoming / encrypt_verify_outgoing, one agent at a time."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.agents import AgentProcess, start_agent
from tests.support.wait import wait_until

K1 = base64.b64encode(b"\x01" * 32).decode()
K2 = base64.b64encode(b"\x02" * 32).decode()
ALIVE = 1
NAMES = ("node1", "node2", "node3")


def statuses(agent: AgentProcess) -> dict[str, int]:
    return {m["Name"]: m["Status"] for m in agent.get_json("/v1/agent/members")}


def all_alive(agents: list[AgentProcess], names: tuple[str, ...] = NAMES) -> bool:
    return all(all(statuses(a).get(n) == ALIVE for n in names) for a in agents)


def keyring_cli(agent: AgentProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pyconsul", "keyring", f"-http-addr={agent.http_addr}", *args],
                          capture_output=True, text=True, timeout=30, env={**os.environ})


def lan(agent: AgentProcess) -> dict[str, object]:
    pools = agent.get_json("/v1/operator/keyring")
    return next(p for p in pools if not p["WAN"])


def start_cluster(tmp_path: Path, *flags: str) -> list[AgentProcess]:
    server = start_agent(tmp_path / "n1", "-server", "-bootstrap", "-data-dir", str(tmp_path / "n1/data"), *flags,
                         host="127.0.0.1", dev=False, name="node1")
    agents = [server]
    join = f"127.0.0.1:{server.serf_lan_port}"
    for i in (2, 3):
        agents.append(start_agent(tmp_path / f"n{i}", "-data-dir", str(tmp_path / f"n{i}/data"), "-retry-join", join,
                                  *flags, host=f"127.0.0.{i}", dev=False, name=f"node{i}"))
    wait_until(lambda: all_alive(agents), 20, what="three alive members")
    return agents


@pytest.fixture
def encrypted(tmp_path: Path) -> Iterator[list[AgentProcess]]:
    agents = start_cluster(tmp_path, "-encrypt", K1)
    try:
        yield agents
    finally:
        for a in agents:
            a.stop()


def test_rotating_the_key_keeps_every_member_and_the_file_carries_it_across_a_restart(
        encrypted: list[AgentProcess], tmp_path: Path) -> None:
    server, node2, node3 = encrypted
    pools = server.get_json("/v1/operator/keyring")
    assert [(p["WAN"], p["Keys"], p["PrimaryKeys"], p["NumNodes"]) for p in pools] == [
        (True, {K1: 1}, {K1: 1}, 1), (False, {K1: 3}, {K1: 3}, 3)]
    assert pools[1]["Datacenter"] == "dc1" and pools[1]["Segment"] == "" and pools[1]["Messages"] == {}

    r = keyring_cli(node2, "-install", K2)  # asked of a client: it reaches every member too
    assert (r.returncode, r.stdout) == (0, "==> Installing new gossip encryption key...\n"), r.stderr
    assert lan(server)["Keys"] == {K1: 3, K2: 3} and lan(server)["PrimaryKeys"] == {K1: 3}
    assert all_alive(encrypted)

    status, _, body = server.request("DELETE", "/v1/operator/keyring", {"Key": K1})
    assert status == 500
    assert body.decode().startswith("6 errors occurred:\n\t* WAN error: 1/1 nodes reported failure\n\t"
                                    "* node1.dc1: Removing the primary key is not allowed\n\t"
                                    "* dc1 (LAN) error: 3/3 nodes reported failure\n\t"
                                    "* node1: Removing the primary key is not allowed"), body

    r = keyring_cli(server, "-use", K2)
    assert (r.returncode, r.stdout) == (0, "==> Changing primary gossip encryption key...\n"), r.stderr
    assert lan(server)["PrimaryKeys"] == {K2: 3}
    assert all_alive(encrypted)

    r = keyring_cli(server, "-remove", K1)
    assert (r.returncode, r.stdout) == (0, "==> Removing gossip encryption key...\n"), r.stderr
    r = keyring_cli(server, "-list")
    assert r.returncode == 0
    assert r.stdout == (f"==> Gathering installed encryption keys...\n\nWAN:\n  {K2} [1/1]\n\n"
                        f"dc1 (LAN):\n  {K2} [3/3]\n")
    for i in (1, 2, 3):
        path = tmp_path / f"n{i}/data/serf/local.keyring"
        assert json.loads(path.read_text()) == [K2]
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

    # Gossip now runs on K2 alone: a new agent holding only K2 joins and all see it.
    node4 = start_agent(tmp_path / "n4", "-data-dir", str(tmp_path / "n4/data"), "-encrypt", K2,
                        "-retry-join", f"127.0.0.1:{server.serf_lan_port}", host="127.0.0.4", dev=False, name="node4")
    try:
        wait_until(lambda: all_alive([*encrypted, node4], (*NAMES, "node4")), 20, what="node4 joined on K2")
    finally:
        node4.stop()

    # Restarted with `-encrypt K1` still on its command line, node2 keeps the file's K2 and rejoins.
    node2.restart(need_leader=True)
    assert "LAN keyring exists but -encrypt given, using keyring" in node2.log()
    wait_until(lambda: all_alive(encrypted, NAMES), 20, what="node2 back after its restart")
    assert lan(node2)["Keys"] == {K2: 3}


def test_an_agent_left_with_only_the_old_key_is_cut_off(encrypted: list[AgentProcess], tmp_path: Path) -> None:
    server, node2, node3 = encrypted
    node3.stop()  # away during the rotation: its keyring file keeps only K1
    wait_until(lambda: statuses(server)["node3"] != ALIVE, 20, what="node3 gone")
    for args in (("-install", K2), ("-use", K2), ("-remove", K1)):
        r = keyring_cli(server, *args)
        assert r.returncode == 0, r.stderr
    node3.restart(wait=False)  # a client that reaches no server never reports a leader
    wait_until(lambda: node3.request("GET", "/v1/agent/self", timeout=2)[0] == 200, 20, what="node3 serving")
    # Its packets no longer open on the others, nor theirs on it: it never comes back.
    wait_until(lambda: "dropped stream from 127.0.0.3" in server.log(), 30, what="the server dropping node3's join")
    assert "no installed key decrypts this message" in server.log()
    assert statuses(server)["node3"] != ALIVE and statuses(node2)["node3"] != ALIVE
    assert statuses(node3).get("node1") != ALIVE
    assert lan(server)["Keys"] == {K2: 2}


def _restart_with(agent: AgentProcess, *flags: str) -> None:
    base = agent.args[: agent.args.index("-serf-lan-port") + 2]
    rest = agent.args[len(base):]
    # Keep the cluster flags (data dir, join, server role); drop earlier encryption settings.
    kept: list[str] = []
    skip = False
    for arg in rest:
        if skip:
            skip = False
            continue
        if arg in ("-encrypt", "-hcl"):
            skip = True
            continue
        kept.append(arg)
    agent.stop()
    agent.args = [*base, *kept, *flags]
    agent.restart(need_leader=agent.name == "node1")


def test_turning_encryption_on_in_a_running_plaintext_cluster_without_an_outage(tmp_path: Path) -> None:
    agents = start_cluster(tmp_path)
    try:
        steps = [
            ("-hcl", "encrypt_verify_incoming = false", "-hcl", "encrypt_verify_outgoing = false"),
            ("-hcl", "encrypt_verify_incoming = false", "-hcl", "encrypt_verify_outgoing = true"),
            ("-hcl", "encrypt_verify_incoming = true", "-hcl", "encrypt_verify_outgoing = true"),
        ]
        for step in steps:
            # One agent at a time, the others still on the previous step: each must keep or
            # regain every member before the next one restarts.
            for agent in agents:
                _restart_with(agent, "-encrypt", K1, *step)
                wait_until(lambda: all_alive(agents), 30, what=f"all alive after {agent.name} took {step}")
        assert lan(agents[0])["Keys"] == {K1: 3}
        # Fully encrypted now: a plaintext agent cannot join.
        plain = start_agent(tmp_path / "n4", "-data-dir", str(tmp_path / "n4/data"), host="127.0.0.4",
                            dev=False, name="node4", wait=False)
        try:
            wait_until(lambda: plain.request("GET", "/v1/agent/self", timeout=2)[0] == 200, 20, what="node4 serving")
            status, _, body = plain.request("PUT", f"/v1/agent/join/127.0.0.1:{agents[0].serf_lan_port}")
            assert status != 200, body
            assert "node4" not in statuses(agents[0])
        finally:
            plain.stop()
    finally:
        for a in agents:
            a.stop()
