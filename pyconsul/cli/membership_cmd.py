"""`consul join`, `consul leave`, `consul force-leave` and `consul reload`: one PUT each."""

from __future__ import annotations

from pyconsul.cli.common import connect, new_flags
from pyconsul.cli.http import ConsulError
from pyconsul.cli.output import error, info
from pyconsul.cli.registry import register

JOIN_HELP = """
Usage: consul join [options] address ...

  Tells a running Consul agent (with "consul agent") to join the cluster
  by specifying at least one existing member.
"""

LEAVE_HELP = """
Usage: consul leave [options]

  Causes the agent to gracefully leave the Consul cluster and shutdown.
"""

FORCE_LEAVE_HELP = """
Usage: consul force-leave [options] name

  Forces a member of a Consul cluster to enter the "left" state. Note
  that if the member is still actually alive, it will eventually rejoin
  the cluster. This command is most useful for cleaning out "failed" nodes
  that are never coming back. If you do not force leave a failed node,
  Consul will attempt to reconnect to those failed nodes for some period of
  time before eventually reaping them.
"""

RELOAD_HELP = """
Usage: consul reload [options]

  Causes the agent to reload configurations. This can be used instead
  of sending the SIGHUP signal to the agent.
"""


def join(argv: list[str]) -> int:
    fs = new_flags(JOIN_HELP, http="client")
    fs.bool("wan", False, "Joins a server to another server in the WAN pool.")
    opts = fs.parse(argv)
    if not opts.args:
        error("At least one address to join must be specified.")
        error("")
        error(fs.help())
        return 1
    client = connect(opts)
    joined = 0
    for addr in opts.args:
        try:
            client.request("PUT", f"/v1/agent/join/{addr}", {"wan": "1"} if opts["wan"] else None)
            joined += 1
        except ConsulError as exc:
            error(f"Error joining address '{addr}': {exc}")
    if not joined:
        error("Failed to join any nodes.")
        return 1
    info(f"Successfully joined cluster by contacting {joined} nodes.")
    return 0


def leave(argv: list[str]) -> int:
    fs = new_flags(LEAVE_HELP, http="client")
    opts = fs.parse(argv)
    if opts.args:
        error(f"Error found unexpected args: [{' '.join(opts.args)}]")
        info(fs.help())
        return 1
    client = connect(opts)
    try:
        client.request("PUT", "/v1/agent/leave")
    except ConsulError as exc:
        error(f"Error leaving: {exc}")
        return 1
    info("Graceful leave complete")
    return 0


def force_leave(argv: list[str]) -> int:
    fs = new_flags(FORCE_LEAVE_HELP)
    fs.bool("prune", False, "Remove agent completely from list of members")
    fs.bool("wan", False, "Exit agent from WAN pool")
    opts = fs.parse(argv)
    if len(opts.args) != 1:
        error("A single node name must be specified to force leave.")
        error("")
        error(fs.help())
        return 1
    params = {}
    if opts["prune"]:
        params["prune"] = "1"
    if opts["wan"]:
        params["wan"] = "1"
    client = connect(opts)
    try:
        client.request("PUT", f"/v1/agent/force-leave/{opts.args[0]}", params)
    except ConsulError as exc:
        error(f"Error force leaving: {exc}")
        return 1
    return 0


def reload(argv: list[str]) -> int:
    fs = new_flags(RELOAD_HELP, http="client")
    opts = fs.parse(argv)
    client = connect(opts)
    try:
        client.request("PUT", "/v1/agent/reload")
    except ConsulError as exc:
        error(f"Error reloading: {exc}")
        return 1
    info("Configuration reload triggered")
    return 0


register(("join",), join, "Tell Consul agent to join cluster")
register(("leave",), leave, "Gracefully leaves the Consul cluster and shuts down")
register(("force-leave",), force_leave, 'Forces a member of the cluster to enter the "left" state')
register(("reload",), reload, "Triggers the agent to reload configuration files")
