"""Samples the main thread of every Python process started with this directory on PYTHONPATH and
PYCONSUL_PROFILE_DIR set, so a benchmark's agents (and clients) are profiled as it runs, unchanged:

    PYTHONPATH=$PWD:$PWD/bench/_profile PYCONSUL_PROFILE_DIR=/tmp/prof python3 bench/raft_write.py
    python3 bench/profile_summary.py /tmp/prof

Each process writes `<pid>.folded` (folded stacks, as /debug/pprof/profile) and `<pid>.argv`
every two seconds and at exit, so a process killed with SIGKILL leaves its samples too.
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

    try:
        _start(_DIR)
    except Exception:  # profiling must never stop the process it watches
        pass
