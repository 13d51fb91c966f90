"""The mesh catalog through a client agent: a sidecar registered on the client reaches the servers'
catalog (and goes with its parent), the client relays /v1/health/connect, and its DNS (the
catalog mirror) answers `<svc>.connect.consul`."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.connect.test_mesh_catalog import mesh_host
from tests.support.agents import start_agent
from tests.support.ports import free_port
from tests.support.wait import wait_until


def test_client_agent_sidecar_and_connect_dns(tmp_path: Path) -> None:
    server_host, client_host = mesh_host(21), mesh_host(22)
    server = start_agent(tmp_path / "s", "-server", "-bootstrap", "-data-dir", str(tmp_path / "s" / "data"),
                         dev=False, name="msrv", host=server_host)
    ports = {"http": free_port(), "dns": free_port(), "server": free_port(), "serf_lan": free_port()}
    client = None
    try:
        client = start_agent(tmp_path / "c", "-data-dir", str(tmp_path / "c" / "data"), "-retry-join",
                             f"{server_host}:{server.serf_lan_port}", "-retry-interval", "1s", dev=False,
                             name="mcli", host=client_host, ports=ports)
        # Own checks instead of the defaults, so the sidecar is healthy without a proxy running.
        body = {"Name": "cart", "Port": 7100, "Connect": {"SidecarService": {
            "Port": 21100, "Check": {"Name": "up", "TTL": "30s", "Status": "passing"}}}}
        status, _, text = client.request("PUT", "/v1/agent/service/register", body)
        assert status == 200, text
        wait_until(lambda: [e["Service"]["ID"] for e in server.get_json("/v1/health/connect/cart?passing")]
                   == ["cart-sidecar-proxy"], 20, what="the sidecar in the servers' catalog")
        relayed = client.get_json("/v1/health/connect/cart")
        assert relayed[0]["Node"]["Node"] == "mcli" and relayed[0]["Service"]["Port"] == 21100

        def dig(name: str, *extra: str) -> str:
            return subprocess.run(["dig", f"@{client_host}", "-p", str(ports["dns"]), "+short", "+time=1",
                                   "+tries=1", *extra, name], capture_output=True, text=True, timeout=10).stdout

        assert wait_until(lambda: dig("cart.connect.consul", "SRV").split() ==
                          ["1", "1", "21100", "mcli.node.dc1.consul."], 20, what="the client's DNS")
        assert client.request("PUT", "/v1/agent/service/deregister/cart")[0] == 200
        wait_until(lambda: server.get_json("/v1/health/connect/cart") == [], 20, what="the sidecar gone too")
        assert wait_until(lambda: dig("cart.connect.consul", "SRV") == "", 20, what="gone from the client's DNS")
    finally:
        if client is not None:
            client.stop()
        server.stop()
