"""What a test module leaves behind: child processes still running and files left in the
process's private temporary directory. The conftest plugin checks both after every module."""

from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path


def child_pids(parent: int | None = None) -> set[int]:
    """Running (not zombie) direct children of `parent` (default: this process), read from /proc."""
    parent = os.getpid() if parent is None else parent
    found: set[int] = set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")".
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z" and int(fields[1]) == parent:
            found.add(int(entry.name))
    return found


def describe(pid: int) -> str:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        cmd = "?"
    return f"{pid}: {cmd[:200]}"


def kill_and_reap(pids: set[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
    for pid in pids:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


class PrivateTmp:
    """A temporary directory of this test process's own, made the default for it and its children
    (TMPDIR), so anything a test leaves there is the test's and nobody else's."""

    def __init__(self) -> None:
        # pytest's tmp_path stays where it was: unix socket paths under it must stay short.
        os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", tempfile.gettempdir())
        self.path = Path(tempfile.mkdtemp(prefix=f"pyconsul-t{os.getpid()}-"))
        os.environ["TMPDIR"] = str(self.path)
        tempfile.tempdir = str(self.path)

    def entries(self) -> set[str]:
        # pytest's own base directory lands here when it is created after us (runs without xdist).
        return {e for e in os.listdir(self.path) if not e.startswith("pytest-of-")}
