"""The typed consensus errors: a refused forwarded write comes back as its type and is retried
at the leader; a leader that cannot be connected to is told apart from one that went silent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from pyconsul.consensus.errors import ForwardFailed, LeadershipLost, NoLeader, NotLeader
from pyconsul.consensus.raft import RaftConsensus, _surely_not_appended
from pyconsul.fsm import commands as c
from pyconsul.fsm.machine import StateMachine
from pyconsul.raft.node import REFUSED, _placement
from pyconsul.raft.tcp_transport import TCPTransport
from pyconsul.raft.transport import CallHandler, ConnectFailed, MessageHandler, Transport, UnreachableHandler
from pyconsul.state.store import StateStore
from tests.raft.test_consensus import leader_of, make_configs
from tests.support.ports import free_port
from tests.support.wait import async_wait_until as until


def test_a_refused_placement_raises_its_type() -> None:
    with pytest.raises(NotLeader) as err:
        _placement([REFUSED, "not-leader", "10.0.0.2:8300"])
    assert err.value.leader == "10.0.0.2:8300" and "10.0.0.2:8300" in str(err.value)
    with pytest.raises(LeadershipLost):
        _placement([REFUSED, "leadership-lost", ""])
    assert _placement([7, 3]) == (7, 3)


def test_only_writes_surely_not_appended_are_retried() -> None:
    assert _surely_not_appended(NotLeader("x"), leader_was_known=True)
    assert _surely_not_appended(LeadershipLost(), leader_was_known=True)
    assert _surely_not_appended(ForwardFailed("refused", delivered=False), leader_was_known=True)
    assert not _surely_not_appended(ForwardFailed("connection lost"), leader_was_known=True)
    assert not _surely_not_appended(NoLeader("raft is shutting down"), leader_was_known=True)
    assert _surely_not_appended(NoLeader(), leader_was_known=False)


async def test_a_call_to_a_closed_port_is_connect_failed() -> None:
    async def no_calls(method: str, body: Any) -> Any:
        raise ValueError(method)

    t = TCPTransport("127.0.0.1", 0)
    await t.start("a", lambda *_: None, no_calls, lambda _: None)
    try:
        with pytest.raises(ConnectFailed):
            await t.call(f"127.0.0.1:{free_port()}", "echo", 1, timeout=2)
    finally:
        await t.stop()


class StaleLeaderOnce:
    """The first forwarded write is answered as a server that just lost leadership would: a
    refusal naming no leader (a fault that cannot be timed for real)."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.refused = 0

    @property
    def address(self) -> str:
        return self.inner.address

    async def start(self, local_id: str, on_messages: MessageHandler, on_call: CallHandler,
                    on_unreachable: UnreachableHandler) -> None:
        await self.inner.start(local_id, on_messages, on_call, on_unreachable)

    def send(self, addr: str, messages: list[Any]) -> None:
        self.inner.send(addr, messages)

    async def call(self, addr: str, method: str, body: Any, timeout: float = 5.0) -> Any:
        if method == "raft.propose" and not self.refused:
            self.refused += 1
            return [REFUSED, "not-leader", ""]
        return await self.inner.call(addr, method, body, timeout)

    async def stop(self) -> None:
        await self.inner.stop()


class Server:
    def __init__(self, cfg: Any) -> None:
        self.store = StateStore()
        self.transport = StaleLeaderOnce(
            TCPTransport(cfg.bind_addr, cfg.ports.server, f"{cfg.bind_addr}:{cfg.ports.server}"))
        self.cons = RaftConsensus(cfg, StateMachine(self.store), transport=self.transport, hold_timeout=5.0)


@pytest.fixture
async def servers(tmp_path: Path) -> AsyncIterator[list[Server]]:
    srvs = [Server(cfg) for cfg in make_configs(tmp_path)]
    for s in srvs:
        await s.cons.start()
    yield srvs
    for s in srvs:
        await s.cons.stop()


async def test_a_forwarded_write_refused_as_not_leader_reaches_the_leader(servers: list[Server]) -> None:
    await until(lambda: leader_of(servers) is not None  # type: ignore[arg-type]
                and all(s.cons.leader_status().known_leader for s in servers), what="a leader known to all")
    follower = next(s for s in servers if not s.cons.leader_status().is_leader)
    assert await follower.cons.apply(c.KVOp(verb="set", key="retried", value=b"1")) is True
    assert follower.transport.refused == 1
    await until(lambda: all(s.store.kv.get(None, "retried")[1] is not None for s in servers), what="replicated")
