"""`pyconsul acl` against a real default-deny agent: bootstrap, policy, token, set-agent-token."""

from __future__ import annotations

import json
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

        _policies_tokens_and_roles(agent.http_addr, root, secret)

        ok = _cli(agent.http_addr, "set-agent-token", "default", secret, token=root)
        assert (ok.returncode, ok.stdout.strip()) == (0, 'ACL token "default" set successfully')
        assert _cli(agent.http_addr, "set-agent-token", "default").stderr.strip() == "Missing TOKEN argument"
        assert _cli(agent.http_addr, "set-agent-token", "nope", "x").stderr.strip() == "Unknown token type"
    finally:
        agent.stop()


def _field(out: str, label: str) -> str:
    return re.search(rf"^{label}:\s+(\S+)$", out, re.M).group(1)  # type: ignore[union-attr]


def _policies_tokens_and_roles(addr: str, root: str, app_secret: str) -> None:
    # policy read | update | delete, by ID prefix and by name
    listed = _cli(addr, "policy", "list", "-format=json", token=root)
    app_id = next(p["ID"] for p in json.loads(listed.stdout) if p["Name"] == "app")
    read = _cli(addr, "policy", "read", "-id", app_id[:8], token=root)
    assert read.returncode == 0 and f"ID:           {app_id}" in read.stdout, read.stderr
    upd = _cli(addr, "policy", "update", "-id", app_id, "-description", "the app", "-rules",
               'key_prefix "app/" { policy = "write" }', token=root)
    assert upd.returncode == 0, upd.stderr
    assert "Description:  the app" in upd.stdout and 'policy = "write"' in upd.stdout
    assert json.loads(_cli(addr, "policy", "read", "-name", "app", "-format=json", token=root).stdout)["ID"] == app_id
    scratch = _cli(addr, "policy", "create", "-name", "scratch", "-rules", 'node_prefix "" { policy = "read" }',
                   token=root)
    scratch_id = _field(scratch.stdout, "ID")
    gone = _cli(addr, "policy", "delete", "-name", "scratch", token=root)
    assert gone.stdout.strip() == f'Policy "{scratch_id}" deleted successfully', gone.stderr
    missing = _cli(addr, "policy", "read", "-id", scratch_id, token=root)
    assert missing.returncode == 1 and missing.stderr.startswith(f"Error reading policy '{scratch_id}': ")

    # role create | list | read | update | delete
    role = _cli(addr, "role", "create", "-name", "ops", "-description", "operators", "-policy-name", "app",
                "-service-identity", "web:dc1", token=root)
    assert role.returncode == 0, role.stderr
    role_id = _field(role.stdout, "ID")
    assert f"Policies:\n   {app_id} - app" in role.stdout
    assert "Service Identities:\n   web (Datacenters: dc1)" in role.stdout
    listed = _cli(addr, "role", "list", token=root)
    assert listed.stdout.startswith("ops:\n   ID:           " + role_id), listed.stdout
    upd = _cli(addr, "role", "update", "-id", role_id[:8], "-description", "on call", "-node-identity", "n1:dc1",
               token=root)
    assert upd.returncode == 0, upd.stderr
    assert "Description:  on call" in upd.stdout and "Node Identities:\n   n1 (Datacenter: dc1)" in upd.stdout
    assert "web (Datacenters: dc1)" in upd.stdout  # merged, not replaced
    assert _cli(addr, "role", "read", "-name", "ops", "-format=json", token=root).stdout.count(role_id) == 1
    assert _cli(addr, "role", "create", "-name", "empty", token=root).stderr.startswith("Cannot create a role without")

    # token list | read | update | clone | delete
    made = _cli(addr, "token", "create", "-description", "by role", "-role-name", "ops", token=root)
    assert made.returncode == 0, made.stderr
    accessor = _field(made.stdout, "AccessorID")
    assert f"Roles:\n   {role_id} - ops" in made.stdout
    listed = _cli(addr, "token", "list", token=root)
    assert listed.returncode == 0 and f"AccessorID:       {accessor}" in listed.stdout
    assert "\n\nAccessorID:" in listed.stdout  # tokens separated by a blank line
    read = _cli(addr, "token", "read", "-accessor-id", accessor[:8], token=root)
    assert read.returncode == 0 and "Description:      by role" in read.stdout, read.stderr
    me = _cli(addr, "token", "read", "-self", "-format=json", token=app_secret)
    assert json.loads(me.stdout)["SecretID"] == app_secret
    upd = _cli(addr, "token", "update", "-accessor-id", accessor, "-description", "by role and policy",
               "-policy-name", "app", token=root)
    assert upd.returncode == 0, upd.stderr
    assert f"Policies:\n   {app_id} - app" in upd.stdout and f"Roles:\n   {role_id} - ops" in upd.stdout
    clone = _cli(addr, "token", "clone", "-accessor-id", accessor, "-description", "twin", token=root)
    assert clone.returncode == 0, clone.stderr
    twin = _field(clone.stdout, "AccessorID")
    assert twin != accessor and "Description:      twin" in clone.stdout and f"{role_id} - ops" in clone.stdout
    for tok in (twin, accessor):
        gone = _cli(addr, "token", "delete", "-accessor-id", tok, token=root)
        assert gone.stdout.strip() == f'Token "{tok}" deleted successfully', gone.stderr
    gone = _cli(addr, "role", "delete", "-id", role_id, token=root)
    assert gone.stdout.strip() == f'Role "{role_id}" deleted successfully', gone.stderr
    denied = _cli(addr, "token", "list")
    assert denied.returncode == 1 and "Failed to retrieve the token list: Unexpected response code: 403" in denied.stderr
