"""`pyconsul acl` against a real default-deny agent: bootstrap, policy, token, set-agent-token."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.support.agents import start_agent


def _cli(agent_addr: str, *args: str, token: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONSUL_HTTP_ADDR": agent_addr}
    if token:
        env["CONSUL_HTTP_TOKEN"] = token
    else:
        env.pop("CONSUL_HTTP_TOKEN", None)
    return subprocess.run([sys.executable, "-m", "pyconsul", "acl", *args], env=env, capture_output=True, text=True,
                          timeout=60)


def test_acl_cli_flow(tmp_path: Path) -> None:
    conf = tmp_path / "acl.hcl"
    conf.write_text('acl {\n enabled = true\n default_policy = "deny"\n}\n')
    agent = start_agent(tmp_path, f"-config-file={conf}", name="acl-cli")
    try:
        out = _cli(agent.http_addr, "bootstrap")
        assert out.returncode == 0, out.stderr
        assert re.search(r"^AccessorID:       [0-9a-f-]{36}$", out.stdout, re.M)
        assert "Description:      Bootstrap Token (Global Management)" in out.stdout
        assert "Policies:\n   00000000-0000-0000-0000-000000000001 - global-management" in out.stdout
        root = re.search(r"^SecretID:\s+(\S+)$", out.stdout, re.M).group(1)  # type: ignore[union-attr]

        again = _cli(agent.http_addr, "bootstrap")
        assert again.returncode == 1
        assert re.search(r"Failed ACL bootstrapping: Unexpected response code: 403 \(Permission denied: ACL bootstrap "
                         r"no longer allowed \(reset index: \d+\)\)", again.stderr), again.stderr

        rules = tmp_path / "rules.hcl"
        rules.write_text('key_prefix "app/" { policy = "read" }\n')
        pol = _cli(agent.http_addr, "policy", "create", "-name", "app", "-rules", f"@{rules}", token=root)
        assert pol.returncode == 0, pol.stderr
        assert "Name:         app" in pol.stdout and 'key_prefix "app/"' in pol.stdout
        assert _cli(agent.http_addr, "policy", "create", "-rules", "x", token=root).stderr.startswith("Missing require '-name' flag")
        denied = _cli(agent.http_addr, "policy", "create", "-name", "x")
        assert "Failed to create new policy: Unexpected response code: 403 (Permission denied" in denied.stderr

        tok = _cli(agent.http_addr, "token", "create", "-description", "app token", "-policy-name", "app", token=root)
        assert tok.returncode == 0, tok.stderr
        assert re.search(r"^Policies:\n   [0-9a-f-]{36} - app$", tok.stdout, re.M)
        missing = _cli(agent.http_addr, "token", "create", token=root)
        assert missing.stderr.startswith("Cannot create a token without specifying -policy-name")
        secret = re.search(r"^SecretID:\s+(\S+)$", tok.stdout, re.M).group(1)  # type: ignore[union-attr]

        ok = _cli(agent.http_addr, "set-agent-token", "default", secret, token=root)
        assert (ok.returncode, ok.stdout.strip()) == (0, 'ACL token "default" set successfully')
        assert _cli(agent.http_addr, "set-agent-token", "default").stderr.strip() == "Missing TOKEN argument"
        assert _cli(agent.http_addr, "set-agent-token", "nope", "x").stderr.strip() == "Unknown token type"
    finally:
        agent.stop()
