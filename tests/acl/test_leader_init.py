"""What the leader writes once it leads: the global-management policy, the anonymous token and the
configured initial-management token, each once; nothing when they are all there."""

from __future__ import annotations

import asyncio
from typing import Any

from pyconsul.acl import builtins, leader_init
from pyconsul.clock import FakeClock
from pyconsul.fsm import commands as c
from tests.state.tables import Applied


def test_init_command_writes_what_is_missing_once() -> None:
    a, clock = Applied(), FakeClock(1_800_000_000.0)
    cmd = leader_init.init_command(a.store.acl, "root-secret", clock, new_id=lambda: "acc-1")
    assert cmd is not None and cmd.mark_bootstrap
    assert [p["ID"] for p in cmd.policies] == [builtins.GLOBAL_MANAGEMENT_ID]
    assert [(t["AccessorID"], t["Description"]) for t in cmd.tokens] == [
        (builtins.ANONYMOUS_ACCESSOR_ID, "Anonymous Token"), ("acc-1", "Initial Management Token")]
    a.ok(cmd)
    assert leader_init.init_command(a.store.acl, "root-secret", clock) is None
    # a new initial-management secret in the config is written as a second management token
    again = leader_init.init_command(a.store.acl, "other-secret", clock, new_id=lambda: "acc-2")
    assert again is not None and [t["AccessorID"] for t in again.tokens] == ["acc-2"] and not again.policies


def test_without_an_initial_management_token_only_the_builtins() -> None:
    a, clock = Applied(), FakeClock()
    cmd = leader_init.init_command(a.store.acl, "", clock)
    assert cmd is not None and not cmd.mark_bootstrap
    a.ok(cmd)
    assert a.store.acl.bootstrap_index == 0  # `acl bootstrap` still works


def test_run_writes_only_on_the_leader_and_stops_when_done() -> None:
    a, clock = Applied(), FakeClock()
    leader = {"now": False, "asked": 0}
    written: list[c.Command] = []

    def is_leader() -> bool:
        leader["asked"] += 1
        return bool(leader["now"])

    async def write(cmd: c.Command) -> Any:
        written.append(cmd)
        return a.ok(cmd)

    async def scenario() -> None:
        task = asyncio.ensure_future(leader_init.run(a.store.acl, "s", clock, is_leader, write, poll=0.001))

        async def asked_thrice() -> None:
            while leader["asked"] < 3:
                await asyncio.sleep(0.001)

        await asyncio.wait_for(asked_thrice(), 2)
        assert written == []  # three polls as a follower wrote nothing
        leader["now"] = True
        await asyncio.wait_for(task, 2)

    asyncio.run(scenario())
    assert len(written) == 1
