"""Every py-consul method whose endpoint Consul serves, called unmodified against a real agent and
compared with Consul's documented answer. `covers(...)` names the methods a test exercises; the
coverage test fails when a client method is neither covered nor listed in `skips.SKIPS`."""

from __future__ import annotations

import base64
import inspect
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import consul
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.py_consul.skips import SKIPS
from tests.support.agents import AgentProcess, start_agent
from tests.support.jwt import pem, sign
from tests.support.wait import wait_until

F = TypeVar("F", bound=Callable[..., Any])
COVERED: set[str] = set()
# Helpers on the client object, not calls to an endpoint.
NOT_ENDPOINTS = {"http_connect", "prepare_headers"}


def covers(*methods: str) -> Callable[[F], F]:
    def mark(fn: F) -> F:
        COVERED.update(methods)
        return fn

    return mark


def client_methods(root: consul.Consul) -> set[str]:
    """Dotted names of every public method reachable from the client's API groups."""
    found: set[str] = set()
    seen: set[int] = set()

    def walk(obj: object, prefix: str) -> None:
        for name in dir(obj):
            if name.startswith("_") or name == "http":
                continue
            value = getattr(obj, name)
            if isinstance(value, consul.Consul):
                continue  # each group's `agent` points back at the client
            if inspect.ismethod(value):
                found.add(prefix + name)
            elif type(value).__module__.startswith("consul.") and id(value) not in seen:
                seen.add(id(value))
                walk(value, prefix + name + ".")

    walk(root, "")
    found.update(n for n in dir(root) if not n.startswith("_") and inspect.ismethod(getattr(root, n)))
    return found - NOT_ENDPOINTS


@pytest.fixture(scope="module")
def cli(shared_agent: AgentProcess) -> Iterator[consul.Consul]:
    yield consul.Consul(host=shared_agent.host, port=shared_agent.http_port)


@pytest.fixture(scope="module")
def node_name(cli: consul.Consul) -> str:
    return str(cli.agent.self()["Config"]["NodeName"])


def test_every_client_method_is_tested_or_skipped_for_an_open_issue() -> None:
    methods = client_methods(consul.Consul())
    assert not COVERED & set(SKIPS), "a skipped method has a test: take it off the skip list"
    assert sorted(methods - COVERED - set(SKIPS)) == []
    assert sorted((COVERED | set(SKIPS)) - methods) == []  # names that no longer exist
    assert {issue for issue, _ in SKIPS.values()} <= {15, 16, 17, 20}


@pytest.mark.parametrize("method", sorted(SKIPS))
def test_skipped_for_open_issue(method: str) -> None:
    issue, reason = SKIPS[method]
    pytest.skip(f"issue {issue}: {reason}")


# ------------------------------------------------------------------------------------ kv
@covers("kv.put", "kv.get", "kv.delete")
def test_kv(cli: consul.Consul) -> None:
    assert cli.kv.put("pc/a", "1", flags=7) is True
    idx, row = cli.kv.get("pc/a")
    assert (row["Key"], row["Value"], row["Flags"]) == ("pc/a", b"1", 7)
    assert int(idx) == row["ModifyIndex"]
    assert cli.kv.put("pc/a", "2", cas=row["ModifyIndex"] + 99) is False
    cli.kv.put("pc/b/c", "3")
    _, keys = cli.kv.get("pc/", keys=True, separator="/")
    assert keys == ["pc/a", "pc/b/"]
    assert cli.kv.delete("pc/", recurse=True) is True
    assert cli.kv.get("pc/a") == (cli.kv.get("pc/a")[0], None)


# ------------------------------------------------------------------------------- catalog
@covers("catalog.register", "catalog.nodes", "catalog.node", "catalog.services", "catalog.service",
        "catalog.deregister", "catalog.datacenters")
def test_catalog(cli: consul.Consul) -> None:
    assert cli.catalog.datacenters() == ["dc1"]
    assert cli.catalog.register("pc-node", "10.1.1.1", service={"Service": "pc-svc", "ID": "pc1", "Port": 80,
                                                                  "Tags": ["t"]}) is True
    _, nodes = cli.catalog.nodes()
    assert "pc-node" in [n["Node"] for n in nodes]
    _, node = cli.catalog.node("pc-node")
    assert node["Node"]["Address"] == "10.1.1.1" and node["Services"]["pc1"]["Port"] == 80
    _, services = cli.catalog.services()
    assert services["pc-svc"] == ["t"] and "consul" in services
    _, rows = cli.catalog.service("pc-svc", tag="t")
    assert [(r["Node"], r["ServiceID"], r["ServicePort"]) for r in rows] == [("pc-node", "pc1", 80)]
    assert cli.catalog.deregister("pc-node") is True
    assert cli.catalog.node("pc-node")[1] is None


# -------------------------------------------------------------------------------- health
@covers("health.service", "health.checks", "health.node", "health.state")
def test_health(cli: consul.Consul, node_name: str) -> None:
    cli.agent.service.register("pc-h", service_id="pc-h1", check=consul.Check.ttl("30s"))
    try:
        cli.agent.check.ttl_pass("service:pc-h1")
        rows = wait_until(lambda: cli.health.service("pc-h", passing=True)[1])
        assert [r["Service"]["ID"] for r in rows] == ["pc-h1"]
        _, checks = cli.health.checks("pc-h")
        assert [(c["CheckID"], c["Status"]) for c in checks] == [("service:pc-h1", "passing")]
        _, node_checks = cli.health.node(node_name)
        assert "serfHealth" in [c["CheckID"] for c in node_checks]
        _, passing = cli.health.state("passing")
        assert {"serfHealth", "service:pc-h1"} <= {c["CheckID"] for c in passing}
    finally:
        cli.agent.service.deregister("pc-h1")


# --------------------------------------------------------------------------------- agent
@covers("agent.self", "agent.members", "agent.services", "agent.service.register", "agent.service_definition",
        "agent.service.maintenance", "agent.service.deregister", "agent.checks", "agent.check.register",
        "agent.check.ttl_pass", "agent.check.ttl_warn", "agent.check.ttl_fail", "agent.check.deregister",
        "agent.maintenance")
def test_agent_services_and_checks(cli: consul.Consul, node_name: str) -> None:
    me = cli.agent.self()
    assert me["Config"]["Datacenter"] == "dc1" and me["Member"]["Name"] == node_name
    assert [m["Name"] for m in cli.agent.members()] == [node_name]
    assert cli.agent.service.register("pc-a", service_id="pc-a1", port=81, tags=["x"]) is True
    assert cli.agent.services()["pc-a1"]["Port"] == 81
    assert cli.agent.services(filter_expr='Service == "nope"') == {}
    definition = cli.agent.service_definition("pc-a1")
    assert definition["Service"] == "pc-a" and definition["Tags"] == ["x"] and definition["ContentHash"]
    assert cli.agent.service.maintenance("pc-a1", True, "fix") is True
    maint = cli.agent.checks()["_service_maintenance:pc-a1"]
    assert maint["Status"] == "critical" and maint["Notes"] == "fix"
    assert cli.agent.service.maintenance("pc-a1", False) is True
    assert cli.agent.check.register("pc-ttl", check=consul.Check.ttl("30s"), check_id="pc-ttl") is True
    for verb, status in (("ttl_pass", "passing"), ("ttl_warn", "warning"), ("ttl_fail", "critical")):
        assert getattr(cli.agent.check, verb)("pc-ttl", notes=verb) is True
        row = cli.agent.checks()["pc-ttl"]
        assert (row["Status"], row["Output"]) == (status, verb)
    assert cli.agent.check.ttl_pass("pc-missing") is False  # 404 Unknown check ID
    assert cli.agent.check.deregister("pc-ttl") is True
    assert "pc-ttl" not in cli.agent.checks()
    assert cli.agent.maintenance(True, "node work") is True
    assert cli.agent.checks()["_node_maintenance"]["Notes"] == "node work"
    assert cli.agent.maintenance(False) is True
    assert "_node_maintenance" not in cli.agent.checks()
    assert cli.agent.service.deregister("pc-a1") is True
    assert cli.agent.service_definition("pc-a1") is None  # 404 unknown service ID


@covers("agent.metrics", "agent.reload", "agent.join", "agent.monitor")
def test_agent_control(cli: consul.Consul) -> None:
    metrics = cli.agent.metrics()
    assert {"Timestamp", "Gauges", "Counters", "Samples"} <= set(metrics)
    # Prometheus output needs telemetry.prometheus_retention_time, as in Consul (415 otherwise).
    with pytest.raises(consul.ConsulException, match="Prometheus is not enabled"):
        cli.agent.metrics(format_prometheus=True)
    assert cli.agent.reload() is True
    serf = cli.agent.self()["Member"]
    assert cli.agent.join(f"{serf['Addr']}:{serf['Port']}") is True
    with pytest.raises(consul.ConsulException, match="Unknown log level"):
        cli.agent.monitor(loglevel="loud")
    # The stream stays open while the agent runs (it ends when the module's agent stops).
    def stream() -> None:
        try:
            cli.agent.monitor(loglevel="debug")
        except (consul.ConsulException, OSError, ValueError):
            pass  # the stream ends with a closed connection when the agent stops or the test ends

    streaming = threading.Thread(target=stream, daemon=True)
    streaming.start()
    streaming.join(1.0)
    assert streaming.is_alive()


@covers("agent.token.set", "agent.token.set_agent", "agent.token.set_agent_recovery",
        "agent.token.set_config_file_service_registration", "agent.token.set_default",
        "agent.token.set_replication")
def test_agent_tokens_without_acls(cli: consul.Consul) -> None:
    # With ACLs off Consul answers 401 "ACL support disabled" for every token type.
    token = cli.agent.token
    calls = [lambda: token.set("default", "s"), lambda: token.set_agent("s"),
             lambda: token.set_agent_recovery("s"), lambda: token.set_config_file_service_registration("s"),
             lambda: token.set_default("s"), lambda: token.set_replication("s")]
    for call in calls:
        with pytest.raises(consul.ACLDisabled, match="ACL support disabled"):
            call()


@covers("agent.force_leave", "agent.leave")
def test_agent_leave(tmp_path: Path) -> None:
    agent = start_agent(tmp_path)
    try:
        cli = consul.Consul(host=agent.host, port=agent.http_port)
        def force_leave_error() -> str:
            try:
                cli.agent.force_leave("ghost")
            except consul.ConsulException as exc:
                return "" if "membership is not enabled" in str(exc) else str(exc)  # gossip still starting
            return "no error"

        assert "No node found with name 'ghost'" in wait_until(force_leave_error)
        assert cli.agent.leave() is True
        assert wait_until(lambda: not agent.alive(), timeout=15)
    finally:
        agent.stop()


# ----------------------------------------------------------------------- session / event
@covers("session.create", "session.info", "session.list", "session.node", "session.renew", "session.destroy")
def test_sessions(cli: consul.Consul, node_name: str) -> None:
    sid = cli.session.create(name="pc-s", ttl=60, behavior="delete")
    _, info = cli.session.info(sid)
    assert (info["Name"], info["Behavior"], info["TTL"]) == ("pc-s", "delete", "60s")
    assert sid in [s["ID"] for s in cli.session.list()[1]]
    assert sid in [s["ID"] for s in cli.session.node(node_name)[1]]
    renewed = cli.session.renew(sid)
    assert renewed["ID"] == sid
    assert cli.session.destroy(sid) is True
    assert cli.session.info(sid)[1] is None
    with pytest.raises(consul.NotFound, match=f"Session id '{sid}' not found"):
        cli.session.renew(sid)


@covers("event.fire", "event.list")
def test_events(cli: consul.Consul) -> None:
    fired = cli.event.fire("pc-ev", "payload")
    assert fired["Name"] == "pc-ev" and fired["LTime"] >= 1 and fired["ID"]
    _, events = cli.event.list(name="pc-ev")
    assert [e["Name"] for e in events] == ["pc-ev"] and events[0]["Payload"] == b"payload"


# ------------------------------------------------------------------------ prepared queries
@covers("query.create", "query.get", "query.list", "query.update", "query.execute", "query.explain",
        "query.delete")
def test_prepared_queries(cli: consul.Consul, node_name: str) -> None:
    cli.agent.service.register("pc-pq", service_id="pc-pq-1", port=81, tags=["blue"])
    cli.agent.service.register("pc-pq", service_id="pc-pq-2", port=82, tags=["green"])
    created = cli.query.create("pc-pq", name="pc-pq-blue", tags=["blue"], onlypassing=True, ttl="10s",
                               datacenters=["dc9"], nearestn=1)
    qid = created["ID"]
    [row] = cli.query.get(qid)
    assert row["Name"] == "pc-pq-blue" and row["Service"]["Tags"] == ["blue"] and row["DNS"]["TTL"] == "10s"
    assert row["Service"]["Failover"]["Datacenters"] == ["dc9"] and row["Service"]["Failover"]["NearestN"] == 1
    # py-consul always sends a name_prefix_match template.
    assert row["Template"]["Type"] == "name_prefix_match"
    assert qid in [q["ID"] for q in cli.query.list()]
    result = cli.query.execute("pc-pq-blue")
    assert [e["Service"]["ID"] for e in result["Nodes"]] == ["pc-pq-1"]
    assert (result["Service"], result["Datacenter"], result["Failovers"]) == ("pc-pq", "dc1", 0)
    assert cli.query.execute(qid, near="_agent", limit=1)["Nodes"][0]["Node"]["Node"] == node_name
    assert cli.query.explain("pc-pq-blue")["Query"]["ID"] == qid
    assert cli.query.update(qid, "pc-pq", name="pc-pq-blue", tags=["green"]) is True
    assert [e["Service"]["ID"] for e in cli.query.execute(qid)["Nodes"]] == ["pc-pq-2"]
    assert cli.query.delete(qid) is True
    assert cli.query.get(qid) is None and cli.query.execute(qid) is None  # the client's reading of a 404


# --------------------------------------------------------------------------- coordinates
@covers("coordinate.datacenters", "coordinate.nodes", "coordinate.node", "coordinate.update")
def test_coordinates(cli: consul.Consul, node_name: str) -> None:
    assert wait_until(lambda: any(c["Node"] == node_name for c in cli.coordinate.nodes()[1]))
    [dc] = cli.coordinate.datacenters()
    assert dc["Datacenter"] == "dc1" and dc["AreaID"] == "wan"
    assert [c["Node"] for c in dc["Coordinates"]] == [f"{node_name}.dc1"]
    # Another node than the agent's own, whose updater would overwrite what we write.
    assert cli.catalog.register("pc-coord-node", "10.8.0.1") is True
    coord = {"Vec": [0.002, 0, 0, 0, 0, 0, 0, 0], "Error": 0.3, "Adjustment": 0.0, "Height": 1e-5}
    assert cli.coordinate.update("pc-coord-node", coord) is True
    index, rows = cli.coordinate.node("pc-coord-node")
    assert int(index) > 0 and rows == [{"Node": "pc-coord-node", "Segment": "", "Coord": coord}]
    moved = {**coord, "Vec": [0.004, 0, 0, 0, 0, 0, 0, 0]}
    threading.Timer(0.3, lambda: cli.coordinate.update("pc-coord-node", moved)).start()
    # A blocking read wakes on the update; the agent's own coordinate updater may write first, so
    # follow the index until the moved coordinate shows.
    deadline = time.monotonic() + 10
    seen = index
    while True:
        new_index, rows = cli.coordinate.nodes(index=seen, wait="5s")
        assert int(new_index) > int(seen)
        if moved in [r["Coord"] for r in rows] or time.monotonic() > deadline:
            break
        seen = new_index
    assert moved in [r["Coord"] for r in rows]
    assert cli.coordinate.node("pc-no-such-node")[1] is None  # a 404, read as None by the client


# ------------------------------------------------------------------ txn, status, snapshot
@covers("txn.put")
def test_txn(cli: consul.Consul) -> None:
    value = base64.b64encode(b"v").decode()
    out = cli.txn.put([{"KV": {"Verb": "set", "Key": "pc-txn/a", "Value": value}},
                       {"KV": {"Verb": "get", "Key": "pc-txn/a"}}])
    assert out["Errors"] is None and out["Results"][1]["KV"]["Value"] == value
    with pytest.raises(consul.ConsulException):
        cli.txn.put([{"KV": {"Verb": "cas", "Key": "pc-txn/a", "Value": value, "Index": 999999}}])


@covers("status.leader", "status.peers", "operator.raft_config")
def test_status_and_raft(cli: consul.Consul) -> None:
    leader = cli.status.leader()
    assert leader and cli.status.peers() == [leader]
    servers = cli.operator.raft_config()["Servers"]
    assert [(s["Address"], s["Leader"], s["Voter"]) for s in servers] == [(leader, True, True)]


@covers("snapshot.save", "snapshot.restore")
def test_snapshot_roundtrip(cli: consul.Consul) -> None:
    cli.kv.put("pc-snap", "before")
    archive = cli.snapshot.save()
    assert archive[:2] == b"\x1f\x8b"  # gzip'd tar, as Consul writes it
    cli.kv.put("pc-snap", "after")
    assert cli.snapshot.restore(archive) is True
    assert wait_until(lambda: cli.kv.get("pc-snap")[1]["Value"] == b"before")


# ------------------------------------------------------------------------------ operator
@covers("operator.autopilot_configuration", "operator.update_autopilot_configuration")
def test_autopilot_configuration(cli: consul.Consul) -> None:
    before = cli.operator.autopilot_configuration()
    assert before["LastContactThreshold"] == "200ms" and before["ServerStabilizationTime"] == "10s"
    assert cli.operator.update_autopilot_configuration(cleanup_dead_servers=False, max_trailing_logs=300,
                                                       last_contact_threshold="1s",
                                                       server_stabilization_time="10s") is True
    now = cli.operator.autopilot_configuration()
    assert (now["CleanupDeadServers"], now["MaxTrailingLogs"], now["LastContactThreshold"]) == (False, 300, "1s")
    stale = now["ModifyIndex"] - 1
    assert cli.operator.update_autopilot_configuration(max_trailing_logs=1, cas=stale) is False
    assert cli.operator.autopilot_configuration()["MaxTrailingLogs"] == 300
    assert cli.operator.update_autopilot_configuration(cleanup_dead_servers=True, max_trailing_logs=250,
                                                       last_contact_threshold="200ms",
                                                       server_stabilization_time="10s",
                                                       cas=now["ModifyIndex"]) is True


@covers("operator.autopilot_health", "operator.usage", "operator.raft_transfer_leader",
        "operator.raft_remove_peer")
def test_operator_reads_and_single_server_errors(cli: consul.Consul) -> None:
    health = cli.operator.autopilot_health()
    assert health["Healthy"] is True and health["FailureTolerance"] == 0
    assert [s["Leader"] for s in health["Servers"]] == [True]
    usage = cli.operator.usage()["Usage"]["dc1"]
    assert usage["Nodes"] >= 1 and usage["ServiceInstances"] >= usage["BillableServiceInstances"]
    with pytest.raises(consul.ConsulException, match="cannot find peer"):
        cli.operator.raft_transfer_leader()
    with pytest.raises(consul.ConsulException, match="was not found in the Raft configuration"):
        cli.operator.raft_remove_peer(address="10.9.9.9:8300")


@covers("operator.keyring_list", "operator.keyring_install", "operator.keyring_use", "operator.keyring_remove")
def test_keyring_without_gossip_encryption(cli: consul.Consul) -> None:
    key = base64.b64encode(b"k" * 32).decode()
    calls = [cli.operator.keyring_list, lambda: cli.operator.keyring_install(key),
             lambda: cli.operator.keyring_use(key), lambda: cli.operator.keyring_remove(key)]
    for call in calls:
        with pytest.raises(consul.ConsulException, match=r"encryption not enabled"):
            call()


def test_blocking_kv_read_wakes_on_write(cli: consul.Consul) -> None:
    """Not a method of its own: `index=` on kv.get, as consul-template style watchers use it."""
    cli.kv.put("pc-block", "1")
    idx, _ = cli.kv.get("pc-block")
    threading.Timer(0.3, lambda: cli.kv.put("pc-block", "2")).start()
    new_idx, row = cli.kv.get("pc-block", index=idx, wait="5s")
    assert int(new_idx) > int(idx) and row["Value"] == b"2"


# ----------------------------------------------------------------------------------- acl
@pytest.fixture(scope="module")
def acl_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    work = tmp_path_factory.mktemp("pc-acl")
    conf = work / "acl.hcl"
    conf.write_text('acl {\n enabled = true\n default_policy = "deny"\n}\n')
    agent = start_agent(work, f"-config-file={conf}", name="pc-acl")
    yield agent
    agent.stop()


@pytest.fixture(scope="module")
def login_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    work = tmp_path_factory.mktemp("pc-login")
    conf = work / "acl.hcl"
    conf.write_text(f'acl {{\n enabled = true\n default_policy = "deny"\n tokens {{ initial_management = "{LOGIN_ROOT}" }}\n}}\n')
    agent = start_agent(work, f"-config-file={conf}", name="pc-login")
    yield agent
    agent.stop()


LOGIN_ROOT = "7b3e9c5a-4d2f-4a0b-9c8e-3f4a5b6c7d8e"


@covers("acl.login", "acl.logout",
        *(f"acl.auth_method.{m}" for m in ("create", "delete", "list", "read", "update")),
        *(f"acl.binding_rule.{m}" for m in ("create", "delete", "list", "read", "update")),
        *(f"acl.templated_policies.{m}" for m in ("list", "preview", "read")))
def test_acl_auth_methods_login_and_templated_policies(login_agent: AgentProcess) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root = consul.Consul(host=login_agent.host, port=login_agent.http_port, token=LOGIN_ROOT)
    config = {"JWTValidationPubKeys": [pem(key)], "ClaimMappings": {"sub": "name"}}
    assert root.acl.auth_method.create("ci", "jwt", config=config)["Type"] == "jwt"
    assert root.acl.auth_method.update("ci", "jwt", description="ci jobs", config=config)["Description"] == "ci jobs"
    assert [m["Name"] for m in root.acl.auth_method.list()] == ["ci"]
    assert root.acl.auth_method.read("ci")["Config"]["ClaimMappings"] == {"sub": "name"}
    rule = root.acl.binding_rule.create("ci", "service", "${value.name}")
    assert root.acl.binding_rule.update(rule["ID"], "ci", "service", "${value.name}", description="d")["Description"] == "d"
    assert [r["ID"] for r in root.acl.binding_rule.list(auth_method="ci")] == [rule["ID"]]
    assert root.acl.binding_rule.read(rule["ID"])["BindName"] == "${value.name}"
    now = int(time.time())
    anon = consul.Consul(host=login_agent.host, port=login_agent.http_port)
    token = anon.acl.login("ci", sign(key, {"sub": "builder", "iat": now, "exp": now + 60}))
    assert token["ServiceIdentities"] == [{"ServiceName": "builder"}] and token["AuthMethod"] == "ci"
    assert anon.acl.logout(token["SecretID"]) is True
    assert "builtin/dns" in root.acl.templated_policies.list()
    assert root.acl.templated_policies.read("builtin/node")["TemplateName"] == "builtin/node"
    assert 'node "n1"' in root.acl.templated_policies.preview("builtin/node", {"Name": "n1"})["Rules"]
    assert root.acl.binding_rule.delete(rule["ID"]) is True
    assert root.acl.binding_rule.read(rule["ID"]) is None
    assert root.acl.auth_method.delete("ci") is True
    assert root.acl.auth_method.read("ci") is None


@covers("acl.bootstrap",
        *(f"acl.policies.{m}" for m in ("create", "delete", "list", "read", "update")),
        *(f"acl.role.{m}" for m in ("create", "delete", "list", "read", "read_by_name", "update")),
        *(f"acl.token.{m}" for m in ("clone", "create", "delete", "list", "read", "read_self", "update")))
def test_acl_tokens_policies_and_roles(acl_agent: AgentProcess) -> None:
    boot = consul.Consul(host=acl_agent.host, port=acl_agent.http_port).acl.bootstrap()
    root = consul.Consul(host=acl_agent.host, port=acl_agent.http_port, token=boot["SecretID"])
    rules = {"service_prefix": {"": {"policy": "read"}}}  # py-consul JSON-encodes the rules itself
    policy = root.acl.policy.create(name="svc-read", rules=rules)
    assert json.loads(root.acl.policy.read(policy["ID"])["Rules"]) == rules
    root.acl.policy.update(policy["ID"], "svc-read", description="services", rules=rules)
    assert {p["Name"]: p.get("Description") for p in root.acl.policy.list()}["svc-read"] == "services"

    role = root.acl.role.create(name="reader", policies_id=[policy["ID"]],
                                service_identities=[{"ServiceName": "web"}])
    assert role["Policies"] == [{"ID": policy["ID"], "Name": "svc-read"}]
    assert role["ServiceIdentities"] == [{"ServiceName": "web"}]
    assert root.acl.role.read(role["ID"])["Name"] == "reader"
    assert root.acl.role.read_by_name("reader")["ID"] == role["ID"]
    root.acl.role.update(role["ID"], "reader", description="updated", policies_id=[policy["ID"]])
    assert [r["Description"] for r in root.acl.role.list(policy=policy["ID"])] == ["updated"]

    token = root.acl.token.create(roles_name=["reader"], description="via role", expiration_ttl="1h")
    assert token["Roles"] == [{"ID": role["ID"], "Name": "reader"}] and token["ExpirationTime"]
    holder = consul.Consul(host=acl_agent.host, port=acl_agent.http_port, token=token["SecretID"])
    assert "consul" in holder.catalog.services()[1]  # the role's policy reads services
    assert holder.acl.token.read_self()["AccessorID"] == token["AccessorID"]
    with pytest.raises(consul.ACLPermissionDenied):
        holder.kv.put("nope", "x")

    clone = root.acl.token.clone(token["AccessorID"], description="copy")
    assert clone["AccessorID"] != token["AccessorID"] and clone["SecretID"] != token["SecretID"]
    assert (clone["Description"], clone["Roles"], clone["ExpirationTime"]) == \
        ("copy", token["Roles"], token["ExpirationTime"])
    root.acl.token.update(clone["AccessorID"], description="changed", policies_name=["svc-read"])
    assert root.acl.token.read(clone["AccessorID"])["Policies"] == [{"ID": policy["ID"], "Name": "svc-read"}]
    assert {token["AccessorID"], clone["AccessorID"]} <= {t["AccessorID"] for t in root.acl.token.list()}
    assert root.acl.token.delete(clone["AccessorID"]) is True
    with pytest.raises(consul.ACLPermissionDenied):
        root.acl.token.read(clone["AccessorID"])  # Consul: 403 ACL not found
    assert root.acl.role.delete(role["ID"]) is True
    assert root.acl.role.read(role["ID"]) is None
    assert root.acl.policy.delete(policy["ID"]) is True
    assert root.acl.policy.read(policy["ID"]) is None
# ------------------------------------------------------------- mesh catalog, config entries
@covers("health.connect", "catalog.connect")
def test_connect_endpoints(cli: consul.Consul) -> None:
    cli.agent.service.register("pc-mesh", service_id="pc-mesh1", port=7300,
                               extra_checks=[], connect={"SidecarService": {"Port": 27300, "Check": {
                                   "Name": "up", "TTL": "30s", "Status": "passing"}}})
    try:
        _, rows = cli.catalog.connect("pc-mesh")
        assert [(r["ServiceID"], r["ServiceKind"], r["ServicePort"]) for r in rows] == [
            ("pc-mesh1-sidecar-proxy", "connect-proxy", 27300)]
        _, entries = cli.health.connect("pc-mesh", passing=True)
        assert [e["Service"]["Proxy"]["DestinationServiceID"] for e in entries] == ["pc-mesh1"]
    finally:
        cli.agent.service.deregister("pc-mesh1")
    assert cli.catalog.connect("pc-mesh")[1] == []


@covers("config.set", "config.get", "config.list", "config.delete")
def test_config_entries(cli: consul.Consul) -> None:
    assert cli.config.set("service-defaults", "pc-cfg", {"Protocol": "http"}, cas=0) is True
    assert cli.config.set("service-defaults", "pc-cfg", {"Protocol": "grpc"}, cas=0) is False
    entry = cli.config.get("service-defaults", "pc-cfg")
    assert entry["Protocol"] == "http"
    assert "pc-cfg" in [e["Name"] for e in cli.config.list("service-defaults")]
    assert cli.config.delete("service-defaults", "pc-cfg", cas=entry["ModifyIndex"] + 1) is False
    assert cli.config.delete("service-defaults", "pc-cfg") is True
    assert cli.config.get("service-defaults", "pc-cfg") is None  # the 404, as py-consul reads it


@covers("discovery_chain.get")
def test_discovery_chain(cli: consul.Consul) -> None:
    chain = cli.discovery_chain.get("pc-chain")["Chain"]
    assert chain["StartNode"] == "resolver:pc-chain.default.default.dc1" and chain["Default"] is True
    chain = cli.discovery_chain.get("pc-chain", override_protocol="http", override_connect_timeout="9s")["Chain"]
    assert chain["Protocol"] == "http"
    assert chain["Targets"]["pc-chain.default.default.dc1"]["ConnectTimeout"] == "9s"


@covers("catalog.gateway_services", "health.ingress")
def test_gateway_endpoints(cli: consul.Consul) -> None:
    assert cli.config.set("ingress-gateway", "pc-edge", {"Listeners": [
        {"Port": 8080, "Protocol": "tcp", "Services": [{"Name": "pc-web"}]}]}) is True
    cli.agent.service.register("pc-edge", service_id="pc-edge", port=8443, kind="ingress-gateway")
    cli.agent.service.register("pc-web", service_id="pc-web", port=80)
    try:
        rows = cli.catalog.gateway_services("pc-edge")
        assert [(r["Service"]["Name"], r["GatewayKind"], r["Port"], r["Protocol"]) for r in rows] == [
            ("pc-web", "ingress-gateway", 8080, "tcp")]
        _, gateways = cli.health.ingress("pc-web")
        assert [(g["Service"]["ID"], g["Service"]["Kind"]) for g in gateways] == [("pc-edge", "ingress-gateway")]
        assert cli.health.ingress("pc-other")[1] == []
    finally:
        cli.agent.service.deregister("pc-edge")
        cli.agent.service.deregister("pc-web")
        cli.config.delete("ingress-gateway", "pc-edge")


# ----------------------------------------------------------------- Connect CA, intentions
@covers("connect.ca.roots", "connect.ca.configuration", "connect.ca.update_configuration",
        "agent.connect.ca.roots", "agent.connect.ca.leaf", "agent.connect.authorize")
def test_connect_ca_leaf_and_authorize(cli: consul.Consul) -> None:
    roots = wait_until(lambda: cli.connect.ca.roots() if cli.connect.ca.roots()["ActiveRootID"] else None,
                       what="the CA's first root")
    active = [r for r in roots["Roots"] if r["Active"]]
    assert [r["ID"] for r in active] == [roots["ActiveRootID"]] and active[0]["RootCert"].startswith("-----BEGIN")
    assert cli.agent.connect.ca.roots()["ActiveRootID"] == roots["ActiveRootID"]
    # roots(pem=True) asks for the PEM chain, which Consul answers as text: py-consul's JSON
    # callback cannot read that from Consul either, so only the JSON form is called here.

    original = cli.connect.ca.configuration()
    assert original["Provider"] == "consul" and original["Config"]["LeafCertTTL"] == "72h"
    assert cli.connect.ca.update_configuration("consul", {**original["Config"], "LeafCertTTL": "48h"}) is True
    assert cli.connect.ca.configuration()["Config"]["LeafCertTTL"] == "48h"
    assert cli.connect.ca.update_configuration("consul", original["Config"]) is True

    leaf = cli.agent.connect.ca.leaf("pc-web")
    assert leaf["Service"] == "pc-web" and leaf["ServiceURI"] == \
        f"spiffe://{roots['TrustDomain']}/ns/default/dc/dc1/svc/pc-web"
    assert leaf["CertPEM"].startswith("-----BEGIN CERTIFICATE-----") and "PRIVATE KEY" in leaf["PrivateKeyPEM"]

    # py-consul sends PUT here (Consul itself registers POST only); both are served.
    reply = cli.agent.connect.authorize("pc-db", leaf["ServiceURI"], leaf["SerialNumber"])
    assert reply == {"Authorized": True, "Reason": "Default behavior configured by ACLs"}
    assert cli.connect.intentions.upsert("pc-web", "pc-db", action="deny") is True
    try:
        reply = cli.agent.connect.authorize("pc-db", leaf["ServiceURI"], leaf["SerialNumber"])
        assert reply["Authorized"] is False and reply["Reason"].startswith("Matched L4 intention")
    finally:
        cli.connect.intentions.delete("pc-web", "pc-db")


@covers(*(f"connect.intentions.{m}" for m in ("check", "delete", "list", "match", "read", "upsert")))
def test_intentions(cli: consul.Consul) -> None:
    assert cli.connect.intentions.upsert("pc-a", "pc-b", action="allow", description="a to b") is True
    assert cli.connect.intentions.upsert("*", "pc-b", action="deny") is True
    try:
        read = cli.connect.intentions.read("pc-a", "pc-b")
        assert {k: read[k] for k in ("SourceName", "DestinationName", "Action", "Description", "Precedence",
                                     "SourceType", "Meta")} == \
            {"SourceName": "pc-a", "DestinationName": "pc-b", "Action": "allow", "Description": "a to b",
             "Precedence": 9, "SourceType": "consul", "Meta": {}}
        listed = [(i["SourceName"], i["Action"]) for i in cli.connect.intentions.list()
                  if i["DestinationName"] == "pc-b"]
        assert listed == [("pc-a", "allow"), ("*", "deny")]  # precedence order
        assert [i["SourceName"] for i in cli.connect.intentions.list(filter_expr='SourceName == "pc-a"')] == ["pc-a"]
        assert cli.connect.intentions.check("pc-a", "pc-b") is True
        assert cli.connect.intentions.check("pc-x", "pc-b", source_type="consul") is False
        matched = cli.connect.intentions.match("destination", "pc-b")
        assert [i["SourceName"] for i in matched["pc-b"]] == ["pc-a", "*"]
        by_source = cli.connect.intentions.match("source", "pc-a")["pc-a"]
        assert [(i["SourceName"], i["DestinationName"]) for i in by_source] == [("pc-a", "pc-b"), ("*", "pc-b")]
        # Meta lives on the enclosing config entry: refused here, as Consul refuses it.
        with pytest.raises(consul.ConsulException, match="Meta must not be specified"):
            cli.connect.intentions.upsert("pc-c", "pc-b", action="allow", meta={"team": "x"})
        with pytest.raises(consul.ConsulException, match="unsupported SourceType"):
            cli.connect.intentions.check("pc-a", "pc-b", source_type="other")
        assert cli.connect.intentions.delete("pc-a", "pc-b") is True
        assert cli.connect.intentions.read("pc-a", "pc-b") is None
        assert cli.connect.intentions.delete("pc-a", "pc-b") is True  # idempotent by name
    finally:
        cli.connect.intentions.delete("pc-a", "pc-b")
        cli.connect.intentions.delete("*", "pc-b")
