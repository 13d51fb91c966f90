"""A real agent and the support table: unimplemented keys are warned about at start and on every
reload, an unenforced security key stops the agent from starting and a reload from applying it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.agents import start_agent

UNIMPLEMENTED = "config key 'telemetry.statsite_address' (in {f}) is recognised but not implemented: it has no effect"


def test_warnings_at_start_and_reload_and_a_refused_reload_keeps_the_agent(tmp_path: Path) -> None:
    f = tmp_path / "extra.json"
    f.write_text(json.dumps({"telemetry": {"statsite_address": "127.0.0.1:8125"}}))
    agent = start_agent(tmp_path, f"-config-file={f}")
    try:
        warning = UNIMPLEMENTED.format(f=f)
        assert agent.log().count(warning) == 1
        status, _, _ = agent.request("PUT", "/v1/agent/reload")
        assert status == 200
        assert agent.log().count(warning) == 2
        f.write_text(json.dumps({"enable_acl_replication": True}))
        status, _, body = agent.request("PUT", "/v1/agent/reload")
        assert status == 500
        assert body.decode().startswith("Failed reloading: ")
        assert f"security key 'enable_acl_replication' (in {f}) is set but not enforced" in body.decode()
        assert agent.alive() and agent.get_json("/v1/agent/self")["DebugConfig"]["ACL"]["Enabled"] is False
    finally:
        agent.stop()


def test_agent_starts_with_acls_and_refuses_token_replication_without_the_override(tmp_path: Path) -> None:
    f = tmp_path / "acl.hcl"
    replicating = tmp_path / "replication.hcl"
    replicating.write_text('enable_acl_replication = true\n')
    refused = subprocess.run([sys.executable, "-m", "pyconsul", "agent", "-dev", f"-config-file={replicating}"],
                             capture_output=True, text=True, timeout=30)
    assert refused.returncode == 1
    assert refused.stdout == ""  # not even the banner
    assert f"security key 'enable_acl_replication' (in {replicating}) is set but not enforced" \
        in refused.stderr
    assert "-dev-allow-unenforced=enable_acl_replication" in refused.stderr
    f.write_text('acl {\n  enabled = true\n  default_policy = "deny"\n'
                 '  tokens { agent = "secret"\n initial_management = "root-secret" }\n}\n')
    agent = start_agent(tmp_path, f"-config-file={f}")  # enforced: no override needed
    try:
        assert "NOT ENFORCED" not in agent.log()
        assert agent.request("GET", "/v1/agent/self")[0] == 403  # default deny, no token
        debug = agent.get_json("/v1/agent/self?token=root-secret")["DebugConfig"]
        assert debug["ACL"]["Enabled"] is True and debug["ACL"]["DefaultPolicy"] == "deny"
        assert debug["ACL"]["Tokens"]["Agent"] == "hidden"  # secrets never leave the agent
    finally:
        agent.stop()
