"""A prepared query's Token is redacted to `<hidden>` for readers without acl:write, on get, list
and explain, as Consul redacts it; a management token sees it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from tests.support.agents import AgentProcess, start_agent

ROOT = "7c2d-query-root"
STORED = "3f6e1a52-query-token"
RULES = 'query_prefix "" { policy = "write" }\nservice_prefix "" { policy = "read" }\nnode_prefix "" { policy = "read" }\n'


def _call(agent: AgentProcess, method: str, path: str, token: str, body: object = None) -> tuple[int, object]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(agent.base_url + path, data=data, method=method, headers={"X-Consul-Token": token})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        return err.code, err.read()


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AgentProcess, str, str]]:
    work = tmp_path_factory.mktemp("qtok")
    conf = work / "acl.hcl"
    conf.write_text(f'acl {{\n enabled = true\n default_policy = "deny"\n tokens {{ initial_management = "{ROOT}" }}\n}}\n')
    agent = start_agent(work, f"-config-file={conf}", name="qtok-agent")
    try:
        assert _call(agent, "PUT", "/v1/acl/policy", ROOT, {"Name": "q-writer", "Rules": RULES})[0] == 200
        status, tok = _call(agent, "PUT", "/v1/acl/token", ROOT, {"Policies": [{"Name": "q-writer"}]})
        assert status == 200, tok
        status, created = _call(agent, "POST", "/v1/query", ROOT,
                                {"Name": "web-q", "Token": STORED, "Service": {"Service": "web"}})
        assert status == 200, created
        yield agent, str(tok["SecretID"]), str(created["ID"])  # type: ignore[index]
    finally:
        agent.stop()


def test_a_reader_without_acl_write_sees_the_token_hidden(setup: tuple[AgentProcess, str, str]) -> None:
    agent, writer, qid = setup
    status, got = _call(agent, "GET", f"/v1/query/{qid}", writer)
    assert status == 200 and got[0]["Token"] == "<hidden>"  # type: ignore[index]
    status, listed = _call(agent, "GET", "/v1/query", writer)
    assert status == 200 and [q["Token"] for q in listed] == ["<hidden>"]  # type: ignore[union-attr]
    status, explained = _call(agent, "GET", f"/v1/query/{qid}/explain", writer)
    assert status == 200 and explained["Query"]["Token"] == "<hidden>"  # type: ignore[index]


def test_a_management_token_sees_the_stored_token(setup: tuple[AgentProcess, str, str]) -> None:
    agent, _, qid = setup
    assert _call(agent, "GET", f"/v1/query/{qid}", ROOT)[1][0]["Token"] == STORED  # type: ignore[index]
    assert [q["Token"] for q in _call(agent, "GET", "/v1/query", ROOT)[1]] == [STORED]  # type: ignore[union-attr]
    assert _call(agent, "GET", f"/v1/query/{qid}/explain", ROOT)[1]["Query"]["Token"] == STORED  # type: ignore[index]


def _token(agent: AgentProcess, rules: str, name: str) -> str:
    assert _call(agent, "PUT", "/v1/acl/policy", ROOT, {"Name": name, "Rules": rules})[0] == 200
    status, tok = _call(agent, "PUT", "/v1/acl/token", ROOT, {"Policies": [{"Name": name}]})
    assert status == 200, tok
    return str(tok["SecretID"])  # type: ignore[index]


def test_query_rights_are_checked_on_the_querys_own_name(setup: tuple[AgentProcess, str, str]) -> None:
    agent, _, _ = setup
    own = _token(agent, 'query_prefix "mine-" { policy = "write" }\nservice_prefix "" { policy = "read" }\n', "q-mine")
    # query:write on the name (a prefix rule) creates, changes and deletes that query, and only it
    status, created = _call(agent, "POST", "/v1/query", own, {"Name": "mine-web", "Service": {"Service": "web"}})
    assert status == 200, created
    qid = created["ID"]  # type: ignore[index]
    status, body = _call(agent, "POST", "/v1/query", own, {"Name": "theirs", "Service": {"Service": "web"}})
    assert status == 403 and b"lacks permission 'query:write' on \"theirs\"" in body  # type: ignore[operator]
    assert _call(agent, "PUT", f"/v1/query/{qid}", own, {"Name": "mine-web", "Service": {"Service": "db"}})[0] == 200
    # renaming it away from the token's names is a write on the new name
    status, body = _call(agent, "PUT", f"/v1/query/{qid}", own, {"Name": "theirs-2", "Service": {"Service": "db"}})
    assert status == 403, body
    assert _call(agent, "GET", f"/v1/query/{qid}", own)[0] == 200
    assert _call(agent, "GET", f"/v1/query/{qid}/explain", own)[0] == 200
    # another token without query rights cannot read it, and an unknown one is refused outright
    other = _token(agent, 'service_prefix "" { policy = "read" }\n', "q-none")
    assert _call(agent, "GET", f"/v1/query/{qid}", other) == (403, b"Permission denied")
    assert _call(agent, "GET", f"/v1/query/{qid}/explain", other) == (403, b"Permission denied")
    assert _call(agent, "DELETE", f"/v1/query/{qid}", other)[0] == 403
    assert _call(agent, "DELETE", f"/v1/query/{qid}", own)[0] == 200


def test_execute_needs_no_query_right_and_filters_by_the_querys_token(setup: tuple[AgentProcess, str, str]) -> None:
    agent, _, _ = setup
    for node, svc in (("n-web", "web"), ("n-db", "db")):
        reg = {"Node": node, "Address": "10.9.0.1", "Service": {"Service": svc, "Port": 80}}
        assert _call(agent, "PUT", "/v1/catalog/register", ROOT, reg)[0] == 200
    reader = _token(agent, 'service "web" { policy = "read" }\nnode_prefix "" { policy = "read" }\n', "q-exec")
    status, created = _call(agent, "POST", "/v1/query", ROOT, {"Name": "db-q", "Service": {"Service": "db"}})
    assert status == 200, created
    # the caller's token may not read db: executed without a query token, nothing comes back
    status, out = _call(agent, "GET", "/v1/query/db-q/execute", reader)
    assert status == 200 and out["Nodes"] == []  # type: ignore[index]
    # with the management token stored in the query, its rights decide
    update = {"Name": "db-q", "Token": ROOT, "Service": {"Service": "db"}}
    assert _call(agent, "PUT", f"/v1/query/{created['ID']}", ROOT, update)[0] == 200  # type: ignore[index]
    status, out = _call(agent, "GET", "/v1/query/db-q/execute", reader)
    assert status == 200 and [n["Node"]["Node"] for n in out["Nodes"]] == ["n-db"]  # type: ignore[index]
    # a definition carrying the redacted placeholder back is refused, as in Consul
    status, body = _call(agent, "PUT", f"/v1/query/{created['ID']}", ROOT, {**update, "Token": "<hidden>"})  # type: ignore[index]
    assert status == 400 and b"redacted token" in body  # type: ignore[operator]
