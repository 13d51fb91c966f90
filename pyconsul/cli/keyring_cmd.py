"""`consul keyring`: list, install, use and remove gossip encryption keys on every member, with
Consul's output (`==> Gathering installed encryption keys...`, one block per pool with
`  <key> [<nodes having it>/<nodes>]`)."""

from __future__ import annotations

import json
from typing import Any

from pyconsul.cli.common import connect, new_flags
from pyconsul.cli.http import ConsulError
from pyconsul.cli.output import error, info
from pyconsul.cli.registry import register

HELP = """
Usage: consul keyring [options]

  Manages encryption keys used for gossip messages. Gossip encryption is
  optional. When enabled, this command may be used to examine active encryption
  keys in the cluster, add new keys, and remove old ones. When combined, this
  functionality provides the ability to perform key rotation cluster-wide,
  without disrupting the cluster.

  All operations performed by this command can only be run against server nodes,
  and affect both the LAN and WAN keyrings in lock-step.

  All variations of the keyring command return 0 if all nodes reply and there
  are no errors. If any node fails to reply or reports failure, the exit code
  will be 1.
"""

_PATH = "/v1/operator/keyring"


def pool_name(response: dict[str, Any]) -> str:
    if response.get("WAN"):
        return "WAN"
    pool = f"{response.get('Datacenter', '')} (LAN)"
    if response.get("Segment"):
        pool += f" [{response['Segment']}]"
    return pool


def format_response(response: dict[str, Any], keys: dict[str, int]) -> str:
    """One pool's block: a blank line, `<pool>:`, each node's message, each key with its count."""
    lines = ["", f"{pool_name(response)}:"]
    lines += [f"  ===> {node}: {msg}" for node, msg in sorted((response.get("Messages") or {}).items())]
    total = response.get("NumNodes", 0)
    lines += [f"  {key} [{count}/{total}]" for key, count in sorted(keys.items())]
    return "\n".join(lines)


def run(argv: list[str]) -> int:
    fs = new_flags(HELP)
    fs.string("install", "", "Install a new encryption key. This will broadcast the new key to "
              "all members in the cluster.", placeholder="string")
    fs.string("use", "", "Change the primary encryption key, which is used to encrypt messages. "
              "The key must already be installed before this operation can succeed.", placeholder="string")
    fs.string("remove", "", "Remove the given key from the cluster. This operation may only be "
              "performed on keys which are not currently the primary key.", placeholder="string")
    fs.bool("list", False, "List all keys currently in use within the cluster.")
    fs.bool("list-primary", False, "List all primary keys currently in use within the cluster.")
    fs.int("relay-factor", 0, "Setting this to a non-zero value will cause nodes to relay their "
           "response to the operation through this many randomly-chosen other nodes in the "
           "cluster. The maximum allowed value is 5.")
    fs.bool("local-only", False, "Setting this to true will force the keyring query to only hit "
            "local servers (no WAN traffic). This flag can only be set for list queries.")
    opts = fs.parse(argv)
    changes = [(flag, opts[flag]) for flag in ("install", "use", "remove") if opts[flag]]
    listing = [flag for flag in ("list", "list-primary") if opts[flag]]
    if len(changes) + len(listing) > 1:
        error("Only a single action is allowed")
        return 1
    if not changes and not listing:
        error(fs.help())
        return 1
    relay = opts["relay-factor"]
    if not 0 <= relay <= 5:
        error("Error parsing relay factor: Relay factor must be in range: [0, 5]")
        return 1
    if opts["local-only"] and changes:
        error("Local-only can only be set for list queries")
        return 1
    client = connect(opts)
    params = {"relay-factor": str(relay)} if relay else {}
    if listing:
        if opts["local-only"]:
            params["local-only"] = "true"
        info("==> Gathering installed encryption keys...")
        try:
            responses, _ = client.get_json(_PATH, params)
        except ConsulError as exc:
            error(f"error: {exc}")
            return 1
        field = "PrimaryKeys" if listing[0] == "list-primary" else "Keys"
        for response in responses or []:
            info(format_response(response, response.get(field) or {}))
        return 0
    flag, key = changes[0]
    method, banner = {"install": ("POST", "==> Installing new gossip encryption key..."),
                      "use": ("PUT", "==> Changing primary gossip encryption key..."),
                      "remove": ("DELETE", "==> Removing gossip encryption key...")}[flag]
    info(banner)
    try:
        client.request(method, _PATH, params, json.dumps({"Key": key}))
    except ConsulError as exc:
        error(f"error: {exc}")
        return 1
    return 0


register(("keyring",), run, "Manages gossip layer encryption keys")
