"""The leftover-process check sees a running child and not one that has been reaped."""

from __future__ import annotations

import subprocess
import sys

from tests.support.leaks import child_pids, kill_and_reap


def test_a_running_child_is_seen_until_it_is_killed() -> None:
    before = child_pids()
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert child_pids() - before == {proc.pid}
    finally:
        kill_and_reap({proc.pid})
    assert proc.pid not in child_pids()
