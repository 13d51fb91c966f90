"""What the leader writes to the catalog so it mirrors gossip membership (Consul's reconcile).

- alive member   → node registered at its gossip address with `serfHealth` passing (servers
                   also get the `consul` service);
- failed member  → `serfHealth` critical, so its services drop out of healthy answers;
- left / reaped  → node deregistered;
- a catalog node with a `serfHealth` check that is no longer a member → deregistered (reaped).

Pure: reads the catalog through `CatalogReader`, returns commands; writing them is the caller's
job (only on the leader). Nothing is returned when the catalog already agrees, so this can run
on every membership event and periodically.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from pyconsul import CONSUL_COMPAT_VERSION
from pyconsul.fsm.commands import Command, Deregister, Register
from pyconsul.gossip.membership import Member

SERF_CHECK_ID = "serfHealth"
SERF_CHECK_NAME = "Serf Health Status"
ALIVE_OUTPUT = "Agent alive and reachable"
FAILED_OUTPUT = "Agent not live or unreachable"


class CatalogReader(Protocol):
    def get_node(self, ws: Any, name: str) -> tuple[int, dict[str, Any] | None]: ...

    def node_checks(self, ws: Any, node: str) -> tuple[int, list[dict[str, Any]]]: ...

    def node_services(self, ws: Any, node: str) -> tuple[int, list[dict[str, Any]]]: ...

    def nodes(self, ws: Any) -> tuple[int, list[dict[str, Any]]]: ...


def _serf_check(catalog: CatalogReader, node: str) -> dict[str, Any] | None:
    return next((c for c in catalog.node_checks(None, node)[1] if c.get("CheckID") == SERF_CHECK_ID), None)


def _check(status: str, output: str) -> dict[str, Any]:
    return {"CheckID": SERF_CHECK_ID, "Name": SERF_CHECK_NAME, "Status": status, "Output": output, "Type": ""}


def _consul_service(member: Member) -> dict[str, Any] | None:
    try:
        port = int(member.tags.get("port", ""))
    except ValueError:
        return None
    return {"ID": "consul", "Service": "consul", "Port": port, "Tags": [],
            "Meta": {"raft_version": member.tags.get("raft_vsn", "3"), "serf_protocol_current": "2",
                     "serf_protocol_max": "5", "serf_protocol_min": "1",
                     "version": member.tags.get("build", CONSUL_COMPAT_VERSION).split(":", 1)[0]}}


def _node_row(member: Member, existing: dict[str, Any] | None, datacenter: str) -> dict[str, Any]:
    row = dict(existing or {})
    row.update({"Node": member.name, "Address": member.addr, "Datacenter": datacenter})
    row.setdefault("ID", member.tags.get("id", ""))
    tagged = dict(row.get("TaggedAddresses") or {})
    for key in ("lan", "lan_ipv4"):
        tagged[key] = member.addr
    row["TaggedAddresses"] = tagged
    row.setdefault("Meta", {"consul-network-segment": member.tags.get("segment", "")})
    return row


def reconcile_member(member: Member, catalog: CatalogReader, datacenter: str) -> list[Command]:
    """Commands that make the catalog agree with one member's gossip status."""
    if member.tags.get("dc", datacenter) != datacenter:
        return []  # another datacenter's server (WAN pool): not in this catalog
    _, node = catalog.get_node(None, member.name)
    if member.status in ("left",):
        return [Deregister(node=member.name)] if node is not None else []
    check = _serf_check(catalog, member.name) if node is not None else None
    if member.status == "failed":
        if node is None or (check is not None and check.get("Status") == "critical"):
            return []
        return [Register(node=_node_row(member, node, datacenter), checks=[_check("critical", FAILED_OUTPUT)],
                         skip_node_update=True)]
    if member.status not in ("alive", "leaving"):
        return []
    service = _consul_service(member) if member.is_server else None
    same_addr = node is not None and node.get("Address") == member.addr
    healthy = check is not None and check.get("Status") == "passing"
    has_service = service is None or any(
        s.get("ID") == "consul" and s.get("Port") == service["Port"] for s in catalog.node_services(None, member.name)[1])
    if same_addr and healthy and has_service:
        return []
    return [Register(node=_node_row(member, node, datacenter), service=service,
                     checks=[_check("passing", ALIVE_OUTPUT)], skip_node_update=same_addr)]


def reconcile_reaped(members: Iterable[Member], catalog: CatalogReader, local_node: str) -> list[Command]:
    """Deregister catalog nodes that gossip no longer knows (reaped), never this node itself."""
    known = {m.name for m in members}
    out: list[Command] = []
    for node in catalog.nodes(None)[1]:
        name = node.get("Node", "")
        if name in known or name == local_node:
            continue
        if _serf_check(catalog, name) is not None:
            out.append(Deregister(node=name))
    return out


def reconcile_all(members: list[Member], catalog: CatalogReader, datacenter: str, local_node: str) -> list[Command]:
    """The leader's periodic full reconcile: every member, then the reaped ones."""
    out: list[Command] = []
    for m in members:
        out.extend(reconcile_member(m, catalog, datacenter))
    out.extend(reconcile_reaped(members, catalog, local_node))
    return out
