"""`consul members`: the agent's view of the gossip pool, as Consul prints it."""

from __future__ import annotations

import re
from typing import Any

from pyconsul.cli.common import connect, new_flags
from pyconsul.cli.http import ConsulError
from pyconsul.cli.output import columnize, error, info
from pyconsul.cli.registry import register

HELP = """
Usage: consul members [options]

  Outputs the members of a running Consul agent.
"""

# serf.MemberStatus.String()
_STATUS = {0: "none", 1: "alive", 2: "leaving", 3: "left", 4: "failed"}


def status_text(code: Any) -> str:
    return _STATUS.get(code, f"unknown MemberStatus {code}") if isinstance(code, int) else str(code)


def _is_default(partition: str) -> bool:
    return partition in ("", "default")


def normalise(members: list[dict[str, Any]], segment: str) -> None:
    """The CLI fills in the partition and the segment label shown for the default partition."""
    for m in members:
        tags = m.setdefault("Tags", {}) or {}
        m["Tags"] = tags
        if not tags.get("ap"):
            tags["ap"] = "default"
        if _is_default(tags["ap"]):
            if segment == "_all" and tags.get("role") == "consul":
                tags["segment"] = "<all>"
            elif not tags.get("segment"):
                tags["segment"] = "<default>"
        else:
            tags["segment"] = ""


def sort_key(m: dict[str, Any]) -> tuple[Any, ...]:
    """Servers first, then the default partition, then by segment, partition and name."""
    tags = m["Tags"]
    return (tags.get("role") != "consul", not _is_default(tags.get("ap", "")), tags.get("segment", ""),
            tags.get("ap", ""), m.get("Name", ""))


def _address(m: dict[str, Any]) -> str:
    addr, port = str(m.get("Addr", "")), m.get("Port", 0)
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


def standard_rows(members: list[dict[str, Any]]) -> list[list[str]]:
    rows = [["Node", "Address", "Status", "Type", "Build", "Protocol", "DC", "Partition", "Segment"]]
    for m in members:
        tags = m["Tags"]
        build = tags.get("build", "")
        build = "< 0.3" if not build else build.split(":", 1)[0]
        kind = {"node": "client", "consul": "server"}.get(tags.get("role", ""))
        status = status_text(m.get("Status"))
        if kind is None:
            rows.append([m.get("Name", ""), _address(m), status, "unknown", "", "", "", "", ""])
        else:
            rows.append([m.get("Name", ""), _address(m), status, kind, build, tags.get("vsn", ""),
                         tags.get("dc", ""), tags.get("ap", ""), tags.get("segment", "")])
    return rows


def detailed_rows(members: list[dict[str, Any]]) -> list[list[str]]:
    rows = [["Node", "Address", "Status", "Tags"]]
    for m in members:
        tags = ",".join(f"{k}={v}" for k, v in sorted(m["Tags"].items()))
        rows.append([m.get("Name", ""), _address(m), status_text(m.get("Status")), tags])
    return rows


def run(argv: list[str]) -> int:
    fs = new_flags(HELP, http="client")
    fs.bool("detailed", False, "Provides detailed information about nodes.")
    fs.bool("wan", False, "If the agent is in server mode, this can be used to return the other "
            "peers in the WAN pool.")
    fs.string("status", ".*", "If provided, output is filtered to only nodes matching the regular "
              "expression for status.", placeholder="string")
    fs.string("segment", "_all", "(Enterprise-only) If provided, output is filtered to only nodes in"
              "the given segment.", placeholder="string")
    fs.string("filter", "", "Filter to use with the request", placeholder="string")
    fs.string("partition", "", "Specifies the admin partition to query. If not provided, the admin "
              "partition will be inferred from the request's ACL token, or will default to the "
              "`default` admin partition. Admin Partitions are a Consul Enterprise feature.",
              placeholder="default", group="http")
    opts = fs.parse(argv)
    try:
        status_re = re.compile(opts["status"])
    except re.error as exc:
        error(f"Failed to compile status regexp: error parsing regexp: {exc}: `{opts['status']}`")
        return 1
    client = connect(opts)
    params: dict[str, str] = {"segment": opts["segment"]}
    if opts["wan"]:
        params["wan"] = "1"
    if opts["filter"]:
        params["filter"] = opts["filter"]
    if opts["partition"]:
        params["partition"] = opts["partition"]
    try:
        members, _ = client.get_json("/v1/agent/members", params)
    except ConsulError as exc:
        error(f"Error retrieving members: {exc}")
        return 1
    if not isinstance(members, list):
        error("Error retrieving members: unexpected response from the agent")
        return 1
    normalise(members, opts["segment"])
    members = [m for m in members if status_re.search(status_text(m.get("Status")))]
    if not members:
        return 2
    members.sort(key=sort_key)
    rows = detailed_rows(members) if opts["detailed"] else standard_rows(members)
    info(columnize(rows))
    return 0


register(("members",), run, "Lists the members of a Consul cluster")
