"""`consul event`: fire a user event through /v1/event/fire/<name>."""

from __future__ import annotations

import re

from pyconsul.cli.common import connect, new_flags
from pyconsul.cli.http import ConsulError
from pyconsul.cli.output import error, info
from pyconsul.cli.registry import register

HELP = """
Usage: consul event [options] [payload]

  Dispatches a custom user event across a datacenter. An event must provide
  a name, but a payload is optional. Events support filtering using
  regular expressions on node name, service, and tag definitions.
"""


def run(argv: list[str]) -> int:
    fs = new_flags(HELP, http="client")
    fs.string("name", "", "Name of the event.")
    fs.string("node", "", "Regular expression to filter on node names.")
    fs.string("service", "", "Regular expression to filter on service instances.")
    fs.string("tag", "", "Regular expression to filter on service tags. Must be used with -service.")
    opts = fs.parse(argv)
    if not opts["name"]:
        error("Event name must be specified")
        error("")
        error(fs.help())
        return 1
    for flag, what in (("node", "node"), ("service", "service"), ("tag", "tag")):
        if opts[flag]:
            try:
                re.compile(opts[flag])
            except re.error as exc:
                error(f"Failed to compile {what} filter regexp: {exc}")
                return 1
    if opts["tag"] and not opts["service"]:
        error("Cannot provide tag filter without service filter.")
        return 1
    if len(opts.args) > 1:
        error("Too many command line arguments.")
        error("")
        error(fs.help())
        return 1
    payload = opts.args[0].encode() if opts.args else None
    client = connect(opts)
    try:
        client.get_json("/v1/agent/self")
    except ConsulError as exc:
        error(f"Error querying Consul agent: {exc}")
        return 1
    params = {k: opts[k] for k in ("node", "service", "tag") if opts[k]}
    try:
        resp = client.request("PUT", f"/v1/event/fire/{opts['name']}", params, payload)
        event = resp.json() or {}
    except (ConsulError, ValueError) as exc:
        error(f"Error firing event: {exc}")
        return 1
    info(f"Event ID: {event.get('ID', '')}")
    return 0


register(("event",), run, "Fire a new event")
