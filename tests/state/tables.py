"""A real StateStore driven through the FSM, and a probe of which watch topics a write fires."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pyconsul.clock import Clock, FakeClock
from pyconsul.fsm import commands as c
from pyconsul.fsm.machine import StateMachine
from pyconsul.state.store import StateStore
from pyconsul.state.watch import Topic


class Applied:
    """A store whose every write is one command applied at the next log index."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.store = StateStore(self.clock)
        self.machine = StateMachine(self.store)
        self.index = 0

    def apply(self, cmd: c.Command) -> Any:
        self.index += 1
        return self.machine.apply(self.index, c.encode(cmd))

    def ok(self, cmd: c.Command) -> Any:
        out = self.apply(cmd)
        assert not isinstance(out, Exception), out
        return out

    def fired(self, topics: Iterable[Topic], cmd: c.Command) -> set[Topic]:
        """Which of `topics` the command woke (each subscribed on its own)."""
        return fired(self.store, topics, lambda: self.apply(cmd))


def fired(store: StateStore, topics: Iterable[Topic], write: Callable[[], Any]) -> set[Topic]:
    woke: set[Topic] = set()
    for t in topics:
        store.watches.subscribe([t], lambda t=t: woke.add(t))
    write()
    return woke


def register(node: str, service: str = "", sid: str = "", status: str = "passing",
             address: str = "10.0.0.1", tags: list[str] | None = None, check_id: str = "") -> c.Register:
    """A node, optionally one service instance with one service check."""
    if not service:
        return c.Register(node={"Node": node, "Address": address})
    sid = sid or service
    return c.Register(
        node={"Node": node, "Address": address},
        service={"ID": sid, "Service": service, "Port": 80, "Tags": tags or []},
        checks=[{"CheckID": check_id or "chk-" + sid, "Name": "chk", "Status": status, "ServiceID": sid}],
    )


def node_check(node: str, check_id: str, status: str) -> c.Register:
    return c.Register(node={"Node": node, "Address": "10.0.0.1"},
                      checks=[{"CheckID": check_id, "Name": check_id, "Status": status}])


def kv_set(key: str, value: bytes = b"v", flags: int = 0) -> c.KVOp:
    return c.KVOp(verb="set", key=key, value=value, flags=flags)
