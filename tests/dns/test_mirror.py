"""A client agent's DNS: a CatalogMirror kept in step with a real server agent by blocking
queries through the client's own Forwarder (the server port), serving dig through the real DNS
server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from pyconsul.config.runtime import RuntimeConfig
from pyconsul.consensus.remote import Forwarder
from pyconsul.dns.mirror import CatalogMirror
from pyconsul.dns.server import DNSServer, start_client_dns_server
from tests.dns.procs import dig
from tests.support.agents import AgentProcess
from tests.support.ports import free_port
from tests.support.wait import async_wait_until


@pytest.fixture
async def client_dns(agent: AgentProcess) -> AsyncIterator[tuple[AgentProcess, DNSServer, CatalogMirror]]:
    # The client agent's own way to the servers: its Forwarder, over the server port.
    forwarder = Forwarder(lambda: [f"{agent.host}:{agent.server_port}"])
    fetch = forwarder.request

    cfg = RuntimeConfig(node_name="client1", client_addr="127.0.0.1")
    cfg.ports = replace(cfg.ports, dns=free_port())
    # Short blocking waits: the agent under test only exits once its in-flight blocking queries
    # have run out (reported as an agent bug), so long waits would stall the teardown.
    srv = await start_client_dns_server(cfg, fetch, wait="1s", retry=0.1)
    mirror = srv.reader
    assert isinstance(mirror, CatalogMirror)
    await asyncio.wait_for(mirror.synced.wait(), 15)
    yield agent, srv, mirror
    await srv.close()
    assert not mirror._tasks  # closing the server stopped the mirror's watches
    await forwarder.close()


def register(agent: AgentProcess, body: dict[str, object]) -> None:
    status, _, text = agent.request("PUT", "/v1/catalog/register", body)
    assert status == 200, text


async def test_client_dns_follows_the_servers_catalog(
    client_dns: tuple[AgentProcess, DNSServer, CatalogMirror],
) -> None:
    agent, srv, mirror = client_dns

    async def answers(*args: str) -> set[str]:
        return set((await dig(srv.port, "+short", *args)).split())

    # The server's own node is mirrored from the start.
    assert await answers("agent.node.consul") == {"127.0.0.1"}
    for i in (1, 2):
        register(agent, {"Node": f"app{i}", "Address": f"10.40.0.{i}",
                         "Service": {"ID": "shop", "Service": "shop", "Port": 80},
                         "Check": {"CheckID": "service:shop", "Name": "h", "Status": "passing", "ServiceID": "shop"}})

    async def both() -> bool:
        return await answers("shop.service.consul") == {"10.40.0.1", "10.40.0.2"}

    await async_wait_until(both, 15.0)
    register(agent, {"Node": "app2", "Address": "10.40.0.2",
                     "Check": {"CheckID": "service:shop", "Name": "h", "Status": "critical", "ServiceID": "shop"}})

    async def one() -> bool:
        return await answers("shop.service.consul") == {"10.40.0.1"}

    await async_wait_until(one, 15.0)
    status, _, _ = agent.request("PUT", "/v1/catalog/deregister", {"Node": "app1", "ServiceID": "shop"})
    assert status == 200

    async def only_critical_left() -> bool:
        return "NXDOMAIN" in await dig(srv.port, "shop.service.consul")

    await async_wait_until(only_critical_left, 15.0)
    status, _, _ = agent.request("PUT", "/v1/catalog/deregister", {"Node": "app2"})
    assert status == 200

    async def node_gone() -> bool:
        return "NXDOMAIN" in await dig(srv.port, "app2.node.consul")

    await async_wait_until(node_gone, 15.0)
    assert mirror.store.catalog.services(None)[1].get("shop") is None


class ScriptedServers:
    """The transport boundary, scripted: answers blocking queries from a list per path. Used only
    for what a real server cannot be made to do on demand (an index going backwards)."""

    def __init__(self, script: dict[str, list[tuple[int, object]]]) -> None:
        self.script = script
        self.asked: list[str] = []

    async def fetch(self, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
        self.asked.append(path)
        base = path.split("?")[0]
        steps = self.script.get(base, [])
        if not steps:
            await asyncio.sleep(3600)  # a blocking query with nothing new
        index, body = steps.pop(0)
        return 200, {"X-Consul-Index": str(index)}, json.dumps(body).encode()


def _entry(checks: list[dict[str, object]]) -> dict[str, object]:
    return {"Node": {"Node": "n1", "Address": "10.0.0.1", "Datacenter": "dc1", "Meta": {}},
            "Service": {"ID": "api", "Service": "api", "Port": 80, "Tags": []}, "Checks": checks}


async def test_mirror_drops_removed_checks_and_restarts_when_the_index_goes_back() -> None:
    serf = {"Node": "n1", "CheckID": "serfHealth", "Name": "serf", "Status": "passing", "ServiceID": ""}
    bad = {"Node": "n1", "CheckID": "service:api", "Name": "api", "Status": "critical", "ServiceID": "api"}
    servers = ScriptedServers({
        "/v1/catalog/nodes": [(5, [{"Node": "n1", "Address": "10.0.0.1", "Datacenter": "dc1", "Meta": {}}])],
        "/v1/catalog/services": [(5, {"api": []})],
        # critical at index 9; then the server was restored to index 3 with the check gone
        "/v1/health/service/api": [(9, [_entry([serf, bad])]), (3, [_entry([serf])])],
    })
    mirror = CatalogMirror(servers.fetch, retry=0.01)
    await mirror.start()
    try:
        await asyncio.wait_for(mirror.synced.wait(), 5)

        def check_ids() -> list[str]:
            return [c["CheckID"] for e in mirror.check_service_nodes(None, "api")[1] for c in e["Checks"]]

        async def settled() -> bool:
            return check_ids() == ["serfHealth"]

        await async_wait_until(settled, 5)
        api_asks = [p for p in servers.asked if p.startswith("/v1/health/service/api")]
        assert "index=9" in api_asks[1] and "index=0" in api_asks[2]  # went back: start over
    finally:
        await mirror.close()
