"""`pyconsul acl auth-method …`, `acl binding-rule …`, `login` and `logout` against a real
default-deny agent, with Consul's output."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from tests.support.agents import start_agent
from tests.support.jwt import pem, sign
from tests.support.wait import wait_until

ROOT = "8c4f0d6b-5e3a-4b1c-8d9f-4a5b6c7d8e9f"


def _cli(addr: str, *args: str, token: str = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONSUL_HTTP_ADDR": addr}
    env.pop("CONSUL_HTTP_TOKEN", None)
    if token:
        env["CONSUL_HTTP_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "pyconsul", *args], env=env, capture_output=True, text=True,
                          timeout=60)


def test_auth_method_binding_rule_login_logout(tmp_path: Path) -> None:
    conf = tmp_path / "acl.hcl"
    conf.write_text(f'acl {{\n enabled = true\n default_policy = "deny"\n tokens {{ initial_management = "{ROOT}" }}\n}}\n')
    agent = start_agent(tmp_path, f"-config-file={conf}", name="acl-login")
    addr = agent.http_addr
    wait_until(lambda: _cli(addr, "acl", "token", "read", "-self").returncode == 0, timeout=20)
    key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "config.json").write_text(json.dumps({"JWTValidationPubKeys": [pem(key)],
                                                      "ClaimMappings": {"sub": "name"}}))
    try:
        out = _cli(addr, "acl", "auth-method", "create", "-name", "ci")
        assert out.returncode == 1 and "Missing required '-type' flag" in out.stderr
        out = _cli(addr, "acl", "auth-method", "create", "-type", "jwt", "-name", "ci", "-description", "CI",
                   "-max-token-ttl", "5m", f"-config=@{tmp_path / 'config.json'}")
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith("Name:          ci\nType:          jwt\nDescription:   CI\nMaxTokenTTL:   5m0s\n"
                                     "Config:\n{\n  \"ClaimMappings\"")
        out = _cli(addr, "acl", "auth-method", "list")
        assert out.stdout.strip() == "ci:\n   Type:         jwt\n   Description:  CI", out.stdout
        out = _cli(addr, "acl", "auth-method", "update", "-name", "ci", "-description", "CI jobs")
        assert out.returncode == 0 and "Description:   CI jobs" in out.stdout, out.stderr
        out = _cli(addr, "acl", "auth-method", "read", "-name", "nope")
        assert out.returncode == 1 and "Auth method not found with name 'nope'" in out.stderr
        out = _cli(addr, "acl", "auth-method", "create", "-type", "kubernetes", "-name", "k8s")
        assert out.returncode == 1 and "Failed to create new auth method: Unexpected response code: 400 " \
            "(Invalid Auth Method: Type should be one of: [jwt]" in out.stderr, out.stderr

        out = _cli(addr, "acl", "binding-rule", "create", "-method", "ci", "-bind-type", "service",
                   "-bind-name", "${value.name}", "-selector", 'value.name != ""')
        assert out.returncode == 0, out.stderr
        rid = re.search(r"^ID:\s+(\S+)$", out.stdout, re.M).group(1)  # type: ignore[union-attr]
        assert "AuthMethod:   ci\n" in out.stdout and "BindName:     ${value.name}\n" in out.stdout
        out = _cli(addr, "acl", "binding-rule", "list", "-method", "ci")
        assert out.stdout.startswith(f"{rid}:\n   AuthMethod:   ci\n"), out.stdout
        out = _cli(addr, "acl", "binding-rule", "read", "-id", rid[:8])
        assert out.returncode == 0 and f"ID:           {rid}" in out.stdout
        out = _cli(addr, "acl", "binding-rule", "update", "-id", rid, "-description", "svc")
        assert out.returncode == 0 and "Description:  svc" in out.stdout and "BindType:     service" in out.stdout

        now = int(time.time())
        (tmp_path / "jwt").write_text(sign(key, {"sub": "builder", "iat": now, "exp": now + 60}, "ES256") + "\n")
        sink = tmp_path / "token"
        out = _cli(addr, "login", "-method", "ci", f"-bearer-token-file={tmp_path / 'jwt'}",
                   f"-token-sink-file={sink}", "-meta", "job=42", token="")
        assert out.returncode == 0, out.stderr
        secret = sink.read_text()
        assert oct(sink.stat().st_mode & 0o777) == "0o600"
        me = _cli(addr, "acl", "token", "read", "-self", token=secret)
        assert "Auth Method:      ci" in me.stdout and 'token created via login: {"job":"42"}' in me.stdout, me
        assert "   builder (Datacenters: all)" in me.stdout
        out = _cli(addr, "logout", token=ROOT)
        assert out.returncode == 1 and "Error destroying token: Unexpected response code: 403 (Permission denied)" \
            in out.stderr, out.stderr
        assert _cli(addr, "logout", token=secret).returncode == 0
        assert _cli(addr, "acl", "token", "read", "-self", token=secret).returncode == 1

        out = _cli(addr, "acl", "token", "create", "-templated-policy", "builtin/service", "-var", "name:api")
        assert out.returncode == 0, out.stderr
        assert "Templated Policies:\n   builtin/service\n      Name: api\n      Datacenters: all" in out.stdout
        out = _cli(addr, "acl", "role", "create", "-name", "dns", "-templated-policy", "builtin/dns")
        assert out.returncode == 0 and "Templated Policies:\n   builtin/dns\n      Datacenters: all" in out.stdout
        out = _cli(addr, "acl", "token", "create", "-templated-policy", "builtin/node")
        assert out.returncode == 1 and "name is required" in out.stderr, out.stderr

        out = _cli(addr, "acl", "binding-rule", "delete", "-id", rid)
        assert out.returncode == 0 and out.stdout.strip() == f'Binding rule "{rid}" deleted successfully'
        out = _cli(addr, "acl", "auth-method", "delete", "-name", "ci")
        assert out.returncode == 0 and out.stdout.strip() == 'Auth-method "ci" deleted successfully'
    finally:
        agent.stop()
