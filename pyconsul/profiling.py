"""Profiles of the running agent, for `/debug/pprof/*` and `pyconsul debug`.

Go's pprof has no Python equivalent in the standard library, so these are our own formats, all
plain text an operator can read or feed to common tools:
- `cpu_profile`: the event loop thread's stack sampled at `hz` for `seconds`, as folded stacks
  (`outer;inner;leaf count` per line, the input of flamegraph.pl, speedscope and inferno). The
  sampling runs in a thread of its own, so the loop keeps serving while it is profiled.
- `task_dump`: every asyncio task with its stack and every thread's stack (Go's goroutine dump).
- `heap_summary`: live objects by type, largest count first (what grows is usually what leaks).
"""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import time
import traceback
from collections import Counter
from types import FrameType

MAX_SECONDS = 300.0  # Consul caps a CPU profile request at its HTTP write timeout; ours is this
MAX_DEPTH = 128


def fold(frame: FrameType | None) -> str:
    """One stack as `file:function;…` from the outermost frame to the innermost."""
    parts: list[str] = []
    while frame is not None and len(parts) < MAX_DEPTH:
        code = frame.f_code
        parts.append(f"{_short(code.co_filename)}:{code.co_name}")
        frame = frame.f_back
    return ";".join(reversed(parts))


def _short(path: str) -> str:
    """Paths from the package root on (`pyconsul/api/app.py`), else the file name."""
    for root in ("pyconsul/", "pytemplate/", "pyregistrator/", "aiohttp/", "asyncio/"):
        at = path.rfind("/" + root)
        if at >= 0:
            return path[at + 1:]
    return path.rsplit("/", 1)[-1]


def cpu_profile(thread_id: int, seconds: float, hz: int = 100) -> tuple[Counter[str], int]:
    """Sample thread `thread_id` for `seconds`: (folded stack → samples, samples taken). Call it
    from another thread; it sleeps between samples."""
    seconds = min(max(seconds, 0.0), MAX_SECONDS)
    period = 1.0 / max(1, min(hz, 1000))
    stacks: Counter[str] = Counter()
    taken = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        frame = sys._current_frames().get(thread_id)
        if frame is None:
            break  # the thread is gone
        stacks[fold(frame)] += 1
        taken += 1
        del frame
        time.sleep(period)
    return stacks, taken


def folded_text(stacks: Counter[str]) -> str:
    return "".join(f"{stack} {count}\n" for stack, count in stacks.most_common())


def task_dump(loop: asyncio.AbstractEventLoop) -> str:
    """Every task of `loop` and every thread, each with its stack."""
    out: list[str] = []
    tasks = sorted(asyncio.all_tasks(loop), key=lambda t: t.get_name())
    out.append(f"asyncio tasks: {len(tasks)}\n")
    for task in tasks:
        out.append(f"\ntask {task.get_name()} [{_state(task)}]: {task.get_coro()!r}\n")
        for frame in task.get_stack(limit=MAX_DEPTH):
            out.extend(traceback.format_stack(frame, limit=1))
    names = {t.ident: t.name for t in threading.enumerate()}
    frames = sys._current_frames()
    out.append(f"\nthreads: {len(frames)}\n")
    for ident, frame in frames.items():
        out.append(f"\nthread {names.get(ident, '?')} ({ident}):\n")
        out.extend(traceback.format_stack(frame, limit=MAX_DEPTH))
    return "".join(out)


def _state(task: asyncio.Task[object]) -> str:
    if task.done():
        return "done"
    return "running" if task is asyncio.current_task() else "waiting"


def heap_summary(top: int = 100) -> str:
    """Live objects the collector tracks, by type: count per type, the most numerous first."""
    counts: Counter[str] = Counter(type(o).__qualname__ for o in gc.get_objects())
    total = sum(counts.values())
    lines = [f"objects: {total}\n", "count type\n"]
    lines.extend(f"{n} {name}\n" for name, n in counts.most_common(top))
    return "".join(lines)
