"""Tools that start Consul through an environment variable (`CONSUL_BIN=pyconsul`) get an agent.

Runs exactly what such a tool runs: `$CONSUL_BIN agent -dev ...` through a shell, with the
installed `pyconsul` console script as CONSUL_BIN, then talks to it with `$CONSUL_BIN ...`.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.cli.cli_run import clean_env, installed_script
from tests.support.ports import free_port

SCRIPT = Path(installed_script())


def _sh(cmd: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, env=env, timeout=30)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_consul_bin_starts_a_dev_agent(tmp_path: Path, sig: signal.Signals) -> None:
    assert SCRIPT.exists(), "run `pip install -e .` so the pyconsul console script is installed"
    http, dns = free_port(), free_port()
    server, serf = free_port(), free_port()
    env = clean_env(CONSUL_BIN=str(SCRIPT), CONSUL_HTTP_ADDR=f"127.0.0.1:{http}")
    log = tmp_path / "agent.log"
    cmd = (f'exec "$CONSUL_BIN" agent -dev -node bin-node -bind 127.0.0.1 -client 127.0.0.1 '
           f"-http-port {http} -dns-port {dns} -server-port {server} -serf-lan-port {serf}")
    with open(log, "wb") as fh:
        proc = subprocess.Popen(["sh", "-c", cmd], stdout=fh, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 20
        r = _sh('"$CONSUL_BIN" members', env)
        while r.returncode != 0 and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.1)
            r = _sh('"$CONSUL_BIN" members', env)
        assert r.returncode == 0, r.stderr + log.read_text()
        assert r.stdout.splitlines()[1].split()[:4] == ["bin-node", f"127.0.0.1:{serf}", "alive", "server"]
        assert _sh('"$CONSUL_BIN" kv put from/bin yes', env).stdout == "Success! Data written to: from/bin\n"
        assert _sh('"$CONSUL_BIN" kv get from/bin', env).stdout == "yes\n"
        assert "==> Consul agent running!" in log.read_text()
        proc.send_signal(sig)
        code = proc.wait(15)  # raises if the agent does not stop
        # A -dev agent is a server: it skips the graceful leave on both signals and exits 1,
        # as Consul does (skip_leave_on_interrupt=true, leave_on_terminate=false).
        assert code == 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_consul_bin_with_config_dir_like_client_library_test_suites(tmp_path: Path) -> None:
    """py-consul's test harness: ports in ./config.json, `$CONSUL_BIN agent -dev -bind=127.0.0.1
    -config-dir=.` from that directory, DNS disabled, then wait for a leader over HTTP."""
    import json
    import urllib.request

    ports = {"http": free_port(), "serf_lan": free_port(), "serf_wan": free_port(),
             "server": free_port(), "dns": -1}
    (tmp_path / "config.json").write_text(json.dumps({
        "ports": ports, "performance": {"raft_multiplier": 1}, "enable_script_checks": True}))
    env = clean_env(CONSUL_BIN=str(SCRIPT))
    with open(tmp_path / "agent.log", "wb") as log:
        proc = subprocess.Popen(["sh", "-c", 'exec "$CONSUL_BIN" agent -dev -bind=127.0.0.1 -config-dir=.'],
                                cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        leader = b""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and leader.strip() in (b"", b'""'):
            assert proc.poll() is None, (tmp_path / "agent.log").read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{ports['http']}/v1/status/leader", timeout=2) as r:
                    leader = r.read()
            except OSError:
                time.sleep(0.1)
        assert leader.strip() not in (b"", b'""'), (tmp_path / "agent.log").read_text()
        r = _sh(f'"$CONSUL_BIN" catalog services -http-addr=127.0.0.1:{ports["http"]}', env)
        assert (r.returncode, r.stdout) == (0, "consul\n")
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
