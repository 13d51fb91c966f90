"""A client agent answers DNS for the whole catalog (the walkthrough's CoreDNS forwards `.consul`
to clients as well as servers). Needs the agent to serve DNS on clients through
`start_client_dns_server(config, forwarder.request)`."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.agent_proc import free_port, free_tcp_udp_port, start_agent


def _poll(pred: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return False


def test_client_agent_answers_for_services_registered_on_the_server(tmp_path: Path) -> None:
    server = start_agent(tmp_path / "s", "-server", "-bootstrap", "-data-dir", str(tmp_path / "s" / "data"),
                         dev=False, name="srv", host="127.0.0.41")
    ports = {"http": free_port("127.0.0.42"), "dns": free_tcp_udp_port("127.0.0.42"),
             "server": free_port("127.0.0.42"), "serf_lan": free_tcp_udp_port("127.0.0.42")}
    client = None
    try:
        client = start_agent(tmp_path / "c", "-data-dir", str(tmp_path / "c" / "data"), "-retry-join",
                             f"127.0.0.41:{server.serf_lan_port}", "-retry-interval", "1s", dev=False,
                             name="cli", host="127.0.0.42", ports=ports)
        body = {"Node": "db-host", "Address": "10.60.0.5", "Service": {"Service": "mysql", "Port": 3306}}
        assert server.request("PUT", "/v1/catalog/register", body)[0] == 200

        def client_answers() -> bool:
            out = subprocess.run(["dig", "@127.0.0.42", "-p", str(ports["dns"]), "+short", "+time=1", "+tries=1",
                                  "mysql.service.consul"], capture_output=True, text=True, timeout=10).stdout
            return out.split() == ["10.60.0.5"]

        assert _poll(client_answers, 10)
        status, _, _ = server.request("PUT", "/v1/catalog/deregister", {"Node": "db-host"})
        assert status == 200

        def gone() -> bool:
            out = subprocess.run(["dig", "@127.0.0.42", "-p", str(ports["dns"]), "+time=1", "+tries=1",
                                  "mysql.service.consul"], capture_output=True, text=True, timeout=10).stdout
            return "NXDOMAIN" in out

        assert _poll(gone, 20)
    finally:
        if client is not None:
            client.stop()
        server.stop()
