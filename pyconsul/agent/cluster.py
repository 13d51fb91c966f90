"""The agent's place in the cluster: gossip membership, joins, and (on the leader) keeping the
catalog's view of every member right — alive members get a passing serfHealth check, failed
ones a critical one (so their services drop out of healthy answers), left ones are removed."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from pyconsul.fsm import commands as c

if TYPE_CHECKING:
    from pyconsul.agent.agent import Agent

log = logging.getLogger("pyconsul.cluster")

ALIVE_OUTPUT = "Agent alive and reachable"
FAILED_OUTPUT = "Agent not live or unreachable"
RECONCILE_INTERVAL = 30.0


def serf_check(status: str) -> dict[str, Any]:
    return {"CheckID": "serfHealth", "Name": "Serf Health Status", "Status": status,
            "Output": ALIVE_OUTPUT if status == "passing" else FAILED_OUTPUT, "Type": ""}


async def start_membership(agent: Agent) -> Any:
    try:
        from pyconsul.gossip.membership import Membership, consul_tags
    except ImportError:
        return None
    membership = Membership(agent.config, consul_tags(agent.config), on_event=lambda kind, m: on_member_event(agent, kind, m))
    await membership.start()
    return membership


def on_member_event(agent: Agent, kind: str, member: Any) -> None:
    log.info("member event", extra={"event": kind, "member": member.name, "status": member.status})
    if not agent.config.server and member.is_server and kind == "member-join":
        agent.trigger_sync()  # a server (re)appeared: it may have lost our registrations
    if agent.config.server and member.is_server and "port" in member.tags:
        cons = agent.consensus
        node_id = member.tags.get("id", member.name)
        if member.status == "alive" and hasattr(cons, "note_server"):
            cons.note_server(node_id, member.name, f"{member.addr}:{member.tags['port']}")
        elif member.status == "left" and hasattr(cons, "note_server_left"):
            cons.note_server_left(node_id)
    if agent.config.server and agent.consensus.leader_status().is_leader:
        task = asyncio.ensure_future(reconcile_member(agent, member, reaped=(kind == "member-reap")))
        agent.track(task)


async def reconcile_member(agent: Agent, member: Any, reaped: bool = False) -> None:
    store = agent.store
    name = member.name
    node = store.nodes_by_name.get(name)
    try:
        if reaped or member.status == "left":
            if node is not None and name != agent.node_name:
                await agent.write(c.Deregister(node=name))
            return
        status = "passing" if member.status in ("alive", "leaving") else "critical"
        existing = store.checks_by_node.get(name, {}).get("serfHealth")
        if node is not None and existing is not None and existing["Status"] == status and node["Address"] == member.addr:
            return
        if node is None and status == "critical":
            return
        service = None
        if member.is_server and status == "passing" and "port" in member.tags:
            svcs = store.services_by_node.get(name, {})
            if "consul" not in svcs:
                service = {"ID": "consul", "Service": "consul", "Port": int(member.tags["port"]), "Tags": []}
        await agent.write(c.Register(
            node={"ID": member.tags.get("id", ""), "Node": name, "Address": member.addr,
                  "Datacenter": member.tags.get("dc", agent.config.datacenter)},
            service=service, checks=[serf_check(status)], skip_node_update=node is not None,
        ))
    except Exception as exc:  # leadership may have moved; the next reconcile repairs it
        log.warning("member reconcile failed", extra={"member": name, "error": str(exc)})


async def reconcile_loop(agent: Agent) -> None:
    """On the leader, periodically bring the catalog in line with the member list."""
    while True:
        await asyncio.sleep(RECONCILE_INTERVAL if agent.membership is not None else 5.0)
        if agent.membership is None or not agent.consensus.leader_status().is_leader:
            continue
        for m in agent.membership.members():
            await reconcile_member(agent, m)


async def join_loop(agent: Agent) -> None:
    """retry_join: keep trying every retry_interval until at least one address joins."""
    cfg = agent.config
    addrs = list(cfg.retry_join)
    attempt = 0
    while addrs:
        attempt += 1
        try:
            n = await agent.join(addrs)
        except Exception as exc:
            n = 0
            log.warning("join attempt failed", extra={"attempt": attempt, "error": str(exc)})
        if n > 0:
            log.info("joined cluster", extra={"members_contacted": n})
            return
        await asyncio.sleep(cfg.retry_interval)


def known_servers(agent: Agent) -> list[str]:
    """Server-port addresses of live servers, from gossip; the join addresses until then."""
    out: list[str] = []
    if agent.membership is not None:
        for m in agent.membership.members():
            if m.is_server and m.status == "alive" and "port" in m.tags:
                out.append(f"{m.addr}:{m.tags['port']}")
    if not out:
        cfg = agent.config
        for addr in list(cfg.start_join) + list(cfg.retry_join):
            host = addr.rsplit(":", 1)[0] if addr.count(":") == 1 else addr
            out.append(f"{host}:{cfg.ports.server}")
    return out
