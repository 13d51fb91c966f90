"""`pyconsul intention` and `pyconsul connect ca` against a real agent: Consul's lines, tables and
exit codes; with ACLs on (default deny) the default decision is deny and authorize needs
service:write."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.cli_run import clean_env, consul
from tests.support.agents import AgentProcess, start_agent
from tests.support.ports import loopback
from tests.support.wait import wait_until


@pytest.fixture(scope="module")
def a(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    agent = start_agent(tmp_path_factory.mktemp("ixn"), host=loopback(71), name="ixn")
    wait_until(lambda: agent.get_json("/v1/connect/ca/roots")["ActiveRootID"], what="the CA's root")
    yield agent
    agent.stop()


def test_create_list_get_check_match_delete(a: AgentProcess) -> None:
    env = clean_env(CONSUL_HTTP_ADDR=a.http_addr)
    r = consul("intention", "list", env=env)
    assert (r.code, r.out, r.err) == (2, "", "There are no intentions.\n")
    r = consul("intention", "create", "web", "db", env=env)
    assert (r.code, r.out) == (0, "Created: web => db (allow)\n"), r.err
    r = consul("intention", "create", "-deny", "-meta", "team=core", "*", "db", env=env)
    assert (r.code, r.out) == (0, "Created: * => db (deny)\n"), r.err
    r = consul("intention", "create", "web", "db", env=env)
    assert r.code == 1 and r.err.startswith('Error creating intention "web => db (allow)": Unexpected response code: 500 '
                                            "(duplicate intention found: web => db")
    r = consul("intention", "create", "-deny", "-replace", "web", "db", env=env)
    assert r.code == 0, r.err
    r = consul("intention", "check", "web", "db", env=env)
    assert (r.code, r.out) == (1, "Denied\n")
    r = consul("intention", "check", "api", "cache", env=env)
    assert (r.code, r.out) == (0, "Allowed\n")
    r = consul("intention", "list", env=env)
    lines = r.out.splitlines()
    assert r.code == 0 and re.split(r"\s{2,}", lines[0]) == ["ID", "Source", "Action", "Destination", "Precedence"]
    rows = [re.split(r"\s{2,}", line) for line in lines[1:]]
    assert [row[1:] for row in rows] == [["web", "deny", "db", "9"], ["*", "deny", "db", "8"]]
    r = consul("intention", "get", "*", "db", env=env)
    got = dict(re.split(r":\s+", line, maxsplit=1) for line in r.out.splitlines())
    assert got["Source"] == "*" and got["Action"] == "deny" and got["Meta[team]"] == "core"
    assert re.fullmatch(r"\w+day, \d\d-\w{3}-\d\d \d\d:\d\d:\d\d \w+", got["Created At"]), got
    by_id = consul("intention", "get", got["ID"], env=env)
    assert by_id.out == r.out
    r = consul("intention", "match", "db", env=env)
    assert r.out == "web => db (deny)\n* => db (deny)\n"
    r = consul("intention", "match", "-source", "web", env=env)
    assert r.out == "web => db (deny)\n* => db (deny)\n"  # a wildcard source applies to web
    assert consul("intention", "delete", got["ID"], env=env).out == "Intention deleted.\n"
    assert consul("intention", "delete", "web", "db", env=env).out == "Intention deleted.\n"
    assert consul("intention", "list", env=env).code == 2


@pytest.mark.parametrize("args,code,err", [
    (["create", "web"], 1, "Error: Must specify two arguments: source and destination\n"),
    (["create", "-allow", "-deny", "a", "b"], 1, "Only one of -allow or -deny may be specified.\n"),
    (["delete"], 1, "command requires exactly 1 or 2 arguments\n"),
    (["check", "a"], 2, "Error: command requires exactly two arguments: src and dst\n"),
])
def test_argument_errors(a: AgentProcess, args: list[str], code: int, err: str) -> None:
    r = consul("intention", *args, env=clean_env(CONSUL_HTTP_ADDR=a.http_addr))
    assert (r.code, r.err) == (code, err)


def test_check_against_no_agent_exits_2() -> None:
    r = consul("intention", "check", "a", "b", env=clean_env(CONSUL_HTTP_ADDR="127.0.0.1:1"))
    assert r.code == 2 and r.err.startswith("Error checking the connection: ")


def test_connect_ca_get_and_set_config(a: AgentProcess, tmp_path: Path) -> None:
    env = clean_env(CONSUL_HTTP_ADDR=a.http_addr)
    r = consul("connect", "ca", "get-config", env=env)
    assert r.code == 0 and json.loads(r.out)["Config"]["LeafCertTTL"] == "72h" and "\n\t\"Provider\"" in r.out
    f = tmp_path / "ca.json"
    f.write_text(json.dumps({"Provider": "consul", "Config": {"LeafCertTTL": "10m"}}))
    r = consul("connect", "ca", "set-config", "-config-file", str(f), env=env)
    assert r.code == 1 and r.err == ("Error setting CA configuration: Unexpected response code: 400 "
                                     "(leaf cert TTL must be greater or equal than 1h0m0s)\n")
    f.write_text(json.dumps({"Provider": "consul", "Config": {"LeafCertTTL": "24h"}}))
    r = consul("connect", "ca", "set-config", "-config-file", str(f), env=env)
    assert (r.code, r.out) == (0, "Configuration updated!\n")
    assert json.loads(consul("connect", "ca", "get-config", env=env).out)["Config"]["LeafCertTTL"] == "24h"


def test_default_deny_acls_deny_without_an_intention(tmp_path: Path) -> None:
    conf = tmp_path / "acl.hcl"
    conf.write_text('acl {\n enabled = true\n default_policy = "deny"\n tokens { initial_management = "root" }\n}\n')
    agent = start_agent(tmp_path, f"-config-file={conf}", name="ixn-acl", host=loopback(72))
    try:
        root = clean_env(CONSUL_HTTP_ADDR=agent.http_addr, CONSUL_HTTP_TOKEN="root")
        r = wait_until(lambda: (r := consul("intention", "check", "web", "db", env=root)).code in (0, 1) and r, 15,
                       what="intention check")
        assert (r.code, r.out) == (1, "Denied\n")
        anonymous = clean_env(CONSUL_HTTP_ADDR=agent.http_addr)
        assert consul("intention", "create", "web", "db", env=anonymous).code == 1
        assert consul("intention", "create", "web", "db", env=root).code == 0
        assert consul("intention", "check", "web", "db", env=root).out == "Allowed\n"
        body = {"Target": "db", "ClientCertURI": "spiffe://x.consul/ns/default/dc/dc1/svc/api"}
        status, _, raw = agent.request("POST", "/v1/agent/connect/authorize", body)
        assert status == 403
    finally:
        agent.stop()
