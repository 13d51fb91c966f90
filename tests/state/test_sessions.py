"""Session table: creation rules, invalidation by the catalog, lock release, lock-delay, topics."""

from __future__ import annotations

from pyconsul.clock import FakeClock
from pyconsul.fsm import commands as c
from pyconsul.state import watch
from pyconsul.state.errors import StateError
from tests.state.tables import Applied, node_check, register

NS = 1_000_000_000


def create(sid: str, node: str = "n1", behavior: str = "release", lock_delay_s: float = 0,
           checks: list[str] | None = None) -> c.SessionCreate:
    return c.SessionCreate(session={"ID": sid, "Node": node, "Behavior": behavior,
                                    "LockDelay": int(lock_delay_s * NS), "NodeChecks": checks or []})


def lock(key: str, sid: str) -> c.KVOp:
    return c.KVOp(verb="lock", key=key, value=b"held", session=sid)


def test_create_reads_back_and_fires_its_topics_only() -> None:
    a = Applied()
    a.ok(register("n1"))
    a.ok(register("n2"))
    topics = [watch.sessions(), watch.session("s1"), watch.session("s2"),
              watch.node_sessions("n1"), watch.node_sessions("n2")]
    assert a.fired(topics, create("s1")) == {watch.sessions(), watch.session("s1"), watch.node_sessions("n1")}
    a.ok(create("s2", node="n2"))
    sessions = a.store.sessions
    idx, row = sessions.get(None, "s1")
    assert idx == 4 and row is not None and (row["Node"], row["CreateIndex"], row["Behavior"]) == ("n1", 3, "release")
    assert [r["ID"] for r in sessions.list_all(None)[1]] == ["s1", "s2"]
    assert [r["ID"] for r in sessions.node_sessions(None, "n2")[1]] == ["s2"]
    assert sessions.get(None, "nope") == (4, None)


def test_create_refuses_unknown_nodes_checks_critical_checks_and_duplicates() -> None:
    a = Applied()
    a.ok(register("n1"))
    a.ok(node_check("n1", "bad", "critical"))
    a.ok(create("s1"))
    errors = [a.apply(cmd) for cmd in (create("s2", node="ghost"), create("s2", checks=["missing"]),
                                       create("s2", checks=["bad"]), create("s1"))]
    assert [str(e) for e in errors] == [
        "Missing node registration for 'ghost'", "Missing check 'missing' registration",
        "Check 'bad' is in critical state", "Session 's1' already exists"]
    assert all(isinstance(e, StateError) for e in errors)
    assert a.store.max_index("sessions") == 3  # refused creates move no index


def test_destroy_releases_locks_and_holds_them_back_for_the_lock_delay() -> None:
    clock = FakeClock()
    a = Applied(clock)
    a.ok(register("n1"))
    a.ok(create("s1", lock_delay_s=10))
    a.ok(lock("l/a", "s1"))
    a.ok(lock("l/b", "s1"))
    got = a.fired([watch.kv_key("l/a"), watch.kv_key("l/b"), watch.session("s1")], c.SessionDestroy(session_id="s1"))
    assert got == {watch.kv_key("l/a"), watch.kv_key("l/b"), watch.session("s1")}
    kv = a.store.kv
    assert [("Session" in r, r["Value"], r["ModifyIndex"]) for r in kv.rows.values()] == [
        (False, b"held", 5), (False, b"held", 5)]
    assert kv.lock_delay_remaining("l/a") == 10.0
    clock.advance(4)
    assert kv.lock_delay_remaining("l/b") == 6.0
    clock.advance(6)
    assert kv.lock_delay_remaining("l/b") == 0.0
    assert a.apply(c.SessionDestroy(session_id="s1")) is False


def test_behavior_delete_deletes_the_keys_it_held() -> None:
    a = Applied()
    a.ok(register("n1"))
    a.ok(create("s1", behavior="delete"))
    a.ok(lock("l/a", "s1"))
    a.ok(c.KVOp(verb="set", key="other", value=b"x"))
    a.ok(c.SessionDestroy(session_id="s1"))
    assert list(a.store.kv.rows) == ["other"] and dict(a.store.kv.tombstones) == {"l/a": 5}


def test_a_critical_check_or_a_deleted_node_ends_the_sessions_bound_to_it() -> None:
    a = Applied()
    a.ok(register("n1"))
    a.ok(register("n2"))
    a.ok(node_check("n1", "serfHealth", "passing"))
    a.ok(create("bound", checks=["serfHealth"]))
    a.ok(create("free"))
    a.ok(create("other", node="n2"))
    a.ok(lock("l", "bound"))
    a.ok(node_check("n1", "serfHealth", "critical"))
    sessions = a.store.sessions
    assert sorted(sessions.by_id) == ["free", "other"]
    assert "Session" not in a.store.kv.rows["l"]
    a.ok(c.Deregister(node="n1"))
    assert sorted(sessions.by_id) == ["other"]
    a.ok(c.Deregister(node="n2", check_id="nothing"))
    assert sorted(sessions.by_id) == ["other"]


def test_deregistering_a_bound_check_ends_the_session() -> None:
    a = Applied()
    a.ok(node_check("n1", "c1", "passing"))
    a.ok(create("s", checks=["c1"]))
    a.ok(c.Deregister(node="n1", check_id="c1"))
    assert a.store.sessions.by_id == {}
