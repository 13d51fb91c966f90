"""A full anti-entropy sync writes only what differs: against the servers' real state machine,
nothing changed means no write at all (the applied index does not move), one change means one
write, and an output-only change held back by check_update_interval is not pushed early."""

from __future__ import annotations

from typing import Any

import pytest

from pyconsul.agent.local_state import LocalState
from pyconsul.clock import FakeClock
from pyconsul.fsm import commands as c
from pyconsul.fsm.machine import StateMachine
from pyconsul.state.store import StateStore

NODE = {"Node": "client-1", "Address": "10.1.0.7"}


class Servers:
    """The write path as the servers apply it: each command is the next log entry."""

    def __init__(self) -> None:
        self.machine = StateMachine(StateStore())
        self.index = 0
        self.writes: list[c.Command] = []

    async def write(self, cmd: c.Command) -> Any:
        self.writes.append(cmd)
        self.index += 1
        return self.machine.apply_command(self.index, cmd)

    def view(self) -> tuple[dict[str, Any], dict[str, Any]]:
        cat = self.machine.store.catalog
        _, svcs = cat.node_services(None, NODE["Node"])
        _, chks = cat.node_checks(None, NODE["Node"])
        return {s["ID"]: s for s in svcs}, {ch["CheckID"]: ch for ch in chks}


async def loaded(services: int = 40) -> tuple[Servers, LocalState]:
    servers = Servers()
    local = LocalState(NODE["Node"], servers.write, lambda: dict(NODE), clock=FakeClock(), check_update_interval=300)
    for i in range(services):
        checks = [{"CheckID": f"web-{i}:http", "Name": "HTTP", "Type": "http", "Interval": "10s",
                   "ServiceID": f"web-{i}", "Status": "passing", "Output": "HTTP GET: 200 OK"},
                  {"CheckID": f"web-{i}:ttl", "Name": "TTL", "Type": "ttl", "ServiceID": f"web-{i}",
                   "Status": "passing", "Output": ""}]
        await local.add_service({"ID": f"web-{i}", "Service": "web", "Tags": ["v1"], "Port": 8000 + i,
                                 "Address": "", "Meta": {"shard": str(i % 4)}}, checks)
    await local.add_check({"CheckID": "mem", "Name": "mem", "Type": "ttl", "Status": "passing", "Output": "10%"})
    assert await local.full_sync(*servers.view()) == len(local.services) + 1  # the first sync pushes all
    return servers, local


@pytest.fixture
async def synced() -> tuple[Servers, LocalState]:
    servers, local = await loaded()
    local.syncing = True
    return servers, local


async def test_a_full_sync_with_nothing_changed_makes_no_write(synced: tuple[Servers, LocalState]) -> None:
    servers, local = synced
    before = (len(servers.writes), servers.machine.store.last_index)
    for _ in range(3):
        assert await local.full_sync(*servers.view()) == 0
    assert (len(servers.writes), servers.machine.store.last_index) == before


async def test_one_change_in_the_catalog_is_repaired_by_exactly_one_write(synced: tuple[Servers, LocalState]) -> None:
    servers, local = synced
    n = len(servers.writes)
    # Someone re-registered one instance on the catalog directly with other tags.
    await servers.write(c.Register(node=dict(NODE), service={"ID": "web-7", "Service": "web", "Tags": ["rogue"],
                                                             "Port": 8007}))
    assert await local.full_sync(*servers.view()) == 1
    assert len(servers.writes) == n + 2
    assert servers.view()[0]["web-7"]["Tags"] == ["v1"]
    assert await local.full_sync(*servers.view()) == 0


async def test_a_deferred_output_change_is_not_pushed_by_a_full_sync(synced: tuple[Servers, LocalState]) -> None:
    servers, local = synced
    await local.update_check("mem", "passing", "11%")  # the first output change goes out at once
    n = len(servers.writes)
    await local.update_check("mem", "passing", "12%")  # within check_update_interval: deferred
    assert len(servers.writes) == n
    assert await local.full_sync(*servers.view()) == 0
    assert servers.view()[1]["mem"]["Output"] == "11%"
    await local.update_check("mem", "critical", "95%")  # a status change goes out at once, output with it
    assert servers.view()[1]["mem"]["Status"] == "critical" and servers.view()[1]["mem"]["Output"] == "95%"
    assert await local.full_sync(*servers.view()) == 0


async def test_a_check_missing_from_the_catalog_is_put_back(synced: tuple[Servers, LocalState]) -> None:
    servers, local = synced
    await servers.write(c.Deregister(node=NODE["Node"], check_id="web-3:ttl"))
    assert await local.full_sync(*servers.view()) == 1
    assert "web-3:ttl" in servers.view()[1]


async def test_registrations_arriving_during_a_full_sync_do_not_fail_it(synced: tuple[Servers, LocalState]) -> None:
    servers, local = synced
    await servers.write(c.Deregister(node=NODE["Node"], service_id="web-1"))  # something to repair
    inner = servers.write
    arrived: list[int] = []

    async def write(cmd: c.Command) -> Any:
        if not arrived:  # while the sync awaits its first write, a new service registers
            arrived.append(1)
            local.services["late"] = {"ID": "late", "Service": "late", "Tags": [], "Port": 1}
            local.checks["late:ttl"] = {"CheckID": "late:ttl", "Name": "ttl", "ServiceID": "late",
                                        "Status": "passing", "Output": "", "Node": NODE["Node"]}
        return await inner(cmd)

    local._write = write
    assert await local.full_sync(*servers.view()) >= 1
    assert "web-1" in servers.view()[0]
    assert await local.full_sync(*servers.view()) == 1  # the late one, on the next sync
    assert await local.full_sync(*servers.view()) == 0
