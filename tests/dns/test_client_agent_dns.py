"""A client agent answers DNS for the whole catalog (the walkthrough's CoreDNS forwards `.consul`
to clients as well as servers). Needs the agent to serve DNS on clients through
`start_client_dns_server(config, forwarder.request)`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.support.agents import start_agent
from tests.support.ports import free_port, loopback
from tests.support.wait import wait_until

# This worker's own addresses, so parallel runs of this test cannot meet.
SERVER_HOST, CLIENT_HOST = loopback(41), loopback(42)


def test_client_agent_answers_for_services_registered_on_the_server(tmp_path: Path) -> None:
    server = start_agent(tmp_path / "s", "-server", "-bootstrap", "-data-dir", str(tmp_path / "s" / "data"),
                         dev=False, name="srv", host=SERVER_HOST)
    ports = {"http": free_port(), "dns": free_port(), "server": free_port(), "serf_lan": free_port()}
    client = None
    try:
        client = start_agent(tmp_path / "c", "-data-dir", str(tmp_path / "c" / "data"), "-retry-join",
                             f"{SERVER_HOST}:{server.serf_lan_port}", "-retry-interval", "1s", dev=False,
                             name="cli", host=CLIENT_HOST, ports=ports)
        body = {"Node": "db-host", "Address": "10.60.0.5", "Service": {"Service": "mysql", "Port": 3306}}
        assert server.request("PUT", "/v1/catalog/register", body)[0] == 200

        def client_answers() -> bool:
            out = subprocess.run(["dig", f"@{CLIENT_HOST}", "-p", str(ports["dns"]), "+short", "+time=1", "+tries=1",
                                  "mysql.service.consul"], capture_output=True, text=True, timeout=10).stdout
            return out.split() == ["10.60.0.5"]

        assert wait_until(client_answers, 10)
        status, _, _ = server.request("PUT", "/v1/catalog/deregister", {"Node": "db-host"})
        assert status == 200

        def gone() -> bool:
            out = subprocess.run(["dig", f"@{CLIENT_HOST}", "-p", str(ports["dns"]), "+time=1", "+tries=1",
                                  "mysql.service.consul"], capture_output=True, text=True, timeout=10).stdout
            return "NXDOMAIN" in out

        assert wait_until(gone, 20)
    finally:
        if client is not None:
            client.stop()
        server.stop()


def test_client_agent_answers_prepared_queries_and_follows_their_changes(tmp_path: Path) -> None:
    server_host, client_host = loopback(43), loopback(44)
    server = start_agent(tmp_path / "s", "-server", "-bootstrap", "-data-dir", str(tmp_path / "s" / "data"),
                         dev=False, name="srv", host=server_host)
    ports = {"http": free_port(), "dns": free_port(), "server": free_port(), "serf_lan": free_port()}
    client = None

    def dig(name: str) -> list[str]:
        return subprocess.run(["dig", f"@{client_host}", "-p", str(ports["dns"]), "+short", "+time=1", "+tries=1",
                               name], capture_output=True, text=True, timeout=10).stdout.split()

    try:
        client = start_agent(tmp_path / "c", "-data-dir", str(tmp_path / "c" / "data"), "-retry-join",
                             f"{server_host}:{server.serf_lan_port}", "-retry-interval", "1s", dev=False,
                             name="cli", host=client_host, ports=ports)
        for node, addr, tag in (("db1", "10.61.0.1", "primary"), ("db2", "10.61.0.2", "replica")):
            body = {"Node": node, "Address": addr, "Service": {"Service": "mysql", "Tags": [tag], "Port": 3306}}
            assert server.request("PUT", "/v1/catalog/register", body)[0] == 200
        status, _, reply = server.request("POST", "/v1/query", {"Name": "writer", "Service": {
            "Service": "mysql", "Tags": ["primary"]}})
        assert status == 200, reply
        assert wait_until(lambda: dig("writer.query.consul") == ["10.61.0.1"], 15)
        # The definition changes on the servers; the client's answer follows.
        qid = json.loads(reply)["ID"]
        status, _, reply = server.request("PUT", f"/v1/query/{qid}", {"Name": "writer", "Service": {
            "Service": "mysql", "Tags": ["replica"]}})
        assert status == 200, reply
        assert wait_until(lambda: dig("writer.query.consul") == ["10.61.0.2"], 15)
        assert server.request("DELETE", f"/v1/query/{qid}")[0] == 200

        def gone() -> bool:
            out = subprocess.run(["dig", f"@{client_host}", "-p", str(ports["dns"]), "+time=1", "+tries=1",
                                  "writer.query.consul"], capture_output=True, text=True, timeout=10).stdout
            return "NXDOMAIN" in out

        assert wait_until(gone, 15)
    finally:
        if client is not None:
            client.stop()
        server.stop()
