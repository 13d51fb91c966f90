"""`consul rtt [options] node1 [node2]`: the estimated round trip time between two nodes from
their network coordinates (node2 defaults to the agent's own node), as Consul prints it."""

from __future__ import annotations

from typing import Any

from pyconsul.cli.common import connect, new_flags
from pyconsul.cli.http import ConsulError
from pyconsul.cli.output import error, info
from pyconsul.cli.registry import register
from pyconsul.coordinate.vivaldi import distance, valid

HELP = """
Usage: consul rtt [options] node1 [node2]

  Estimates the round trip time between two nodes using Consul's network
  coordinate model of the cluster.

  At least one node name is required. If the second node name isn't given, it
  is set to the agent's node name. These are the node names as known to
  Consul as the "consul members" command would show, not IP addresses.

  By default, the two nodes are assumed to be nodes in the local datacenter
  and the LAN coordinates are used. If the -wan option is given, then the WAN
  coordinates are used, and the node names must be suffixed by a period and
  the datacenter (eg. "myserver.dc1").

  It's not possible to measure between LAN coordinates and WAN coordinates
  because they are maintained by independent Serf gossip areas, so they are
  not compatible.
"""


def _find(coords: list[dict[str, Any]], node: str) -> dict[str, Any] | None:
    for c in coords:
        if c.get("Node") == node and valid(c.get("Coord")):
            return c
    return None


def run(argv: list[str]) -> int:
    fs = new_flags(HELP, http="client")
    fs.bool("wan", False, "Use WAN coordinates instead of LAN coordinates.")
    opts = fs.parse(argv)
    nodes = list(opts.args)
    if not nodes:
        error("One or two node names must be specified")
        info(HELP.strip("\n"))
        return 1
    if len(nodes) > 2:
        error("Too many node names specified")
        info(HELP.strip("\n"))
        return 1
    client = connect(opts)
    wan = bool(opts["wan"])
    try:
        if len(nodes) < 2:
            self_info, _ = client.get_json("/v1/agent/self")
            cfg = self_info.get("Config") or {}
            me = str(cfg.get("NodeName", ""))
            nodes.append(f"{me}.{cfg.get('Datacenter', '')}" if wan else me)
        if wan:
            dcs, _ = client.get_json("/v1/coordinate/datacenters")
            coords = [c for dc in dcs or [] for c in dc.get("Coordinates") or []]
        else:
            coords, _ = client.get_json("/v1/coordinate/nodes")
    except ConsulError as exc:
        error(f"Error getting coordinates: {exc}")
        return 1
    found = []
    for node in nodes:
        c = _find(coords or [], node)
        if c is None:
            error(f"Could not find a coordinate for node {node!r}".replace("'", '"'))
            return 1
        found.append(c)
    if not wan and found[0].get("Segment", "") != found[1].get("Segment", ""):
        error(f"Nodes {nodes[0]!r} and {nodes[1]!r} are in different network segments".replace("'", '"'))
        return 1
    rtt = distance(found[0]["Coord"], found[1]["Coord"])
    ns = int(rtt * 1e9)  # Go converts to a time.Duration first
    info(f"Estimated {nodes[0]} <-> {nodes[1]} rtt: {ns / 1e6:.3f} ms (using {'WAN' if wan else 'LAN'} coordinates)")
    return 0


register(("rtt",), run, "Estimates network round trip time between nodes")
