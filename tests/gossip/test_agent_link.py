"""MembershipLink: joins as an agent does them, and the leader's catalog following gossip."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from pyconsul.clock import FakeClock
from pyconsul.config.runtime import Ports, RuntimeConfig
from pyconsul.fsm.commands import Command
from pyconsul.fsm.machine import StateMachine
from pyconsul.gossip.agent_link import JoinError, MembershipLink
from pyconsul.state.store import StateStore
from tests.agent_proc import free_tcp_udp_port
from tests.gossip.helpers import wait_for


class LeaderCatalog:
    def __init__(self) -> None:
        self.store = StateStore(FakeClock())
        self.machine = StateMachine(self.store)
        self.index = 0

    async def write(self, cmd: Command) -> Any:
        self.index += 1
        return self.machine.apply_command(self.index, cmd)

    def serf(self, node: str) -> str | None:
        checks = self.store.node_checks(None, node)[1]
        return next((c["Status"] for c in checks if c["CheckID"] == "serfHealth"), None)


def cfg(host: str, name: str, port: int = 0, server: bool = False, **kw: Any) -> RuntimeConfig:
    c = RuntimeConfig(node_name=name, bind_addr=host, server=server, ports=Ports(serf_lan=port, server=8300),
                      **kw)
    c.extra["gossip_lan"] = {"probe_interval": "100ms", "probe_timeout": "50ms", "gossip_interval": "20ms",
                             "suspicion_mult": 3}
    return c


@pytest.fixture
async def links() -> AsyncIterator[list[MembershipLink]]:
    out: list[MembershipLink] = []
    yield out
    for link in out:
        await link.stop()


async def test_start_join_that_reaches_nobody_fails_startup() -> None:
    port = free_tcp_udp_port("127.0.0.2")
    link = MembershipLink(cfg("127.0.0.1", "c", start_join=[f"127.0.0.2:{port}"]), LeaderCatalog().store,
                          LeaderCatalog().write, lambda: False)
    with pytest.raises(JoinError, match="127.0.0.2"):
        await link.start()


async def test_leader_catalog_follows_a_client_through_join_failure_and_leave(links: list[MembershipLink]) -> None:
    catalog = LeaderCatalog()
    server_port = free_tcp_udp_port("127.0.0.1")
    # The client starts first and keeps retrying until the server is up.
    client = MembershipLink(cfg("127.0.0.4", "c1", retry_join=[f"127.0.0.1:{server_port}"], retry_interval=0.05),
                            LeaderCatalog().store, LeaderCatalog().write, lambda: False)
    await client.start()
    links.append(client)
    server = MembershipLink(cfg("127.0.0.1", "s1", port=server_port, server=True), catalog.store, catalog.write,
                            lambda: True)
    await server.start()
    links.append(server)
    await wait_for(lambda: catalog.serf("c1") == "passing" and catalog.serf("s1") == "passing")
    assert catalog.store.get_node(None, "c1")[1]["Address"] == "127.0.0.4"
    assert client.server_addresses() == ["127.0.0.1:8300"]
    # crash → critical, still in the catalog
    await client.membership.stop()
    await wait_for(lambda: catalog.serf("c1") == "critical")
    # restart and rejoin → passing again
    client2 = MembershipLink(cfg("127.0.0.4", "c1", start_join=[f"127.0.0.1:{server_port}"]), LeaderCatalog().store,
                             LeaderCatalog().write, lambda: False)
    await client2.start()
    links.append(client2)
    await wait_for(lambda: catalog.serf("c1") == "passing")
    # graceful leave → deregistered
    links.remove(client2)
    await client2.stop(leave=True)
    await wait_for(lambda: catalog.store.get_node(None, "c1")[1] is None)
