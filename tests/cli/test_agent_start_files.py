"""Where `agent` puts its files at start: the data dir is made before the pid file is written, as
Consul does, so harnesses that put both under one fresh directory (DIR/data, DIR/pid) work."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.agents import start_agent


def test_pid_file_beside_a_missing_data_dir(tmp_path: Path) -> None:
    base = tmp_path / "node1"  # does not exist yet: neither data nor pid has a parent
    pid_file = base / "pid"
    agent = start_agent(tmp_path, "-server", "-bootstrap", "-data-dir", str(base / "data"),
                        "-pid-file", str(pid_file), dev=False)
    try:
        assert (base / "data").is_dir()
        assert pid_file.read_text().strip() == str(agent.proc.pid)
    finally:
        agent.stop()
    assert not pid_file.exists()  # removed on a clean shutdown


def test_pid_file_dir_is_created(tmp_path: Path) -> None:
    # Unlike Consul, the pid file's own directory is made (a unit's /run/pyconsul/ may not exist).
    pid_file = tmp_path / "run" / "pyconsul" / "pid"
    agent = start_agent(tmp_path / "a", "-server", "-bootstrap", "-data-dir", str(tmp_path / "data"),
                        "-pid-file", str(pid_file), dev=False)
    try:
        assert pid_file.read_text().strip() == str(agent.proc.pid)
    finally:
        agent.stop()


def test_pid_file_that_cannot_be_opened_is_refused(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    pid_file = tmp_path / "afile" / "pid"  # its "directory" is a regular file
    proc = subprocess.run(
        [sys.executable, "-m", "pyconsul", "agent", "-server", "-bootstrap", "-bind", "127.0.0.1",
         "-data-dir", str(tmp_path / "data"), "-pid-file", str(pid_file)],
        capture_output=True, text=True, timeout=30, env={**os.environ},
    )
    assert proc.returncode == 1
    assert "Could not open pid file" in proc.stderr
