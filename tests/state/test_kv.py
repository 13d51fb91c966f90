"""KV table: rows, indexes, tombstones, locks, transactions and the topics each write fires."""

from __future__ import annotations

from pyconsul.fsm import commands as c
from pyconsul.state import watch
from pyconsul.state.errors import StateError
from pyconsul.state.watch import WatchSet
from tests.state.tables import Applied, kv_set, register

KEY_TOPICS = [watch.kv_key(k) for k in ("a/b", "a/c", "b")] + [watch.kv_prefix(p) for p in ("", "a", "a/", "a/b", "a/c", "b")]


def session(sid: str, node: str = "n1", behavior: str = "release", lock_delay_ns: int = 0) -> c.SessionCreate:
    return c.SessionCreate(session={"ID": sid, "Node": node, "Behavior": behavior, "LockDelay": lock_delay_ns})


def test_set_get_and_indexes() -> None:
    a = Applied()
    a.ok(kv_set("a/b", b"1", flags=7))
    a.ok(kv_set("a/b", b"2"))
    idx, row = a.store.kv.get(None, "a/b")
    assert idx == 2 and row is not None
    assert (row["Value"], row["Flags"], row["CreateIndex"], row["ModifyIndex"], row["LockIndex"]) == (b"2", 0, 1, 2, 0)
    assert a.store.kv.get(None, "missing") == (2, None)  # a missing key reports the table index


def test_a_write_fires_its_key_and_every_prefix_of_it_only() -> None:
    a = Applied()
    assert a.fired(KEY_TOPICS, kv_set("a/b")) == {
        watch.kv_key("a/b"), watch.kv_prefix(""), watch.kv_prefix("a"), watch.kv_prefix("a/"), watch.kv_prefix("a/b")}
    assert a.fired(KEY_TOPICS, kv_set("b")) == {watch.kv_key("b"), watch.kv_prefix(""), watch.kv_prefix("b")}


def test_delete_leaves_a_tombstone_that_keeps_a_prefix_index_moving_until_reaped() -> None:
    a = Applied()
    a.ok(kv_set("a/b"))
    a.ok(kv_set("z"))
    got = a.fired(KEY_TOPICS, c.KVOp(verb="delete", key="a/b"))
    assert watch.kv_key("a/b") in got and watch.kv_prefix("a/") in got and watch.kv_key("b") not in got
    kv = a.store.kv
    assert kv.get_tree(None, "a/") == (3, [])
    assert dict(kv.tombstones) == {"a/b": 3}
    assert a.store.max_index("tombstones") == 3
    a.ok(c.TombstoneReap(index=3))
    assert dict(kv.tombstones) == {}
    assert kv.get_tree(None, "a/")[0] == 3  # nothing under the prefix: the table index (reaping moves none)
    assert a.fired(KEY_TOPICS, c.KVOp(verb="delete", key="a/b")) == set()  # deleting nothing wakes nobody


def test_cas_and_delete_cas() -> None:
    a = Applied()
    assert a.apply(c.KVOp(verb="cas", key="k", value=b"1", index=0)) is True
    assert a.apply(c.KVOp(verb="cas", key="k", value=b"2", index=0)) is False  # exists already
    assert a.apply(c.KVOp(verb="cas", key="k", value=b"2", index=99)) is False
    assert a.apply(c.KVOp(verb="cas", key="k", value=b"2", index=1)) is True
    assert a.apply(c.KVOp(verb="delete-cas", key="k", index=1)) is False
    assert a.apply(c.KVOp(verb="delete-cas", key="k", index=4)) is True
    assert a.store.kv.get(None, "k")[1] is None
    assert a.store.max_index("kvs") == 6


def test_get_tree_keys_and_separator() -> None:
    a = Applied()
    for k in ("a/b", "a/c/d", "a/c/e", "ab", "b"):
        a.ok(kv_set(k))
    kv = a.store.kv
    idx, rows = kv.get_tree(None, "a/")
    assert idx == 3 and [r["Key"] for r in rows] == ["a/b", "a/c/d", "a/c/e"]
    assert kv.keys(None, "a/", "/") == (3, ["a/b", "a/c/"])
    assert kv.keys(None, "", "")[1] == ["a/b", "a/c/d", "a/c/e", "ab", "b"]
    ws = WatchSet()
    kv.keys(ws, "a/", "/")
    kv.get(ws, "b")
    assert ws.topics == {watch.kv_prefix("a/"), watch.kv_key("b")}


def test_delete_tree_removes_only_the_prefix() -> None:
    a = Applied()
    for k in ("a/b", "a/c", "ab"):
        a.ok(kv_set(k))
    a.ok(c.KVOp(verb="delete-tree", key="a/"))
    assert list(a.store.kv.rows) == ["ab"] and set(a.store.kv.tombstones) == {"a/b", "a/c"}


def test_lock_needs_a_live_session_and_is_exclusive() -> None:
    a = Applied()
    a.ok(register("n1"))
    out = a.apply(c.KVOp(verb="lock", key="l", value=b"x", session="nope"))
    assert isinstance(out, StateError) and str(out) == 'invalid session "nope"'
    a.ok(session("s1"))
    a.ok(session("s2"))
    assert a.apply(c.KVOp(verb="lock", key="l", value=b"x", session="s1")) is True
    assert a.apply(c.KVOp(verb="lock", key="l", value=b"y", session="s2")) is False
    assert a.apply(c.KVOp(verb="lock", key="l", value=b"z", session="s1")) is True  # re-acquire: same LockIndex
    row = a.store.kv.get(None, "l")[1]
    assert row is not None and (row["Session"], row["LockIndex"], row["Value"]) == ("s1", 1, b"z")
    a.ok(kv_set("l", b"w"))  # a plain set keeps the holder
    assert a.store.kv.get(None, "l")[1]["Session"] == "s1"  # type: ignore[index]
    assert a.apply(c.KVOp(verb="unlock", key="l", session="s2")) is False
    assert a.apply(c.KVOp(verb="unlock", key="l", value=b"u", session="s1")) is True
    row = a.store.kv.get(None, "l")[1]
    assert row is not None and "Session" not in row and row["LockIndex"] == 1
    assert a.store.kv.held_by.get("s1") == set()
    assert a.apply(c.KVOp(verb="lock", key="l", session="s2")) is True
    assert a.store.kv.get(None, "l")[1]["LockIndex"] == 2  # type: ignore[index]


def test_a_failed_transaction_leaves_rows_tombstones_locks_and_indexes_as_they_were() -> None:
    a = Applied()
    a.ok(register("n1"))
    a.ok(session("s1"))
    a.ok(kv_set("keep", b"1"))
    a.ok(kv_set("gone", b"1"))
    a.ok(c.KVOp(verb="delete", key="gone"))
    before = (a.store.snapshot(), {k: set(v) for k, v in a.store.kv.held_by.items()})
    ops = [
        {"KV": {"Verb": "set", "Key": "keep", "Value": b"2"}},
        {"KV": {"Verb": "set", "Key": "gone", "Value": b"2"}},
        {"KV": {"Verb": "lock", "Key": "held", "Value": b"2", "Session": "s1"}},
        {"KV": {"Verb": "delete-tree", "Key": ""}},
        {"KV": {"Verb": "check-not-exists", "Key": "keep"}},  # "keep" is gone by now: passes
        {"KV": {"Verb": "get", "Key": "keep"}},  # fails: rolls everything back
    ]
    woke = []
    a.store.watches.subscribe([watch.kv_prefix("")], lambda: woke.append(1))
    results, errors = a.apply(c.Txn(ops=ops))
    assert results == [] and errors == [{"OpIndex": 5, "What": 'key "keep" doesn\'t exist'}]
    after = a.store.snapshot()
    assert after["last_index"] == 6
    assert {k: v for k, v in after.items() if k != "last_index"} == {
        k: v for k, v in before[0].items() if k != "last_index"}
    assert {k: v for k, v in a.store.kv.held_by.items() if v} == {k: v for k, v in before[1].items() if v}
    assert woke == []


def test_a_successful_transaction_applies_every_op_at_one_index() -> None:
    a = Applied()
    a.ok(kv_set("x", b"0"))
    ops = [
        {"KV": {"Verb": "cas", "Key": "x", "Value": b"1", "Index": 1}},
        {"KV": {"Verb": "set", "Key": "y", "Value": b"2"}},
        {"KV": {"Verb": "get", "Key": "x"}},
        {"KV": {"Verb": "delete", "Key": "nothing"}},
    ]
    results, errors = a.apply(c.Txn(ops=ops))
    assert errors == []
    assert [r["KV"]["Key"] for r in results] == ["x", "y", "x"] and results[2]["KV"]["Value"] == b"1"
    assert "Value" not in results[0]["KV"]
    assert {r["Key"]: r["ModifyIndex"] for r in a.store.kv.rows.values()} == {"x": 2, "y": 2}
