"""The leftover checks: a running child is seen until reaped, and a module that leaves a process or
a temporary file behind fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.leaks import child_pids, kill_and_reap

ROOT = Path(__file__).resolve().parents[2]


def test_a_running_child_is_seen_until_it_is_killed() -> None:
    before = child_pids()
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert child_pids() - before == {proc.pid}
    finally:
        kill_and_reap({proc.pid})
    assert proc.pid not in child_pids()


def test_a_module_that_leaves_a_process_or_a_temporary_file_fails(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(
        "from tests.conftest import _nothing_left_behind, pytest_configure, pytest_unconfigure  # noqa: F401\n")
    (tmp_path / "test_leaky.py").write_text(
        "import subprocess, tempfile, pathlib\n"
        "def test_forgets_its_child():\n"
        "    subprocess.Popen(['sleep', '60'])\n"
        "def test_forgets_its_file():\n"
        "    pathlib.Path(tempfile.gettempdir(), 'forgotten.txt').write_text('x')\n")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                          str(tmp_path)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=tmp_path)
    assert run.returncode == 1, run.stdout
    assert "left behind by this module" in run.stdout
    assert "child process still running" in run.stdout and "sleep 60" in run.stdout
    assert "left in the temporary directory: forgotten.txt" in run.stdout
    assert "2 passed, 1 error" in run.stdout
