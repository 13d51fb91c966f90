"""A real server agent and its Raft data dir: damage refuses to start with a clear error (no
traceback), -raft-recover-truncate starts and says what it cut."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.agents import AgentProcess, start_agent


def server(workdir: Path, data: Path, *extra: str, ports: dict[str, int] | None = None,
           wait: bool = True) -> AgentProcess:
    return start_agent(workdir, "-server", "-bootstrap", "-data-dir", str(data), *extra,
                       dev=False, ports=ports, wait=wait)


def ports_of(a: AgentProcess) -> dict[str, int]:
    return {"http": a.http_port, "dns": a.dns_port, "server": a.server_port, "serf_lan": a.serf_lan_port}


def test_damaged_log_refuses_to_start_until_the_operator_recovers(tmp_path: Path) -> None:
    data = tmp_path / "data"
    a = server(tmp_path / "1", data)
    try:
        for i in range(30):
            status, _, _ = a.request("PUT", f"/v1/kv/k{i}", f"v{i}".encode())
            assert status == 200
    finally:
        a.stop()
    seg = sorted((data / "raft" / "log").glob("*.seg"))[-1]
    blob = bytearray(seg.read_bytes())
    # Damage k15's entry: in the middle of the KV writes (not a torn tail), after k0. The byte
    # halfway through the file can fall before k0 when the CA's large first entries come first.
    at = blob.find(b"k15")
    assert at > 0, "k15 not in the last segment"
    blob[at] ^= 0xFF
    seg.write_bytes(bytes(blob))

    b = server(tmp_path / "2", data, ports=ports_of(a), wait=False)
    assert b.proc.wait(30) == 1
    out = b.log()
    assert "==> Error starting agent" in out and seg.name in out and "-raft-recover-truncate" in out
    assert "Traceback" not in out

    c = server(tmp_path / "3", data, "-raft-recover-truncate", ports=ports_of(a))
    try:
        assert "recovery cut the log" in c.log()
        status, _, _ = c.request("PUT", "/v1/kv/after", b"1")
        assert status == 200
        assert c.get_json("/v1/kv/k0")[0]["Key"] == "k0"  # entries before the damage survive
    finally:
        c.stop()


def test_agent_help_documents_the_recovery_flag() -> None:
    out = subprocess.run([sys.executable, "-m", "pyconsul", "agent", "-help"], capture_output=True, text=True,
                         timeout=30)
    assert "-raft-recover-truncate" in out.stdout + out.stderr
