"""Summarise folded-stack profiles (from bench/_profile/sitecustomize.py or /debug/pprof/profile):
per process (grouped by command line), the busy share of samples and the top functions by self
and by cumulative samples. Idle samples (the loop waiting for events) are counted apart.

    python3 bench/profile_summary.py /tmp/prof [--match agent] [--top 15]

Prints JSON.
"""

from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path

# Leaves that mean "waiting": the event loop in select (uvloop's run_forever is C, so its
# deepest Python frame is asyncio's runner), a thread parked on a lock or a sleep.
IDLE = ("runners.py:run", "selectors.py:select", "base_events.py:_run_once", "threading.py:wait",
        "queue.py:get", "threading.py:_wait_for_tstate_lock")


def summarise(text: str, top: int) -> dict[str, object]:
    self_c: collections.Counter[str] = collections.Counter()
    cum_c: collections.Counter[str] = collections.Counter()
    busy = idle = 0
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        if frames[-1].endswith(IDLE):
            idle += n
            continue
        busy += n
        self_c[frames[-1]] += n
        for f in set(frames):
            cum_c[f] += n

    def pct(c: collections.Counter[str]) -> list[list[object]]:
        # frames on every busy stack (the entry points) say nothing; leave them out
        return [[f, round(100 * n / busy, 1)] for f, n in c.most_common(top + 12) if n < busy][:top]

    return {"busy_samples": busy, "idle_samples": idle,
            "busy_share": round(busy / max(busy + idle, 1), 3),
            "self_pct": pct(self_c), "cumulative_pct": pct(cum_c)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", type=Path)
    ap.add_argument("--match", default="", help="only processes whose command line contains this")
    ap.add_argument("--top", type=int, default=15)
    args = ap.parse_args()
    groups: dict[str, list[str]] = collections.defaultdict(list)
    for folded in sorted(args.dir.glob("*.folded")):
        argv_file = folded.with_suffix(".argv")
        argv = argv_file.read_text() if argv_file.exists() else "?"
        if args.match in argv:
            # group by the program and its subcommand, not its per-run ports
            words = argv.split()
            groups[" ".join(words[:3])].append(folded.read_text())
    print(json.dumps({k: summarise("".join(v), args.top) | {"processes": len(v)} for k, v in groups.items()},
                     indent=1))


if __name__ == "__main__":
    main()
