"""Default-mode reads are answered from a server's own state only after Raft's barrier holds
there (lease, an entry of its own term applied), not merely while the
server believes it leads: a leader cut off from the others stops serving them."""

from __future__ import annotations

import time

from pyconsul.consensus.errors import NoLeader
from pyconsul.fsm import commands as c
from tests.raft.test_consensus import Server, leader_of, servers  # noqa: F401  (fixture)
from tests.support.wait import async_wait_until


def addr_of(s: Server) -> str:
    return f"{s.cfg.bind_addr}:{s.cfg.ports.server}"


async def test_an_isolated_leader_stops_answering_default_reads(servers: list[Server]) -> None:  # noqa: F811
    await async_wait_until(lambda: leader_of(servers) is not None, 10.0, what="leader")
    old = leader_of(servers)
    assert old is not None
    await async_wait_until(lambda: old.cons.leader_status().leader_reads, 10.0, what="the leader's barrier")
    assert await old.cons.apply(c.KVOp(verb="set", key="k", value=b"old")) is True
    rest = [s for s in servers if s is not old]
    for s in rest:  # cut the leader off both ways
        old.faults.blocked.add(addr_of(s))
        s.faults.blocked.add(addr_of(old))
    await async_wait_until(lambda: leader_of(rest) is not None, 15.0, what="a new leader among the rest")
    new = leader_of(rest)
    assert new is not None
    assert await new.cons.apply(c.KVOp(verb="set", key="k", value=b"new")) is True
    # The write is acknowledged; whatever the old leader still believes, it must not answer a
    # default-mode read from its state (which says "old").
    st = old.cons.leader_status()
    assert not st.leader_reads, st
    started = time.monotonic()
    try:
        await old.cons.barrier(consistent=False)
        raise AssertionError("the cut-off server passed the read barrier")
    except NoLeader:
        pass
    assert time.monotonic() - started < 10
    # The new leader's barrier holds once it has committed in its term and applied.
    await async_wait_until(lambda: new.cons.leader_status().leader_reads, 10.0, what="the new leader's barrier")
