"""`consul debug`: capture an agent's state for a while into `<output>.tar.gz`.

Static captures (agent.json from /v1/agent/self, members.json, host.json) are taken once; every
`-interval` a metrics sample (/v1/agent/metrics) is appended to metrics.json and, for `pprof`
(served with enable_debug or ACLs, as Consul's is), <unix time>/ gets profiles of our own formats
(pyconsul.profiling): profile.folded, a CPU profile over the interval as folded stacks;
goroutine.txt, every task's and thread's stack; heap.txt, live objects by type; profile.json,
the runtime stats. consul.log holds the monitor stream at TRACE for the whole duration. Secrets
are redacted before anything is written. Ctrl-C archives what was captured.
"""

from __future__ import annotations

import json
import shutil
import signal
import tarfile
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

from pyconsul.cli.common import connect, new_flags
from pyconsul.cli.debug_bundle import check_targets, check_timing, index_doc, redact
from pyconsul.cli.http import Client, ConsulError
from pyconsul.cli.output import error, info
from pyconsul.cli.registry import register
from pyconsul.gocompat.durations import format_duration

HELP = """
Usage: consul debug [options]

  Monitors a Consul agent for the specified period of time, recording
  information about the agent, cluster, and environment to an archive
  written to the current directory.

  Providing support for complex issues encountered by Consul operators
  often requires a large amount of debugging information to be retrieved.
  This command aims to shortcut that coordination and provide a simple
  workflow for accessing data about Consul agent, cluster, and environment
  to enable faster isolation and debugging of issues.

  This command requires an operator:read ACL token in order to retrieve the
  data from the target agent, if ACLs are enabled.

  If the command is interrupted, as it could be given a long duration but
  require less time than expected, it will attempt to archive the current
  captured data.

  By default, ACL tokens, private keys, and other sensitive material related
  to Consul is sanitized and not available in this archive.

  To create a debug archive in the current directory for the default
  duration and interval, capturing all information available:

      $ consul debug

  The command stores captured data at the configured output path
  through the duration, and will archive the data at the same
  path if interrupted.

  For a full list of options and examples, please see the Consul
  documentation.
"""


class _Stop(Exception):
    pass


def _write_json(path: Path, doc: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(redact(doc), indent=2))


def _stream_logs(opts: Any, dest: Path, stop: threading.Event) -> threading.Thread:
    """The monitor stream into consul.log until `stop` (the thread is left to die with us)."""

    def run() -> None:
        try:
            client = connect(opts)
            with dest.open("ab") as out:
                for line in client.stream_lines("/v1/agent/monitor", {"loglevel": "trace"}):
                    if stop.is_set():
                        return
                    out.write(line if line.endswith(b"\n") else line + b"\n")
                    out.flush()
        except (ConsulError, OSError, SystemExit):
            return

    t = threading.Thread(target=run, name="debug-logs", daemon=True)
    t.start()
    return t


def profiles_served(agent_self: dict[str, Any]) -> bool:
    """The agent serves /debug/pprof/* with enable_debug, or with ACLs on (operator:read)."""
    dbg = agent_self.get("DebugConfig") or {}
    return bool(dbg.get("EnableDebug") or (dbg.get("ACL") or {}).get("Enabled"))


def _cpu_profile(settings: Any, dest: Path, seconds: float) -> threading.Thread:
    """A CPU profile of `seconds` into `dest`, taken on a connection of its own while the
    interval loop goes on."""

    def run() -> None:
        try:
            body = Client(settings).request(
                "GET", "/debug/pprof/profile", {"seconds": f"{seconds:g}"}, timeout=seconds + 30).body
            dest.write_bytes(body)
        except (ConsulError, OSError) as exc:
            error(f"Error capturing a CPU profile: {exc}")

    t = threading.Thread(target=run, name="debug-profile", daemon=True)
    t.start()
    return t


def _archive(out_dir: Path) -> Path:
    archive = out_dir.with_name(out_dir.name + ".tar.gz")
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(out_dir, arcname=out_dir.name)
    shutil.rmtree(out_dir)
    return archive


def run(argv: list[str]) -> int:
    fs = new_flags(HELP, http="client")
    fs.bool("archive", True, "Boolean value for if the files should be archived and compressed. Setting this "
            "to false will skip the archive step and leave the directory of information on the current path.")
    fs.list("capture", "One or more types of information to capture. This can be used to capture a subset "
            "of information, and defaults to capturing everything available. Possible information for "
            "capture: This can be repeated multiple times.")
    fs.duration("duration", 300.0, "The total time to record information. Must be longer than the interval "
                "and longer than 10s.")
    fs.duration("interval", 30.0, "The interval in which to capture dynamic information such as "
                "telemetry, and profiling. Must be longer than 5s.")
    fs.string("output", "", "The path to the compressed archive. If not provided, the archive will be "
              "placed in the current working directory.")
    opts = fs.parse(argv)
    duration, interval = float(opts["duration"]), float(opts["interval"])
    problem = check_timing(duration, interval)
    targets, bad_target = check_targets(opts["capture"])
    if problem or bad_target:
        error(f"Error parsing flags: {problem or bad_target}")
        return 1
    out_dir = Path(opts["output"] or f"consul-debug-{int(time.time())}")
    if out_dir.exists() or out_dir.with_name(out_dir.name + ".tar.gz").exists():
        error(f"Error creating debug output: output directory already exists: {out_dir}")
        return 1
    client = connect(opts)
    try:
        agent_self = client.get_json("/v1/agent/self")[0]
    except ConsulError as exc:
        error(f"Error connecting to Consul agent: {exc}")
        return 1
    version = str(agent_self.get("Config", {}).get("Version", ""))
    if "pprof" in targets and not profiles_served(agent_self):
        targets.remove("pprof")
        info("[WARN] Unable to capture pprof. Set enable_debug to true on target agent to enable profiling.")
    out_dir.mkdir(parents=True)
    info("==> Starting debugger and capturing static information...")
    info(f"     Agent Version: '{version}'")
    info(f"          Interval: '{format_duration(interval)}'")
    info(f"          Duration: '{format_duration(duration)}'")
    info(f"            Output: '{out_dir}{'.tar.gz' if opts['archive'] else ''}'")
    info(f"           Capture: '{', '.join(targets)}'")
    _write_json(out_dir / "index.json", index_doc(version, interval, duration, targets))
    try:
        if "agent" in targets:
            _write_json(out_dir / "agent.json", agent_self)
        if "members" in targets:
            _write_json(out_dir / "members.json", client.get_json("/v1/agent/members")[0])
        if "host" in targets:
            _write_json(out_dir / "host.json", client.get_json("/v1/agent/host")[0])
    except ConsulError as exc:
        error(f"Error capturing static information: {exc}")
        shutil.rmtree(out_dir)
        return 1
    stop = threading.Event()
    if "logs" in targets:
        _stream_logs(opts, out_dir / "consul.log", stop)

    def on_signal(_sig: int, _frame: FrameType | None) -> None:
        raise _Stop()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    interrupted = False
    try:
        _capture_intervals(client, out_dir, targets, duration, interval)
    except _Stop:
        interrupted = True
        info("==> Capture interrupted, archiving what was captured...")
    finally:
        stop.set()
        for s, h in old.items():
            signal.signal(s, h)
    if not interrupted:
        info(f"==> Capture successful {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())} UTC")
    if opts["archive"]:
        archive = _archive(out_dir)
        info(f"==> Saved debug archive: {archive}")
    return 0


def _capture_intervals(client: Any, out_dir: Path, targets: list[str], duration: float, interval: float) -> None:
    started = time.monotonic()
    profilers: list[threading.Thread] = []
    try:
        _intervals(client, out_dir, targets, duration, interval, started, profilers)
    finally:
        for t in profilers:  # each ends with its profile's window
            t.join(timeout=interval + 10)


def _intervals(client: Any, out_dir: Path, targets: list[str], duration: float, interval: float,
               started: float, profilers: list[threading.Thread]) -> None:
    n = 0
    while True:
        now = time.time()
        info(f"==> Beginning capture interval {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(now))} UTC ({n})")
        try:
            if "metrics" in targets:
                with (out_dir / "metrics.json").open("a") as f:
                    f.write(json.dumps(redact(client.get_json("/v1/agent/metrics")[0])) + "\n")
            if "pprof" in targets:
                at = out_dir / str(int(now))
                self_doc = client.get_json("/v1/agent/self")[0]
                _write_json(at / "profile.json", {"Stats": self_doc.get("Stats", {})})
                (at / "goroutine.txt").write_bytes(client.request("GET", "/debug/pprof/goroutine").body)
                (at / "heap.txt").write_bytes(client.request("GET", "/debug/pprof/heap").body)
                seconds = max(1.0, min(interval, duration - (time.monotonic() - started)))
                profilers.append(_cpu_profile(client.settings, at / "profile.folded", seconds))
        except ConsulError as exc:
            error(f"Error capturing interval {n}: {exc}")
        n += 1
        next_at = started + n * interval
        if next_at > started + duration:
            remaining = started + duration - time.monotonic()
            if remaining > 0:
                time.sleep(remaining)  # the CLI waits out the capture window; logs stream meanwhile
            return
        time.sleep(max(0.0, next_at - time.monotonic()))


register(("debug",), run, "Records a debugging archive for operators")
