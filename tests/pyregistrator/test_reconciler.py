"""The reconciler converges whatever the interleaving of container changes, event delivery,
worker steps, agent outages (with the agent forgetting everything) and lost event streams."""

from __future__ import annotations

import asyncio
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyregistrator.events import ContainerEvent, StreamConnected
from pyregistrator.mapping import MappingConfig, container_services
from pyregistrator.plan import is_serving
from pyregistrator.reconciler import Reconciler, ReconcilerOptions
from tests.pyregistrator.fakes import MemoryEngine, MemoryRegistry

MAPPING = MappingConfig("vm", host_ip="127.0.0.1")
FOREIGN = {"ID": "db-1", "Service": "db", "Tags": [], "Address": "", "Port": 5432, "Meta": {}}
ZOMBIE = {"ID": "vm:gone-container:80", "Service": "nginx", "Tags": [], "Address": "", "Port": 1, "Meta": {}}

containers = st.integers(0, 1)
ops = st.one_of(
    st.tuples(st.just("run"), containers, st.sampled_from(["plain", "two-ports", "ignored", "udp"])),
    st.tuples(st.just("stop"), containers, st.sampled_from([0, 1, 137])),
    st.tuples(st.just("start"), containers),
    st.tuples(st.just("pause"), containers, st.booleans()),
    st.tuples(st.just("rm"), containers),
    st.tuples(st.just("deliver")),
    st.tuples(st.just("step")),
    st.tuples(st.just("deliver+step")),
    st.tuples(st.just("deliver+step")),
    st.tuples(st.just("agent"), st.booleans(), st.booleans()),  # up?, forgets everything?
    st.tuples(st.just("engine"), st.booleans()),
    st.tuples(st.just("reconnect")),  # the event stream broke: undelivered events are lost
)

SHAPES = {
    "plain": ({"80/tcp": "8080"}, []),
    "two-ports": ({"80/tcp": "8080", "443/tcp": "8443"}, ["SERVICE_TAGS=a"]),
    "ignored": ({"80/tcp": "8080"}, ["SERVICE_IGNORE=1"]),
    "udp": ({"53/udp": "5353"}, ["SERVICE_NAME=dns"]),
}


async def scenario(steps: list[tuple], cleanup: bool) -> None:
    engine, registry = MemoryEngine(), MemoryRegistry()
    registry.services_held = {"db-1": dict(FOREIGN), ZOMBIE["ID"]: dict(ZOMBIE)}
    rec = Reconciler(engine, registry, MAPPING, ReconcilerOptions(cleanup=cleanup))
    pending: list[ContainerEvent] = []
    forgot = False
    rec.notice(StreamConnected(1))
    await rec.step()
    for op in steps:
        kind, args = op[0], op[1:]
        cid = f"c{args[0]}" if args and kind in ("run", "stop", "start", "pause", "rm") else ""
        exists = cid in engine.containers
        state = engine.containers[cid]["State"] if exists else {}
        if kind == "run" and not exists:
            published, env = SHAPES[args[1]]
            pending += engine.create_and_start(cid, f"web{args[0]}", published, env)
        elif kind == "stop" and exists and state["Running"]:
            pending += engine.stop(cid, args[1])
        elif kind == "start" and exists and not state["Running"]:
            pending += engine.start(cid)
        elif kind == "pause" and exists and state["Running"] and state["Paused"] != args[1]:
            pending += engine.pause(cid, args[1])
        elif kind == "rm" and exists and not state["Running"]:
            pending += engine.remove(cid)
        if kind in ("deliver", "deliver+step"):
            for event in pending:
                rec.notice(event)
            pending.clear()
        if kind in ("step", "deliver+step"):
            await rec.step()
        if kind == "agent":
            registry.up = args[0]
            if args[1]:
                registry.services_held.clear()  # a -dev agent restarted
                forgot = True
        elif kind == "engine":
            engine.up = args[0]
        elif kind == "reconnect" and engine.up:
            pending.clear()
            rec.notice(StreamConnected(2))
    # Everything comes back; the worker runs until it has nothing left to do.
    engine.up = registry.up = True
    for event in pending:
        rec.notice(event)
    if forgot:
        # An agent that restarts empty while nothing changes is noticed by -resync (as with
        # registrator): here its timer fires once.
        rec._relist = rec._full_sync = True
    for _ in range(10):
        if not (rec._dirty or rec._full_sync or rec._relist):
            break
        await rec.step()
    if rec._retry_task is not None:
        rec._retry_task.cancel()

    want = {
        s.id: s
        for c in engine.containers.values()
        if is_serving(c)
        for s in container_services(c, MAPPING)
    }
    held = registry.services_held
    ours = {sid for sid in held if sid.startswith("vm:") and sid != ZOMBIE["ID"]}
    assert ours == set(want), (ours, set(want))
    for sid, reg in want.items():
        assert reg.matches_agent(held[sid]), (held[sid], reg)
    assert held.get("db-1") == FOREIGN or "db-1" not in held  # only an agent restart drops it
    if cleanup:
        assert ZOMBIE["ID"] not in held


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ops, min_size=4, max_size=30), st.booleans())
def test_agent_ends_up_holding_exactly_what_runs(steps: list[tuple], cleanup: bool) -> None:
    asyncio.run(scenario(steps, cleanup))


def test_changes_during_an_agent_outage_are_applied_when_it_answers() -> None:
    asyncio.run(
        scenario(
            [("run", 0, "plain"), ("deliver+step",), ("agent", False, False), ("stop", 0, 0),
             ("run", 1, "two-ports"), ("deliver+step",), ("agent", True, False)],
            cleanup=False,
        )
    )


def test_an_inspection_that_fails_is_retried() -> None:
    asyncio.run(scenario([("run", 0, "plain"), ("engine", False), ("deliver+step",)], cleanup=False))


async def test_script_check_without_opt_in_is_skipped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    engine, registry = MemoryEngine(), MemoryRegistry()
    rec = Reconciler(engine, registry, MAPPING, ReconcilerOptions())
    engine.create_and_start("c1", "evil", {"80/tcp": "8080"}, ["SERVICE_CHECK_SCRIPT=id > /tmp/owned"])
    rec.notice(StreamConnected(1))
    with caplog.at_level(logging.WARNING, logger="pyregistrator"):
        await rec.step()
    assert "vm:evil:80" in registry.services_held  # the service itself is still registered
    assert rec.desired()["vm:evil:80"].check is None
    assert any("evil" in r.getMessage() and "-script-checks" in r.getMessage() for r in caplog.records)
