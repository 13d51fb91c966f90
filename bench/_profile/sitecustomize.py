"""Samples the main thread of every Python process started with this directory on PYTHONPATH and
PYCONSUL_PROFILE_DIR set, so a benchmark's agents (and clients) are profiled as it runs, unchanged:

    PYTHONPATH=$PWD:$PWD/bench/_profile PYCONSUL_PROFILE_DIR=/tmp/prof python3 bench/raft_write.py
    python3 bench/profile_summary.py /tmp/prof

Each process writes `<pid>.folded` (folded stacks, as /debug/pprof/profile) and `<pid>.argv`
every two seconds and at exit, so a process killed with SIGKILL leaves its samples too.

The sampler only gets the interpreter lock when the profiled thread lets go of it, mostly while
it waits for events, so its busy samples are few and skewed. PYCONSUL_PROFILE_MODE=cprofile runs
cProfile on the main thread instead (exact call counts and times, the process runs about half as
fast) and writes `<pid>.pstats` at a clean exit (SIGTERM, as the benchmarks stop their agents).
"""

from __future__ import annotations

import os

_DIR = os.environ.get("PYCONSUL_PROFILE_DIR")

if _DIR:
    import atexit
    import collections
    import sys
    import threading
    import time

    def _start(out_dir: str) -> None:
        main = threading.main_thread().ident
        stacks: collections.Counter[str] = collections.Counter()
        pid = os.getpid()
        os.makedirs(out_dir, exist_ok=True)

        def dump() -> None:
            from pyconsul.profiling import folded_text

            with open(os.path.join(out_dir, f"{pid}.folded"), "w") as f:
                f.write(folded_text(stacks))
            with open(os.path.join(out_dir, f"{pid}.argv"), "w") as f:
                f.write(" ".join(sys.argv))

        def sample() -> None:
            from pyconsul.profiling import fold

            last = time.monotonic()
            while True:
                frame = sys._current_frames().get(main)
                if frame is None:
                    return
                stacks[fold(frame)] += 1
                del frame
                time.sleep(0.01)
                if time.monotonic() - last > 2.0:
                    last = time.monotonic()
                    dump()

        threading.Thread(target=sample, name="bench-profiler", daemon=True).start()
        atexit.register(dump)

    def _cprofile(out_dir: str) -> None:
        import cProfile

        prof = cProfile.Profile()
        pid = os.getpid()
        os.makedirs(out_dir, exist_ok=True)

        def dump() -> None:
            prof.disable()
            prof.dump_stats(os.path.join(out_dir, f"{pid}.pstats"))
            with open(os.path.join(out_dir, f"{pid}.argv"), "w") as f:
                f.write(" ".join(sys.argv))

        atexit.register(dump)
        prof.enable()

    try:
        if os.environ.get("PYCONSUL_PROFILE_MODE") == "cprofile":
            _cprofile(_DIR)
        else:
            _start(_DIR)
    except Exception:  # profiling must never stop the process it watches
        pass
