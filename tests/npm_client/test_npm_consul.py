"""The unmodified npm `consul` client (Node.js) against a real pyconsul agent.

Each scenario is a small Node program in scripts/ that takes the agent's HOST:PORT, drives one API
group through the client and prints what it saw as JSON; the assertions here are about what a
Node user of that client would notice (values round-trip, indexes move, errors carry the client's
error flags and the HTTP status).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.agents import AgentProcess, start_agent

NPM_DIR = Path(__file__).resolve().parent
SCRIPTS = NPM_DIR / "scripts"


def _installed_matches_lock() -> bool:
    """True when node_modules holds exactly the versions package-lock.json pins."""
    lock = json.loads((NPM_DIR / "package-lock.json").read_text())
    for path, meta in lock["packages"].items():
        if not path:
            continue
        manifest = NPM_DIR / path / "package.json"
        try:
            if json.loads(manifest.read_text()).get("version") != meta.get("version"):
                return False
        except (OSError, ValueError):
            return False
    return True


@pytest.fixture(scope="session")
def node() -> str:
    """Path of `node`, after `npm ci` has installed the pinned client (once, even under xdist)."""
    node_bin, npm_bin = shutil.which("node"), shutil.which("npm")
    if not node_bin or not npm_bin:
        pytest.skip("node and npm are not installed (Debian: apt-get install nodejs npm)")
    # xdist workers share the folder; `npm ci` wipes node_modules first, so only one may run it.
    lock_name = "pyconsul-npm-ci-" + hashlib.sha1(str(NPM_DIR).encode()).hexdigest()[:12] + ".lock"
    with open(Path(tempfile.gettempdir()) / lock_name, "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        if not _installed_matches_lock():
            proc = subprocess.run(
                [npm_bin, "ci", "--no-audit", "--no-fund"],
                cwd=NPM_DIR, capture_output=True, text=True, timeout=300,
            )
            if proc.returncode != 0:
                pytest.fail(f"npm ci failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return node_bin


@pytest.fixture(scope="module")
def consul(tmp_path_factory: pytest.TempPathFactory, node: str) -> Iterator[AgentProcess]:
    a = start_agent(tmp_path_factory.mktemp("npm-agent"))
    yield a
    a.stop()


def run_script(node: str, agent: AgentProcess, script: str, *args: str, timeout: float = 30) -> Any:
    proc = subprocess.run(
        [node, str(SCRIPTS / script), agent.http_addr, *args],
        cwd=NPM_DIR, capture_output=True, text=True, timeout=timeout,
    )
    assert proc.returncode == 0, (
        f"node {script} exited {proc.returncode}:\n{proc.stderr}\n--- agent log tail ---\n{agent.log()[-4000:]}"
    )
    return json.loads(proc.stdout)


def response_error(result: dict[str, Any], status: int) -> dict[str, Any]:
    """The client's error for an HTTP failure: a papi ResponseError carrying the status code."""
    assert "error" in result, result
    err = result["error"]
    assert err["isPapi"] and err["isResponse"] and not err["isValidation"], err
    assert err["statusCode"] == status, err
    return err


def test_kv_values_flags_cas_keys_recurse_and_delete(node: str, consul: AgentProcess) -> None:
    r = run_script(node, consul, "kv.js", "npm/kv")
    text = "héllo wörld ✓ {\"json\": true}\n"
    assert r["setPlain"] is True
    assert r["getPlain"]["Key"] == "npm/kv/plain"
    assert r["getPlain"]["Value"] == text
    assert r["getPlain"]["CreateIndex"] == r["getPlain"]["ModifyIndex"] > 0
    assert r["getRaw"] == text
    assert r["getFlags"]["Flags"] == 42 and r["getFlags"]["Value"] == "f"
    assert r["getBinary"] == "000102feff"
    # The client maps 404 on a single key to "no value", not to an error.
    assert r["getMissing"] is None

    # cas=0 creates only if absent; a stale index loses (the client reports `false` as no result).
    assert r["casCreate"] is True
    assert not r["casCreateAgain"]
    assert r["casFirst"]["Value"] == "v1"
    assert r["casGood"] is True
    assert not r["casStale"]
    assert r["casAfter"]["Value"] == "v2"
    assert r["casAfter"]["CreateIndex"] == r["casFirst"]["CreateIndex"]
    assert r["casAfter"]["ModifyIndex"] > r["casFirst"]["ModifyIndex"]
    assert not r["delCasStale"]
    assert r["delCasGood"] is True
    assert r["casGone"] is None

    p = "npm/kv/"
    assert r["keysAll"] == [p + k for k in ("tree/a", "tree/b", "tree/sub/c", "tree/sub/d", "treeish")]
    assert r["keysSep"] == [p + k for k in ("tree/a", "tree/b", "tree/sub/")]
    assert [(e["Key"], e["Value"]) for e in r["recurse"]] == [
        (p + k, k.upper()) for k in ("tree/a", "tree/b", "tree/sub/c", "tree/sub/d")
    ]
    assert r["recurseMissing"] is None
    response_error(r["keysMissing"], 404)
    assert r["delOne"] is True and r["delOneGone"] is None
    assert r["delMissing"] is True
    assert r["delTree"] is True
    assert r["afterDelTree"] == [p + "tree/b", p + "treeish"]
    assert r["setNoKey"]["error"]["isValidation"]


def test_catalog_register_read_and_deregister(node: str, consul: AgentProcess) -> None:
    r = run_script(node, consul, "catalog.js", "npm-ext", "web-npm")
    assert r["datacenters"] == ["dc1"]
    nodes = {n["Node"]: n for n in r["nodes"]}
    assert nodes["npm-ext"]["Address"] == "127.0.0.77"
    assert "agent" in nodes  # the agent's own node
    assert [n["Node"] for n in r["nodesByMeta"]] == ["npm-ext"]
    assert sorted(r["services"]["web-npm"]) == ["blue", "green", "v1"]
    assert "consul" in r["services"]

    by_id = {s["ServiceID"]: s for s in r["serviceNodes"]}
    assert set(by_id) == {"web-npm-1", "web-npm-2"}
    one = by_id["web-npm-1"]
    assert (one["Node"], one["Address"], one["ServiceAddress"], one["ServicePort"]) == (
        "npm-ext", "127.0.0.77", "127.0.0.78", 8080,
    )
    assert one["ServiceTags"] == ["blue", "v1"] and one["ServiceMeta"] == {"team": "npm"}
    assert [s["ServiceID"] for s in r["serviceNodesTagged"]] == ["web-npm-1"]
    assert [s["ServiceID"] for s in r["serviceNodesFiltered"]] == ["web-npm-2"]
    assert r["nodeServices"]["Node"]["Node"] == "npm-ext"
    assert set(r["nodeServices"]["Services"]) == {"web-npm-1", "web-npm-2"}
    assert r["nodeServices"]["Services"]["web-npm-1"]["Port"] == 8080
    # Consul answers 200 null for an unknown node and [] for an unknown service.
    assert r["unknownNodeServices"] == {"ok": None}
    assert r["unknownServiceNodes"] == []
    assert "Failed to create boolean expression evaluator" in response_error(r["badFilter"], 400)["body"]

    assert [s["ServiceID"] for s in r["afterServiceDeregister"]] == ["web-npm-2"]
    assert "npm-ext" not in {n["Node"] for n in r["afterNodeDeregister"]}
    assert "web-npm" not in r["servicesAfter"]
    assert r["registerNoNode"]["error"]["isValidation"]


def test_agent_service_ttl_check_and_maintenance_through_health(node: str, consul: AgentProcess) -> None:
    r = run_script(node, consul, "agent.js", "api-npm")
    assert r["self"]["nodeName"] == "agent"
    assert r["self"]["datacenter"] == "dc1"
    assert r["self"]["version"]
    assert r["self"]["member"]["Name"] == "agent"
    assert [(m["Name"], m["Status"]) for m in r["members"]] == [("agent", 1)]

    svc = r["services"]["api-npm-1"]
    assert (svc["Service"], svc["Port"], svc["Tags"], svc["Meta"]) == ("api-npm", 9090, ["npm", "primary"], {"via": "npm"})
    check = r["checks"]["service:api-npm-1"]
    assert (check["Type"], check["Status"], check["Notes"]) == ("ttl", "critical", "heartbeat")
    assert r["checks"]["api-npm-standalone"]["Status"] == "passing"

    # A new TTL check starts critical, so the instance is only in the unfiltered view.
    assert dict(r["initialAll"][0])["service:api-npm-1"] == "critical"
    assert dict(r["initialAll"][0])["serfHealth"] == "passing"
    assert r["initialPassing"] == []
    assert [e["Service"]["ID"] for e in r["afterPass"]] == ["api-npm-1"]
    assert r["afterPass"][0]["Node"]["Node"] == "agent"
    [passed] = r["checksAfterPass"]
    assert (passed["Status"], passed["Output"], passed["ServiceName"]) == ("passing", "all good", "api-npm")
    assert "service:api-npm-1" in r["warningState"]
    assert r["passingAfterWarn"] == []
    assert "service:api-npm-1" in r["criticalState"]
    [failed] = r["checksAfterFail"]
    assert (failed["Status"], failed["Output"]) == ("critical", "down")
    assert failed["ModifyIndex"] > passed["ModifyIndex"]
    assert {"serfHealth", "service:api-npm-1", "api-npm-standalone"} <= set(r["anyState"])
    assert r["badState"]["error"]["isValidation"]
    assert "Unknown check ID" in response_error(r["unknownCheck"], 404)["body"]

    maint = {c["CheckID"]: c for c in r["checksInServiceMaint"]}
    assert maint["_service_maintenance:api-npm-1"]["Status"] == "critical"
    assert maint["_service_maintenance:api-npm-1"]["Notes"] == "npm upgrade"
    assert r["passingInServiceMaint"] == []
    assert [c["CheckID"] for c in r["checksAfterServiceMaint"]] == ["service:api-npm-1"]

    node_maint = {c["CheckID"]: c for c in r["nodeInMaint"]}
    assert node_maint["_node_maintenance"]["Status"] == "critical"
    assert node_maint["_node_maintenance"]["Notes"] == "npm node work"
    assert r["passingInNodeMaint"] == []
    assert "_node_maintenance" not in {c["CheckID"] for c in r["nodeAfterMaint"]}
    assert [e["Service"]["ID"] for e in r["passingAfterMaint"]] == ["api-npm-1"]

    assert r["servicesAfter"] == {}
    assert r["catalogAfter"] == []
    assert "Unknown service ID" in response_error(r["deregisterUnknown"], 404)["body"]
    response_error(r["registerBadCheck"], 400)


def test_sessions_and_locks(node: str, consul: AgentProcess) -> None:
    r = run_script(node, consul, "session.js", "npm/sess")
    a, b = (s["ID"] for s in r["created"])
    assert a != b
    info = r["info"]
    assert (info["ID"], info["Name"], info["Node"], info["Behavior"], info["TTL"]) == (
        a, "npm/sess-a", "agent", "release", "30s",
    )
    assert info["LockDelay"] == 1_000_000  # 1ms, in nanoseconds as Consul reports it
    assert {a, b} <= set(r["list"]) and {a, b} <= set(r["nodeSessions"])
    assert [s["ID"] for s in r["renew"]] == [a]

    assert r["acquireA"] is True
    assert (r["heldByA"]["Session"], r["heldByA"]["LockIndex"], r["heldByA"]["Value"]) == (a, 1, "held by a")
    # Another session can neither take nor release a held lock.
    assert not r["acquireB"] and not r["releaseByB"]
    assert r["stillA"] == r["heldByA"]
    assert r["releaseA"] is True
    assert "Session" not in r["afterRelease"] and r["afterRelease"]["Value"] == "free"
    assert r["acquireBAfter"] is True
    assert (r["heldByB"]["Session"], r["heldByB"]["LockIndex"]) == (b, 2)
    # Destroying a "release" session frees its lock but keeps the value.
    assert "Session" not in r["afterDestroyB"] and r["afterDestroyB"]["Value"] == "held by b"
    # Destroying a "delete" session removes the keys it held.
    assert r["acquireD"] is True and r["afterDestroyD"] is None

    assert r["infoAfterDestroy"] is None
    assert a not in r["listAfter"] and b not in r["listAfter"]
    dead = r["acquireDead"]["error"]
    assert dead["isResponse"] and "invalid session" in dead["body"]
    assert "not found" in response_error(r["renewUnknown"], 404)["body"]
    assert "Invalid Session TTL" in response_error(r["badTtl"], 400)["body"]
    assert "Invalid Behavior" in response_error(r["badBehavior"], 400)["body"]


def test_events_and_status(node: str, consul: AgentProcess) -> None:
    r = run_script(node, consul, "event.js", "npm-deploy")
    server = f"{consul.host}:{consul.server_port}"
    assert r["leader"] == server
    assert r["peers"] == [server]

    fired = r["fired"]
    assert fired["Name"] == "npm-deploy" and fired["Payload"] == "deploy v1.2 ✓"
    assert fired["ID"] and fired["Version"] == 1
    assert r["firedEmpty"]["Payload"] is None
    assert (r["firedFiltered"]["ServiceFilter"], r["firedFiltered"]["TagFilter"]) == ("web", "blue")
    assert r["firedFiltered"]["Payload"] == {"buffer": "00ff"}
    # list(name) returns only that name's events, oldest first, payloads decoded.
    assert [e["ID"] for e in r["list"]] == [fired["ID"], r["firedFiltered"]["ID"]]
    assert r["list"][0]["Payload"] == "deploy v1.2 ✓"
    assert r["list"][0]["LTime"] < r["list"][1]["LTime"]
    assert {"npm-deploy", "npm-deploy-empty"} <= set(r["listAll"])
    assert r["listOther"] == []
    assert r["fireNoName"]["error"]["isValidation"]


def test_transactions(node: str, consul: AgentProcess) -> None:
    r = run_script(node, consul, "txn.js", "npm/txn")
    ok = r["ok"]
    assert ok["Errors"] is None
    assert [res["KV"]["Key"] for res in ok["Results"]] == ["npm/txn/one", "npm/txn/existing", "npm/txn/existing"]
    assert ok["Results"][2]["KV"]["Value"] == "bmV3"  # base64("new"), as Consul's txn returns it
    one, existing = r["afterOk"]
    assert (one["Value"], one["Flags"]) == ("1", 7)
    assert existing["Value"] == "new"
    # All writes in a transaction share one index.
    assert one["ModifyIndex"] == existing["ModifyIndex"]

    body = response_error(r["rolledBack"], 409)["body"]
    assert body["Results"] is None
    assert [e["OpIndex"] for e in body["Errors"]] == [1]
    assert "index" in body["Errors"][0]["What"]
    assert r["afterRollback"] is None  # the set before the failed check was not applied
    assert response_error(r["badVerb"], 409)["body"]["Errors"][0]["OpIndex"] == 0
    assert r["empty"]["error"]["isValidation"]
    assert r["afterDeleteTree"] is None


def test_watch_sees_changes_and_sleeps_through_unrelated_ones(node: str, consul: AgentProcess) -> None:
    r = run_script(node, consul, "watch.js", "npm/watch", "500")
    # Over the quiet window of unrelated writes no watcher returned (so none called Consul again).
    assert r["quiet"]["after"] == r["quiet"]["before"], r["quiet"]
    assert r["quiet"]["changes"] == [1, 1, 1]

    for name, first, second in (
        ("kv", "v1", "v2"),
        ("tree", ["npm/watch/tree/a", "npm/watch/tree/b"], ["npm/watch/tree/b"]),  # a delete wakes ?recurse
        ("health", [], ["npm-watch-svc"]),
    ):
        w = r[name]
        assert w["errors"] == [], (name, w)
        assert [c["data"] for c in w["changes"]] == [first, second], (name, w)
        # One call for the first answer, exactly one more (the blocked one) for the change.
        assert [c["calls"] for c in w["changes"]] == [1, 2], (name, w)
        assert int(w["changes"][1]["index"]) > int(w["changes"][0]["index"]) > 0, (name, w)

    # A watcher of a key that does not exist yet sees it appear.
    later = r["later"]
    assert later["errors"] == []
    assert later["changes"][0]["data"] is None and later["changes"][-1]["data"] == "arrived"
    assert int(later["changes"][-1]["index"]) > int(later["changes"][0]["index"]) > 0

    timeout = r["timeout"]
    assert timeout["after"] == timeout["before"]
    assert timeout["elapsedMs"] >= 380  # wait=400ms was honoured, not answered at once


def test_keys_of_an_empty_store_are_an_empty_list(node: str, agent: AgentProcess) -> None:
    r = run_script(node, agent, "kv_root.js")
    assert r["keys"] == {"ok": []}
    assert r["keysSeparator"] == {"ok": []}


def test_named_service_checks_get_consuls_check_ids(node: str, consul: AgentProcess) -> None:
    r = run_script(node, consul, "check_ids.js", "ids-npm")
    assert r["ids"] == ["service:ids-npm-one", "service:ids-npm-two:1", "service:ids-npm-two:2"]
    assert r["names"] == ["Service 'ids-npm' check", "only", "second"]
    assert r["passOne"] == {"ok": None}
    assert r["passTwo"] == {"ok": None}
