"""`consul operator raft list-peers|remove-peer`."""

from __future__ import annotations

from typing import Any

from pyconsul.cli.common import connect, new_flags
from pyconsul.cli.http import ConsulError
from pyconsul.cli.output import columnize, error, info
from pyconsul.cli.registry import register, register_group

OPERATOR_HELP = """
Usage: consul operator <subcommand> [options]

  Provides cluster-level tools for Consul operators, such as interacting with
  the Raft subsystem. NOTE: Use this command with extreme caution, as improper
  use could lead to a Consul outage and even loss of data.

  If ACLs are enabled then a token with operator privileges may be required in
  order to use this command. Requests are forwarded internally to the leader
  if required, so this can be run from any Consul node in a cluster.

  Run consul operator <subcommand> with no arguments for help on that
  subcommand.
"""

RAFT_HELP = """
Usage: consul operator raft <subcommand> [options]

  The Raft operator command is used to interact with Consul's Raft subsystem. The
  command can be used to verify Raft peers or in rare cases to recover quorum by
  removing invalid peers.
"""

LIST_PEERS_HELP = """
Usage: consul operator raft list-peers [options]

  Displays the current Raft peer configuration.
"""

REMOVE_PEER_HELP = """
Usage: consul operator raft remove-peer [options]

  Remove the Consul server with given -id from the Raft configuration.

  There are rare cases where a peer may be left behind in the Raft quorum even
  though the server is no longer present and known to the cluster. This command
  can be used to remove the failed server so that it is no longer affects the Raft
  quorum. If the server still shows in the output of the "consul members" command,
  it is preferable to clean up by simply running "consul force-leave" instead of
  this command.
"""


def peers_table(servers: list[dict[str, Any]]) -> str:
    """Node, ID, Address, State, Voter, RaftProtocol — Consul's columnized list-peers table."""
    rows: list[list[str]] = [["Node", "ID", "Address", "State", "Voter", "RaftProtocol"]]
    for s in servers:
        rows.append([
            str(s.get("Node", "")), str(s.get("ID", "")), str(s.get("Address", "")),
            "leader" if s.get("Leader") else "follower",
            "true" if s.get("Voter") else "false",
            str(s.get("ProtocolVersion") or "<=1"),
        ])
    return columnize(rows)


def list_peers(argv: list[str]) -> int:
    fs = new_flags(LIST_PEERS_HELP)
    opts = fs.parse(argv)
    client = connect(opts)
    try:
        reply, _ = client.get_json("/v1/operator/raft/configuration")
    except ConsulError as exc:
        error(f"Error getting peers: Failed to retrieve raft configuration: {exc}")
        return 1
    info(peers_table((reply or {}).get("Servers") or []))
    return 0


def remove_peer(argv: list[str]) -> int:
    fs = new_flags(REMOVE_PEER_HELP)
    fs.string("address", "", "The address to remove from the Raft configuration.")
    fs.string("id", "", "The ID to remove from the Raft configuration.")
    opts = fs.parse(argv)
    address, peer_id = opts["address"], opts["id"]
    client = connect(opts)
    try:
        if not address and not peer_id:
            raise ConsulError("an address or id is required for the peer to remove")
        if address and peer_id:
            raise ConsulError("cannot give both an address and id")
        params = {"address": address} if address else {"id": peer_id}
        client.request("DELETE", "/v1/operator/raft/peer", params)
    except ConsulError as exc:
        error(f"Error removing peer: {exc}")
        return 1
    if address:
        info(f'Removed peer with address "{address}"')
    else:
        info(f'Removed peer with id "{peer_id}"')
    return 0


register_group(("operator",), "Provides cluster-level tools for Consul operators", OPERATOR_HELP)
register_group(("operator", "raft"), "Provides cluster-level tools for Consul operators", RAFT_HELP)
register(("operator", "raft", "list-peers"), list_peers, "Display the current Raft peer configuration")
register(("operator", "raft", "remove-peer"), remove_peer,
         "Remove a Consul server from the Raft configuration")
