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


STARTUP = ("importlib._bootstrap>:_find_and_load", "ssl.py:load_default_certs", "agent_cmd.py:_load_config",
           "sitecustomize.py:dump")


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
        if any(f.endswith(STARTUP) for f in frames):
            continue  # imports and configuration at process start, before the measured work
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


_WAITING = ("epoll", "select", "agent.py:shutdown", "uvloop", "runners.py:run")  # the loop idle (uvloop's wait shows as
# time inside the coroutine that awaits the agent's end)
_STARTUP = ("importlib", "builtins.compile", "builtins.exec", "builtins.__import__", "marshal.", "_imp.",
            "set_default_verify_paths", "load_default_certs", "_pickle.load", "lark", "agent_cmd.py:_load_config")
_FRAME = ("run_forever", "run_until_complete", "_run_once", "<module>", "runners.py:run", "_run_module_as_main",
          "_run_code", "loop.py:run", "__init__.py:run", "_dispatch", ":dispatch", "registry.py:_run", "run_agent",
          "_serve", "__init__.py:wrapper", "events.py:_run", "_main")


def summarise_pstats(paths: list[Path], top: int) -> dict[str, object]:
    """cProfile's view: the functions with the most own time and the most time including callees,
    as shares of the process's working time (the loop waiting and process start-up left out)."""
    import pstats

    st = pstats.Stats(*(str(p) for p in paths))
    rows = st.stats  # type: ignore[attr-defined]

    def name(k: tuple[str, int, str]) -> str:
        path = k[0]
        for root in ("pyconsul/", "pytemplate/", "aiohttp/", "asyncio/", "dnslib/"):
            at = path.rfind("/" + root)
            if at >= 0:
                return f"{path[at + 1:]}:{k[2]}"
        return f"{path.rsplit('/', 1)[-1]}:{k[2]}" if path != "~" else k[2]

    named = [(name(k), v) for k, v in rows.items()]
    waiting = sum(v[2] for n, v in named if any(w in n for w in _WAITING))
    startup = max((v[3] for n, v in named if n.endswith("_find_and_load")), default=0.0)
    startup += sum(v[3] for n, v in named if n.endswith("agent_cmd.py:_load_config"))
    busy = max(st.total_tt - waiting - startup, 1e-9)  # type: ignore[attr-defined]

    def keep(n: str) -> bool:
        return not any(w in n for w in _WAITING + _STARTUP)

    own = sorted((x for x in named if keep(x[0])), key=lambda x: -x[1][2])
    cum = sorted((x for x in named if keep(x[0]) and not x[0].endswith(_FRAME)), key=lambda x: -x[1][3])
    return {
        "working_s": round(busy, 2), "waiting_s": round(waiting, 2), "startup_s": round(startup, 2),
        "self_pct": [[n, round(100 * v[2] / busy, 1)] for n, v in own[:top]],
        "cumulative_pct": [[n, round(100 * v[3] / busy, 1)] for n, v in cum if v[3] < busy][:top],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", type=Path)
    ap.add_argument("--match", default="", help="only processes whose command line contains this")
    ap.add_argument("--top", type=int, default=15)
    args = ap.parse_args()
    stats: dict[str, list[Path]] = collections.defaultdict(list)
    for p in sorted(args.dir.glob("*.pstats")):
        argv_file = p.with_suffix(".argv")
        argv = argv_file.read_text() if argv_file.exists() else "?"
        if args.match in argv:
            stats[" ".join(argv.split()[:3])].append(p)
    if stats:
        print(json.dumps({k: summarise_pstats(v, args.top) | {"processes": len(v)} for k, v in stats.items()}, indent=1))
        return
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
