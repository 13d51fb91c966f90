"""The index table and the write transaction shared by every table."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pyconsul.state import watch
from pyconsul.state.txn import IndexTable, WriteTxn
from pyconsul.state.watch import WatchRegistry


def make() -> tuple[IndexTable, WatchRegistry, WriteTxn]:
    indexes, watches = IndexTable(), WatchRegistry()
    return indexes, watches, WriteTxn(indexes, watches)


def test_bump_raises_an_index_and_never_lowers_it() -> None:
    indexes, _, txn = make()
    txn.bump(5, "kvs", "tombstones")
    txn.bump(3, "kvs")
    txn.commit()
    assert indexes.get("kvs") == 5 and indexes.max("kvs", "tombstones", "nodes") == 5
    assert indexes.get("nodes") == 0 and indexes.max() == 0


def test_commit_wakes_only_subscribers_of_touched_topics_once() -> None:
    _, watches, txn = make()
    woke: list[str] = []
    watches.subscribe([watch.service("web")], lambda: woke.append("web"))
    watches.subscribe([watch.service("db")], lambda: woke.append("db"))
    watches.subscribe([watch.table("kvs"), watch.kv_key("k")], lambda: woke.append("kv"))
    txn.touch(watch.service("web"))
    txn.bump(2, "kvs")
    txn.touch(watch.kv_key("k"))
    assert watch.service("web") in txn.topics and watch.table("kvs") in txn.topics
    assert woke == []  # nothing wakes before the commit
    assert txn.commit() == 2
    assert sorted(woke) == ["kv", "web"]
    assert txn.topics == frozenset() and txn.commit() == 0


def test_abort_undoes_bumps_and_wakes_nobody() -> None:
    indexes, watches, txn = make()
    txn.bump(4, "nodes")
    txn.commit()
    woke: list[int] = []
    watches.subscribe([watch.nodes(), watch.table("nodes")], lambda: woke.append(1))
    txn.bump(9, "nodes", "services")
    txn.touch(watch.nodes())
    txn.abort()
    assert txn.commit() == 0 and woke == []
    assert indexes.get("nodes") == 4 and indexes.get("services") == 0
    assert "services" not in indexes.as_dict()  # a table first bumped by the aborted write is gone


def test_rollback_to_a_savepoint_keeps_what_came_before() -> None:
    indexes, _, txn = make()
    txn.bump(7, "kvs")
    txn.touch(watch.kv_key("before"))
    mark = txn.savepoint()
    txn.bump(7, "tombstones")
    txn.touch(watch.kv_key("after"))
    txn.rollback(mark)
    assert indexes.get("kvs") == 7 and indexes.get("tombstones") == 0
    assert watch.kv_key("before") in txn.topics and watch.kv_key("after") not in txn.topics


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(1, 50)), max_size=20),
       st.lists(st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.integers(1, 50)), max_size=20))
def test_abort_restores_exactly_the_committed_indexes(committed: list[tuple[str, int]],
                                                      aborted: list[tuple[str, int]]) -> None:
    indexes, _, txn = make()
    for table, idx in committed:
        txn.bump(idx, table)
    txn.commit()
    before = indexes.as_dict()
    for table, idx in aborted:
        txn.bump(idx, table)
    txn.abort()
    assert indexes.as_dict() == before


def test_kv_prefix_topics_cover_every_prefix_and_only_those() -> None:
    assert set(watch.kv_prefixes("a/b")) == {watch.kv_prefix(p) for p in ("", "a", "a/", "a/b")}
    assert watch.kv_prefix("a/c") not in set(watch.kv_prefixes("a/b"))
    # the builders give distinct topics for the same name in different tables
    assert len({watch.node("x"), watch.service("x"), watch.session("x"), watch.node_sessions("x"),
                watch.kv_key("x"), watch.kv_prefix("x"), watch.check_state("x"), watch.table("x")}) == 8
