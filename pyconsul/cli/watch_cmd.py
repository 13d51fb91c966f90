"""`consul watch`: blocking queries on one view; print it once, or run a handler on each change.

As Consul: without a handler the first result is printed as indented JSON and the command exits
0. With a handler (run through $SHELL -c unless -shell=false) every change runs it with the data
as JSON on stdin and CONSUL_INDEX in its environment; a failing handler stops the watch (exit 1).
SIGINT/SIGTERM end the watch with exit 0. Query errors are retried with a growing back-off.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from types import FrameType
from typing import Any

from pyconsul.cli.common import child_argv, connect, new_flags
from pyconsul.cli.flags import parse_go_bool
from pyconsul.cli.http import Client, ConsulError
from pyconsul.cli.output import error, go_json, info
from pyconsul.cli.registry import register
from pyconsul.cli.watch_plan import WatchError, WatchPlan, plan_for

HELP = """
Usage: consul watch [options] [child...]

  Watches for changes in a given data view from Consul. If a child process
  is specified, it will be invoked with the latest results on changes. Otherwise,
  the latest values are dumped to stdout and the watch terminates.

  Providing the watch type is required, and other parameters may be required
  or supported depending on the watch type.
"""

RETRY_SECONDS = 5.0
MAX_BACKOFF_SECONDS = 20.0


def _fetch(client: Client, plan: WatchPlan, index: int) -> tuple[Any, int]:
    params = dict(plan.params)
    if index:
        params["index"] = str(index)
    resp = client.request("GET", plan.path, params, ok=(200, 404) if plan.not_found_is_empty else (200,))
    return (resp.json() if resp.status == 200 else None), resp.index


def run_handler(args: list[str], shell: bool, data: Any, index: int) -> str | None:
    """Run the handler once; returns Consul's error text when it failed."""
    payload = (go_json(data) + "\n").encode()
    try:
        proc = subprocess.Popen(child_argv(args, shell), stdin=subprocess.PIPE,
                                env={**os.environ, "CONSUL_INDEX": str(index)})
    except OSError as exc:
        return f"Error starting handler: {exc}"
    try:
        assert proc.stdin is not None
        proc.stdin.write(payload)
        proc.stdin.close()
    except BrokenPipeError:
        pass  # a handler that ignores stdin may exit before reading it
    code = proc.wait()
    if code != 0:
        text = f"exit status {code}" if code > 0 else f"signal: {signal.Signals(-code).name.lower()}"
        return f"Error executing handler: {text}"
    return None


def run(argv: list[str]) -> int:
    fs = new_flags(HELP)
    fs.string("type", "", "Specifies the watch type. One of key, keyprefix, services, nodes, "
              "service, checks, or event.")
    fs.string("key", "", "Specifies the key to watch. Only for 'key' type.")
    fs.string("prefix", "", "Specifies the key prefix to watch. Only for 'keyprefix' type.")
    fs.string("service", "", "Specifies the service to watch. Required for 'service' type, "
              "optional for 'checks' type.")
    fs.string("tag", "", "Specifies the service tag to filter on. Optional for 'service' type.")
    fs.string("passingonly", "", "Specifies if only hosts passing all checks are displayed. "
              "Optional for 'service' type, must be one of `[true|false]`. Defaults false.")
    fs.bool("shell", True, "Use a shell to run the command (can set a custom shell via the SHELL "
            "environment variable).")
    fs.string("state", "", "Specifies the states to watch. Optional for 'checks' type.")
    fs.string("name", "", "Specifies an event name to watch. Only for 'event' type.")
    opts = fs.parse(argv)
    if not opts["type"]:
        error("Watch type must be specified")
        error("")
        error(fs.help())
        return 1
    params: dict[str, Any] = {k: opts[k] for k in ("type", "key", "prefix", "service", "tag",
                                                  "state", "name") if opts[k]}
    if opts["passingonly"]:
        try:
            params["passingonly"] = parse_go_bool(opts["passingonly"])
        except ValueError as exc:
            error(f"Failed to parse passingonly flag: {exc}")
            return 1
    try:
        plan = plan_for(params)
    except WatchError as exc:
        error(str(exc))
        return 1
    client = connect(opts)
    try:
        client.get_json("/v1/agent/self")
    except ConsulError as exc:
        error(f"Error querying Consul agent: {exc}")
        return 1

    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        # Consul's watch exits 0 at once on a shutdown signal.
        sys.stdout.flush()
        os._exit(0)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)

    handler = opts.args
    index, last_result, first = 0, None, True
    failures = 0
    while not stop.is_set():
        try:
            raw, new_index = _fetch(client, plan, index)
        except ConsulError as exc:
            failures += 1
            wait = min(RETRY_SECONDS * failures * failures, MAX_BACKOFF_SECONDS)
            error(f"[ERR] consul.watch: Watch (type: {plan.type}) errored: {exc}, retry in {wait:g}s")
            stop.wait(wait)
            continue
        failures = 0
        if new_index <= 0:
            # No X-Consul-Index means no blocking; don't spin on the agent.
            stop.wait(1.0)
        if not first and new_index == index:
            continue
        result = plan.shape(raw, index)
        # An index that went backwards (snapshot restore, new leader) restarts from 0, as Consul.
        index = new_index if new_index >= index else 0
        if not first and result == last_result:
            continue
        if plan.type == "event" and not first and not result:
            continue
        first = False
        last_result = result
        if not handler:
            info(go_json(result, indent="    "))
            return 0
        failure = run_handler(handler, opts["shell"], result, new_index)
        if failure:
            error(failure)
            return 1
    return 0


register(("watch",), run, "Watch for changes in Consul")
