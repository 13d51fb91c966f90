"""`pyconsul debug`: a real capture from a dev agent into a .tar.gz, and its pure rules."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from pyconsul.cli.debug_bundle import check_targets, check_timing, redact
from tests.support.agents import start_agent


def test_timing_and_target_rules() -> None:
    assert check_timing(10, 5) is None
    assert check_timing(9, 5) == "duration must be longer than 10s"
    assert check_timing(60, 1) == "interval must be longer than 5s"
    assert check_timing(20, 30) == "duration (20s) must be longer than interval (30s)"
    assert check_targets(None)[1] is None
    assert "invalid capture target 'cpu'" in (check_targets(["cpu"])[1] or "")


@given(st.text(min_size=1, max_size=20))
def test_secrets_are_hidden_wherever_they_nest(secret: str) -> None:
    doc = {"Config": {"ACL": {"Tokens": {"Default": secret}}, "EncryptKey": secret, "KeyFile": "/k.pem"},
           "list": [{"token": secret, "name": "x"}], "encrypt_verify_incoming": True}
    out = redact(doc)
    assert out["Config"]["ACL"]["Tokens"] == "hidden" and out["Config"]["EncryptKey"] == "hidden"
    assert out["list"][0] == {"token": "hidden", "name": "x"}
    assert out["Config"]["KeyFile"] == "/k.pem" and out["encrypt_verify_incoming"] is True


def test_debug_archive_from_a_running_agent(tmp_path: Path) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    agent = start_agent(tmp_path / "agent", "-encrypt", key, "-hcl", "enable_debug = true")
    out = tmp_path / "bundle"
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pyconsul", "debug", "-http-addr", agent.base_url, "-duration", "10s",
             "-interval", "5s", "-output", str(out)],
            capture_output=True, text=True, timeout=60, env={**os.environ},
        )
    finally:
        agent.stop()
    assert proc.returncode == 0, proc.stderr
    assert "==> Starting debugger and capturing static information..." in proc.stdout
    assert f"==> Saved debug archive: {out}.tar.gz" in proc.stdout
    with tarfile.open(f"{out}.tar.gz") as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
    names = {n.removeprefix("bundle/") for n in files}
    assert {"index.json", "agent.json", "members.json", "host.json", "metrics.json", "consul.log"} <= names
    index = json.loads(files["bundle/index.json"])
    assert index["Interval"] == "5s" and index["Duration"] == "10s"
    samples = [json.loads(line) for line in files["bundle/metrics.json"].splitlines()]
    assert len(samples) >= 2 and all("Gauges" in s for s in samples)
    assert json.loads(files["bundle/agent.json"])["Config"]["NodeName"] == "agent"
    assert any(n.endswith("/profile.json") for n in names)
    # Our own profiles: a CPU profile of folded stacks naming the agent's code, the task dump, the heap.
    folded = b"".join(body for n, body in files.items() if n.endswith("/profile.folded")).decode()
    assert folded and all(line.rsplit(" ", 1)[1].isdigit() for line in folded.splitlines())
    assert "asyncio/" in folded or "pyconsul/" in folded
    tasks = b"".join(body for n, body in files.items() if n.endswith("/goroutine.txt")).decode()
    assert "asyncio tasks:" in tasks and "threads:" in tasks
    assert any(n.endswith("/heap.txt") for n in names)
    assert all(key.encode() not in body for body in files.values())  # the gossip key never leaves
    assert not out.exists()  # the working directory went into the archive


def test_existing_output_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bundle").mkdir()
    proc = subprocess.run([sys.executable, "-m", "pyconsul", "debug", "-output", str(tmp_path / "bundle"),
                           "-duration", "10s", "-interval", "5s"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1 and "output directory already exists" in proc.stderr


def test_without_enable_debug_pprof_is_dropped_with_consuls_warning(tmp_path: Path) -> None:
    agent = start_agent(tmp_path / "agent")
    out = tmp_path / "bundle"
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pyconsul", "debug", "-http-addr", agent.base_url, "-duration", "10s",
             "-interval", "5s", "-output", str(out), "-archive=false"],
            capture_output=True, text=True, timeout=60,
        )
    finally:
        agent.stop()
    assert proc.returncode == 0, proc.stderr
    assert "[WARN] Unable to capture pprof. Set enable_debug to true on target agent to enable profiling." in proc.stdout
    assert "Capture: 'metrics, logs, host, agent, members'" in proc.stdout
    assert not list(out.rglob("profile.*")) and (out / "metrics.json").exists()
