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
        f.write_text(json.dumps({"acl": {"enabled": True, "default_policy": "deny"}}))
        status, _, body = agent.request("PUT", "/v1/agent/reload")
        assert status == 500
        assert body.decode().startswith("Failed reloading: 2 errors occurred:")
        assert f"security key 'acl.enabled' (in {f}) is set but not enforced" in body.decode()
        assert agent.alive() and agent.get_json("/v1/agent/self")["DebugConfig"]["ACL"]["Enabled"] is False
    finally:
        agent.stop()


def test_agent_refuses_to_start_with_acl_on_and_starts_loudly_with_the_override(tmp_path: Path) -> None:
    f = tmp_path / "acl.hcl"
    f.write_text('acl {\n  enabled = true\n  default_policy = "deny"\n'
                 '  tokens { agent = "secret"\n initial_management = "root-secret" }\n}\n')
    refused = subprocess.run([sys.executable, "-m", "pyconsul", "agent", "-dev", f"-config-file={f}"],
                             capture_output=True, text=True, timeout=30)
    assert refused.returncode == 1
    assert refused.stdout == ""  # not even the banner
    assert f"==> 2 errors occurred:\n\t* security key 'acl.default_policy' (in {f}) is set but not enforced" \
        in refused.stderr
    assert "-dev-allow-unenforced=acl.enabled" in refused.stderr
    agent = start_agent(tmp_path, f"-config-file={f}", "-dev-allow-unenforced=acl.enabled",
                        "-dev-allow-unenforced=acl.default_policy")
    try:
        log = agent.log()
        for key in ("acl.enabled", "acl.default_policy"):
            assert f"[WARN]  config: -dev-allow-unenforced={key}: security key {key!r} (in {f}) is NOT ENFORCED" in log
        assert agent.request("GET", "/v1/agent/self")[0] == 403  # default deny, no token
        debug = agent.get_json("/v1/agent/self?token=root-secret")["DebugConfig"]
        assert debug["ACL"]["Enabled"] is True and debug["ACL"]["DefaultPolicy"] == "deny"
        assert debug["ACL"]["Tokens"]["Agent"] == "hidden"  # secrets never leave the agent
    finally:
        agent.stop()
