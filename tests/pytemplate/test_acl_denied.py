"""pytemplate with a token that lacks a permission: one log line names it, and it stops instead
of retrying a request no retry can make succeed."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.agents import AgentProcess, start_agent

ROOT = "7e3a-template-root"


def _put(agent: AgentProcess, path: str, body: bytes) -> bytes:
    req = urllib.request.Request(agent.base_url + path, data=body, method="PUT", headers={"X-Consul-Token": ROOT})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.read()


@pytest.fixture(scope="module")
def acl_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    work = tmp_path_factory.mktemp("tmpl-acl")
    conf = work / "acl.hcl"
    conf.write_text(f'acl {{\n enabled = true\n default_policy = "deny"\n tokens {{ initial_management = "{ROOT}" }}\n}}\n')
    agent = start_agent(work, f"-config-file={conf}", name="tmpl-acl")
    yield agent
    agent.stop()


def test_a_403_is_one_line_naming_the_permission_and_no_retry(acl_agent: AgentProcess, tmp_path: Path) -> None:
    _put(acl_agent, "/v1/kv/app/v", b"visible")
    _put(acl_agent, "/v1/kv/secret/k", b"hidden")
    _put(acl_agent, "/v1/acl/policy", json.dumps({"Name": "app", "Rules": 'key_prefix "app/" { policy = "read" }'}).encode())
    token = json.loads(_put(acl_agent, "/v1/acl/token", json.dumps({"Policies": [{"Name": "app"}]}).encode()))["SecretID"]
    ok_src = tmp_path / "ok.ctmpl"
    ok_src.write_text('{{ key "app/v" }}')
    base = [sys.executable, "-m", "pytemplate", "-once", "-consul-addr", acl_agent.http_addr, "-consul-token", token]
    ok = subprocess.run([*base, "-template", f"{ok_src}:{tmp_path}/ok"], capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "ok").read_text() == "visible"

    bad_src = tmp_path / "bad.ctmpl"
    bad_src.write_text('{{ key "secret/k" }}')
    # retries are on (the default 12): a 403 must not use them
    denied = subprocess.run([*base, "-consul-retry-backoff", "2s", "-template", f"{bad_src}:{tmp_path}/bad"],
                            capture_output=True, text=True, timeout=20)
    assert denied.returncode == 1
    naming = [line for line in denied.stderr.splitlines() if "lacks permission 'key:read' on \"secret/k\"" in line]
    assert len(naming) == 1, denied.stderr
    assert "retry" not in denied.stderr
    assert not (tmp_path / "bad").exists()
