"""The five-machine layout of the TLS-cluster walkthrough (3 servers with bootstrap_expect 3, 2
clients with retry_join) on .51–.55 of this worker's own loopback block (so parallel workers never
share an address) with the standard ports, driven as an operator would: config files, `members`,
and the loss of one server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.agents import AgentProcess, start_agent
from tests.support.ports import loopbacks
from tests.support.wait import wait_until

SERVERS = loopbacks(3, first=51)
CLIENTS = loopbacks(2, first=54)
STANDARD = {"http": 8500, "dns": 8600, "server": 8300, "serf_lan": 8301}


def _conf(tmp: Path, ip: str, server: bool) -> Path:
    conf = {
        "data_dir": str(tmp / ip / "data"),
        "node_name": ip,
        "bind_addr": ip,
        "client_addr": ip,
        "datacenter": "dc1",
        "domain": "consul",
        "leave_on_terminate": True,
        "log_level": "INFO",
        "retry_join": SERVERS,
        "retry_interval": "1s",
    }
    if server:
        conf.update({"bootstrap_expect": 3, "server": True, "ui": False})
    else:
        conf.update({"rejoin_after_leave": True, "enable_script_checks": True})
    path = tmp / ip / "conf.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(conf))
    return path


def _start(tmp: Path, ip: str, server: bool) -> AgentProcess:
    return start_agent(tmp / ip, "-config-file", str(_conf(tmp, ip, server)), dev=False, name=ip, host=ip,
                       ports=STANDARD, wait=False)


def test_three_servers_two_clients_survive_a_server_loss(tmp_path: Path) -> None:
    agents = {ip: _start(tmp_path, ip, ip in SERVERS) for ip in SERVERS + CLIENTS}
    try:
        for a in agents.values():
            a.wait_ready(timeout=30)
        def all_alive() -> bool:
            members = agents[CLIENTS[0]].get_json("/v1/agent/members")
            return len(members) == 5 and all(m["Status"] == 1 for m in members)

        assert wait_until(all_alive, 20)
        out = subprocess.run([sys.executable, "-m", "pyconsul", "members", "-http-addr", f"{CLIENTS[0]}:8500"],
                             capture_output=True, text=True, timeout=20)
        assert out.returncode == 0, out.stderr
        lines = out.stdout.splitlines()
        assert lines[0].split() == ["Node", "Address", "Status", "Type", "Build", "Protocol", "DC", "Partition", "Segment"]
        rows = {ln.split()[0]: ln.split() for ln in lines[1:]}
        assert set(rows) == set(SERVERS + CLIENTS)
        for ip, row in rows.items():
            assert row[1] == f"{ip}:8301" and row[2] == "alive"
            assert row[3] == ("server" if ip in SERVERS else "client")
        client = agents[CLIENTS[0]]
        status, _, body = client.request("PUT", "/v1/agent/service/register",
                                         {"name": "r-3306-mysql", "tags": ["slave-3306"], "port": 3306,
                                          "address": "172.16.0.2"})
        assert status == 200, body
        assert wait_until(lambda: len(client.get_json("/v1/health/service/r-3306-mysql")) == 1, 10)
        # Lose one server (the leader, the worst case): the cluster elects another, the client
        # keeps answering agent/* and keeps its service in the catalog, and writes go on.
        leader = json.loads(agents[SERVERS[0]].request("GET", "/v1/status/leader")[2]).split(":")[0]
        agents[leader].kill9()
        live = [ip for ip in SERVERS if ip != leader]
        assert wait_until(lambda: json.loads(agents[live[0]].request("GET", "/v1/status/leader")[2]) not in ("", f"{leader}:8300"), 15)
        assert "r-3306-mysql" in client.get_json("/v1/agent/services")
        assert wait_until(lambda: client.request("PUT", "/v1/kv/after-loss", b"ok")[2] == b"true", 15)
        assert agents[live[1]].request("GET", "/v1/kv/after-loss?raw")[2] == b"ok"
        assert [e["Service"]["ID"] for e in client.get_json("/v1/health/service/r-3306-mysql?passing")] == ["r-3306-mysql"]
    finally:
        for a in agents.values():
            a.stop()
