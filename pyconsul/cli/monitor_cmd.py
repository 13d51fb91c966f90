"""`consul monitor`: stream the agent's log lines from /v1/agent/monitor."""

from __future__ import annotations

import signal
import sys
from types import FrameType

from pyconsul.cli.common import connect, new_flags
from pyconsul.cli.http import ConsulError
from pyconsul.cli.output import error, info
from pyconsul.cli.registry import register

HELP = """
Usage: consul monitor [options]

  Shows recent log messages of a Consul agent, and attaches to the agent,
  outputting log messages as they occur in real time. The monitor lets you
  listen for log levels that may be filtered out of the Consul agent. For
  example your agent may only be logging at INFO level, but with the monitor
  you can see the DEBUG level logs.
"""


def run(argv: list[str]) -> int:
    fs = new_flags(HELP, http="client")
    fs.string("log-level", "INFO", "Log level of the agent.")
    fs.bool("log-json", False, "Output logs in JSON format.")
    opts = fs.parse(argv)
    client = connect(opts)
    params = {"loglevel": opts["log-level"].lower()}
    if opts["log-json"]:
        params["logjson"] = "true"
    out = sys.stdout.buffer
    # Ctrl-C or SIGTERM ends the monitor cleanly (exit 0), as Consul's shutdown channel does.
    signal.signal(signal.SIGTERM, _quit)
    signal.signal(signal.SIGINT, _quit)
    try:
        for line in client.stream_lines("/v1/agent/monitor", params):
            out.write(line if line.endswith(b"\n") else line + b"\n")
            out.flush()
    except ConsulError as exc:
        error(f"Error starting monitor: {exc}")
        return 1
    except _Quit:
        return 0
    info("")
    info("Remote side ended the monitor! This usually means that the\n"
         "remote side has exited or crashed.")
    return 1


class _Quit(Exception):
    pass


def _quit(_signum: int, _frame: FrameType | None) -> None:
    raise _Quit()


register(("monitor",), run, "Stream logs from a Consul agent")
