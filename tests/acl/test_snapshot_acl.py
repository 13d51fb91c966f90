"""Snapshots under ACLs: an archive holds every secret, so save and restore need a management
token (Consul's rule); a token that may write every key is refused both, and the CLI saves and
restores with the management token from CONSUL_HTTP_TOKEN."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.agents import start_agent

ROOT = "5a1e7c3d-snap-root"


def _call(base: str, method: str, path: str, token: str | None, body: bytes | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(base + path, data=body, method=method)
    if token:
        req.add_header("X-Consul-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_snapshot_save_and_restore_need_a_management_token(tmp_path: Path) -> None:
    conf = tmp_path / "acl.hcl"
    conf.write_text(f'acl {{\n enabled = true\n default_policy = "deny"\n tokens {{ initial_management = "{ROOT}" }}\n}}\n')
    agent = start_agent(tmp_path / "a", f"-config-file={conf}")
    base = agent.base_url
    try:
        rules = json.dumps({"Name": "all-keys", "Rules": 'key_prefix "" { policy = "write" }'}).encode()
        assert _call(base, "PUT", "/v1/acl/policy", ROOT, rules)[0] == 200
        status, body = _call(base, "PUT", "/v1/acl/token", ROOT, json.dumps({"Policies": [{"Name": "all-keys"}]}).encode())
        assert status == 200, body
        kv_token = json.loads(body)["SecretID"]
        assert _call(base, "PUT", "/v1/kv/snap/k", kv_token, b"old")[0] == 200

        for token in (None, kv_token):
            status, body = _call(base, "GET", "/v1/snapshot", token)
            assert status == 403 and b"Permission denied" in body, (token, body)
        status, archive = _call(base, "GET", "/v1/snapshot", ROOT)
        assert status == 200 and archive[:2] == b"\x1f\x8b"

        assert _call(base, "PUT", "/v1/kv/snap/k", kv_token, b"new")[0] == 200
        assert _call(base, "PUT", "/v1/snapshot", kv_token, archive)[0] == 403
        assert _call(base, "GET", "/v1/kv/snap/k?raw", kv_token) == (200, b"new")  # the refused restore did nothing
        assert _call(base, "PUT", "/v1/snapshot", ROOT, archive)[0] == 200
        assert _call(base, "GET", "/v1/kv/snap/k?raw", kv_token) == (200, b"old")

        # The CLI, with the management token from the environment.
        env = {**os.environ, "CONSUL_HTTP_ADDR": base, "CONSUL_HTTP_TOKEN": ROOT}
        out = tmp_path / "backup.snap"
        proc = subprocess.run([sys.executable, "-m", "pyconsul", "snapshot", "save", str(out)],
                              capture_output=True, text=True, timeout=60, env=env)
        assert proc.returncode == 0 and "Saved and verified snapshot to index" in proc.stdout, proc.stdout + proc.stderr
        env["CONSUL_HTTP_TOKEN"] = kv_token
        proc = subprocess.run([sys.executable, "-m", "pyconsul", "snapshot", "save", str(tmp_path / "no.snap")],
                              capture_output=True, text=True, timeout=60, env=env)
        assert proc.returncode == 1 and "Permission denied" in proc.stderr, proc.stdout + proc.stderr
    finally:
        agent.stop()
