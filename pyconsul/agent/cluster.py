"""The agent's place in the cluster: gossip membership, joins, and (on the leader) keeping the
catalog's view of every member right — alive members get a passing serfHealth check, failed
ones a critical one (so their services drop out of healthy answers), left ones are removed."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from pyconsul.fsm import commands as c
from pyconsul.gossip.membership import Membership, consul_tags
from pyconsul.gossip.reconcile import reconcile_all
from pyconsul.gossip.reconcile import reconcile_member as plan
from pyconsul.telemetry.serf import SERF

if TYPE_CHECKING:
    from pyconsul.agent.agent import Agent

log = logging.getLogger("pyconsul.cluster")

RECONCILE_INTERVAL = 30.0


async def start_membership(agent: Agent) -> Membership:
    membership = Membership(agent.config, consul_tags(agent.config), on_event=lambda kind, m: on_member_event(agent, kind, m))
    await membership.start()
    return membership


def on_member_event(agent: Agent, kind: str, member: Any) -> None:
    log.info("member event", extra={"event": kind, "member": member.name, "status": member.status})
    SERF.member_event(kind, member.name)
    if not agent.config.server and member.is_server and kind == "member-join":
        agent.trigger_sync()  # a server (re)appeared: it may have lost our registrations
    cons = agent.consensus
    if agent.config.server and member.is_server and "port" in member.tags:
        node_id = member.tags.get("id", member.name)
        if kind in ("member-join", "member-update") and member.status == "alive":
            cons.note_server(node_id, member.name, f"{member.addr}:{member.tags['port']}")
        elif kind == "member-failed":
            cons.note_server_failed(node_id)  # autopilot may remove it from the voters
        elif kind in ("member-leave", "member-reap"):
            cons.note_server_left(node_id)
    if agent.config.server and agent.consensus.leader_status().is_leader:
        task = asyncio.ensure_future(reconcile_member(agent, member, reaped=(kind == "member-reap")))
        agent.track(task)


async def _write_all(agent: Agent, commands: list[c.Command], what: str) -> None:
    for cmd in commands:
        try:
            await agent.write(cmd)
        except Exception as exc:  # leadership may have moved; the next reconcile repairs it
            log.warning("member reconcile failed", extra={"member": what, "error": str(exc)})
            return


async def reconcile_member(agent: Agent, member: Any, reaped: bool = False) -> None:
    if reaped:
        if member.name != agent.node_name and agent.store.catalog.nodes_by_name.get(member.name) is not None:
            await _write_all(agent, [c.Deregister(node=member.name)], member.name)
        return
    await _write_all(agent, plan(member, agent.store.catalog, agent.config.datacenter), member.name)


async def reconcile_loop(agent: Agent) -> None:
    """On the leader, periodically bring the catalog in line with the member list (including
    removing nodes that gossip has reaped)."""
    while True:
        await asyncio.sleep(RECONCILE_INTERVAL if agent.membership is not None else 5.0)
        if agent.membership is None or not agent.consensus.leader_status().is_leader:
            continue
        commands = reconcile_all(agent.membership.members(), agent.store.catalog, agent.config.datacenter, agent.node_name)
        await _write_all(agent, commands, "*")


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
