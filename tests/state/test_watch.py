"""Fine-grained wake-ups: a write wakes exactly the readers whose answer it can change."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyconsul.fsm import commands as c
from pyconsul.fsm.machine import StateMachine
from pyconsul.state.store import StateStore
from pyconsul.state.watch import WatchSet


def watcher(store: StateStore, read: Callable[[WatchSet], Any]) -> list[int]:
    ws = WatchSet()
    read(ws)
    woken: list[int] = []
    store.watches.subscribe(ws.topics, lambda: woken.append(1))
    return woken


def reg(node: str, name: str, sid: str, status: str = "passing") -> c.Register:
    return c.Register(node={"Node": node, "Address": "10.0.0.1"}, service={"ID": sid, "Service": name},
                      checks=[{"CheckID": "chk-" + sid, "Name": "chk", "Status": status, "ServiceID": sid}])


def test_service_change_wakes_only_its_watchers() -> None:
    store = StateStore()
    m = StateMachine(store)
    m.apply_command(1, reg("n1", "web", "web1"))
    m.apply_command(2, reg("n1", "db", "db1"))
    web = watcher(store, lambda ws: store.catalog.check_service_nodes(ws, "web"))
    db = watcher(store, lambda ws: store.catalog.check_service_nodes(ws, "db"))
    m.apply_command(3, reg("n1", "web", "web1", "critical"))
    assert web == [1] and db == []
    assert store.catalog.service_index("web") == 3 and store.catalog.service_index("db") == 2


def test_node_level_check_wakes_every_service_on_the_node() -> None:
    store = StateStore()
    m = StateMachine(store)
    m.apply_command(1, reg("n1", "web", "web1"))
    m.apply_command(2, reg("n2", "db", "db1"))
    web = watcher(store, lambda ws: store.catalog.check_service_nodes(ws, "web"))
    db = watcher(store, lambda ws: store.catalog.check_service_nodes(ws, "db"))
    m.apply_command(3, c.Register(node={"Node": "n1", "Address": "10.0.0.1"},
                                  checks=[{"CheckID": "serfHealth", "Name": "s", "Status": "critical"}]))
    assert web == [1] and db == []


def test_kv_prefix_watch_wakes_on_child_and_delete_but_not_elsewhere() -> None:
    store = StateStore()
    m = StateMachine(store)
    m.apply_command(1, c.KVOp(verb="set", key="app/x", value=b"1"))
    tree = watcher(store, lambda ws: store.kv.get_tree(ws, "app/"))
    other = watcher(store, lambda ws: store.kv.get(ws, "other"))
    m.apply_command(2, c.KVOp(verb="set", key="zzz", value=b"1"))
    assert tree == [] and other == []
    m.apply_command(3, c.KVOp(verb="delete", key="app/x"))
    assert tree == [1] and other == []
    idx, rows = store.kv.get_tree(None, "app/")
    assert rows == [] and idx == 3  # the tombstone keeps the index moving


def test_restore_wakes_every_waiter() -> None:
    store = StateStore()
    m = StateMachine(store)
    m.apply_command(1, c.KVOp(verb="set", key="k", value=b"1"))
    snap = m.snapshot()
    w = watcher(store, lambda ws: store.kv.get(ws, "unrelated"))
    m.restore(snap)
    assert w == [1]
