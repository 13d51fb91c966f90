"""`consul catalog datacenters|nodes|services`."""

from __future__ import annotations

from typing import Any

from pyconsul.cli.common import connect, new_flags
from pyconsul.cli.http import ConsulError
from pyconsul.cli.output import columnize, error, info, tabwrite
from pyconsul.cli.registry import register, register_group

CATALOG_HELP = """
Usage: consul catalog <subcommand> [options] [args]

  This command has subcommands for interacting with Consul's catalog. The
  catalog should not be confused with the agent, although the APIs and
  responses may be similar.

  Here are some simple examples, and more detailed examples are available
  in the subcommands or the documentation.

  List all datacenters:

      $ consul catalog datacenters

  List all nodes:

      $ consul catalog nodes

  List all services:

      $ consul catalog services

  For more examples, ask for subcommand help or view the documentation.
"""

DATACENTERS_HELP = """
Usage: consul catalog datacenters [options]

  Retrieves the list of all known datacenters. This datacenters are sorted in
  ascending order based on the estimated median round trip time from the servers
  in this datacenter to the servers in the other datacenters.

  To retrieve the list of datacenters:

      $ consul catalog datacenters

  For a full list of options and examples, please see the Consul documentation.
"""

NODES_HELP = """
Usage: consul catalog nodes [options]

  Retrieves the list nodes registered in a given datacenter. By default, the
  datacenter of the local agent is queried.

  To retrieve the list of nodes:

      $ consul catalog nodes

  To print detailed information including full node IDs, tagged addresses, and
  metadata information:

      $ consul catalog nodes -detailed

  To list nodes which are running a particular service:

      $ consul catalog nodes -service=web

  To filter by node metadata:

      $ consul catalog nodes -node-meta="foo=bar"

  To sort nodes by estimated round-trip time from node-web:

      $ consul catalog nodes -near=node-web

  For a full list of options and examples, please see the Consul documentation.
"""

SERVICES_HELP = """
Usage: consul catalog services [options]

  Retrieves the list services registered in a given datacenter. By default, the
  datacenter of the local agent is queried.

  To retrieve the list of services:

      $ consul catalog services

  To include the services' tags in the output:

      $ consul catalog services -tags

  To list services which run on a particular node:

      $ consul catalog services -node=web

  To filter services on node metadata:

      $ consul catalog services -node-meta="foo=bar"

  For a full list of options and examples, please see the Consul documentation.
"""


def _meta_params(meta: dict[str, str]) -> dict[str, str | list[str]]:
    return {"node-meta": [f"{k}:{v}" for k, v in meta.items()]} if meta else {}


def _kv_list(m: dict[str, Any] | None) -> str:
    return ", ".join(f"{k}={m[k]}" for k in sorted(m or {}))


def nodes_table(nodes: list[dict[str, Any]], detailed: bool) -> str:
    """Node/ID/Address/DC (ID cut at its first dash); -detailed adds full ID, tagged addresses, meta."""
    if detailed:
        rows: list[list[str]] = [["Node", "ID", "Address", "DC", "TaggedAddresses", "Meta"]]
        for n in nodes:
            rows.append([n.get("Node", ""), n.get("ID", ""), n.get("Address", ""),
                         n.get("Datacenter", ""), _kv_list(n.get("TaggedAddresses")),
                         _kv_list(n.get("Meta"))])
    else:
        rows = [["Node", "ID", "Address", "DC"]]
        for n in nodes:
            node_id = n.get("ID") or ""
            # Shortened to the UUID's first group, as Consul does.
            short = node_id.split("-", 1)[0] if node_id.find("-") > 0 else node_id
            rows.append([n.get("Node", ""), short, n.get("Address", ""), n.get("Datacenter", "")])
    return columnize(rows)


def datacenters(argv: list[str]) -> int:
    fs = new_flags(DATACENTERS_HELP)
    opts = fs.parse(argv)
    if opts.args:
        error(f"Too many arguments (expected 0, got {len(opts.args)})")
        return 1
    client = connect(opts)
    try:
        dcs, _ = client.get_json("/v1/catalog/datacenters")
    except ConsulError as exc:
        error(f"Error listing datacenters: {exc}")
        return 1
    for dc in dcs or []:
        info(dc)
    return 0


def nodes(argv: list[str]) -> int:
    fs = new_flags(NODES_HELP)
    fs.string("filter", "", "Filter to use with the request")
    fs.bool("detailed", False, "Output detailed information about the nodes including their "
            "addresses and metadata.")
    fs.string("near", "", 'Node name to sort the node list in ascending order based on estimated '
              'round-trip time from that node. Passing "_agent" will use this agent\'s node for sorting.')
    fs.map("node-meta", "Metadata to filter nodes with the given `key=value` pairs. This flag may "
           "be specified multiple times to filter on multiple sources of metadata.")
    fs.string("service", "", "Service `id or name` to filter nodes. Only nodes which are providing "
              "the given service will be returned.")
    opts = fs.parse(argv)
    if opts.args:
        error(f"Too many arguments (expected 0, got {len(opts.args)})")
        return 1
    client = connect(opts)
    params: dict[str, str | list[str]] = _meta_params(opts["node-meta"])
    for name in ("near", "filter"):
        if opts[name]:
            params[name] = opts[name]
    try:
        if opts["service"]:
            entries, _ = client.get_json(f"/v1/catalog/service/{opts['service']}", params)
            found = [{"ID": e.get("ID", ""), "Node": e.get("Node", ""), "Address": e.get("Address", ""),
                      "Datacenter": e.get("Datacenter", ""),
                      "TaggedAddresses": e.get("TaggedAddresses"), "Meta": e.get("NodeMeta")}
                     for e in entries or []]
        else:
            found, _ = client.get_json("/v1/catalog/nodes", params)
    except ConsulError as exc:
        what = "nodes for service" if opts["service"] else "nodes"
        error(f"Error listing {what}: {exc}")
        return 1
    if not found:
        error("No nodes match the given query - try expanding your search.")
        return 0
    info(nodes_table(found, opts["detailed"]))
    return 0


def services(argv: list[str]) -> int:
    fs = new_flags(SERVICES_HELP)
    fs.string("node", "", "Node `id or name` for which to list services.")
    fs.map("node-meta", "Metadata to filter nodes with the given `key=value` pairs. If specified, "
           "only services running on nodes matching the given metadata will be returned. This flag "
           "may be specified multiple times to filter on multiple sources of metadata.")
    fs.bool("tags", False, "Display each service's tags as a comma-separated list beside each "
            "service entry.")
    opts = fs.parse(argv)
    if opts.args:
        error(f"Too many arguments (expected 0, got {len(opts.args)})")
        return 1
    client = connect(opts)
    params = _meta_params(opts["node-meta"])
    found: dict[str, list[str]] = {}
    try:
        if opts["node"]:
            node, _ = client.get_json_or_none(f"/v1/catalog/node/{opts['node']}", params)
            svcs = (node or {}).get("Services") or {}
            for s in svcs.values():
                found.setdefault(s.get("Service", ""), []).extend(s.get("Tags") or [])
        else:
            found, _ = client.get_json("/v1/catalog/services", params)
            found = found or {}
    except ConsulError as exc:
        what = "services for node" if opts["node"] else "services"
        error(f"Error listing {what}: {exc}")
        return 1
    if not found:
        error("No services match the given query - try expanding your search.")
        return 0
    names = sorted(found)
    if opts["tags"]:
        info(tabwrite([(n, ",".join(sorted(found[n] or []))) for n in names]).strip())
    else:
        for n in names:
            info(n)
    return 0


register_group(("catalog",), "Interact with the catalog", CATALOG_HELP)
register(("catalog", "datacenters"), datacenters, "Lists all known datacenters")
register(("catalog", "nodes"), nodes, "Lists all nodes in the given datacenter")
register(("catalog", "services"), services, "Lists all registered services in a datacenter")
