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
