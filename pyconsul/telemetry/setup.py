"""Wiring the `telemetry {}` stanza onto the registry, and the agent's periodic gauges."""

from __future__ import annotations

import asyncio
import gc
import logging
import resource
import socket
import time
from typing import TYPE_CHECKING, Any

from pyconsul.telemetry.names import COUNTERS, SUMMARIES
from pyconsul.telemetry.registry import METRICS, Registry
from pyconsul.telemetry.statsd import StatsdSink

if TYPE_CHECKING:
    from pyconsul.config.stanzas import Telemetry

log = logging.getLogger("pyconsul.telemetry")

GAUGE_INTERVAL = 1.0  # go-metrics samples runtime stats every second
FLUSH_INTERVAL = 0.1  # statsd sinks flush this often


def configure(tel: Telemetry, reg: Registry = METRICS) -> list[StatsdSink]:
    """Prefix, host name and sinks from the stanza; the statsd sinks made (for flushing)."""
    reg.prefix = tel.metrics_prefix
    reg.define(COUNTERS, SUMMARIES)
    reg.hostname = "" if tel.disable_hostname else socket.gethostname().split(".")[0]
    sinks: list[StatsdSink] = []
    for addr, tags in ((tel.statsd_address, False), (tel.dogstatsd_addr, True)):
        if not addr:
            continue
        try:
            sinks.append(StatsdSink(reg, addr, tags=tags, extra_tags=tel.dogstatsd_tags if tags else None))
        except (OSError, ValueError) as exc:
            log.error("cannot start the metrics sink; fix the address in the telemetry stanza",
                      extra={"address": addr, "error": str(exc)})
    reg.sinks = [*sinks]
    return sinks


def runtime_gauges(reg: Registry, started: float) -> None:
    """Consul's `runtime.*` gauges with the Python process's nearest equivalents."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    counts = gc.get_stats()
    reg.set_gauge("runtime.alloc_bytes", float(usage.ru_maxrss * 1024))
    reg.set_gauge("runtime.sys_bytes", float(usage.ru_maxrss * 1024))
    reg.set_gauge("runtime.num_goroutines", float(len(asyncio.all_tasks())))
    reg.set_gauge("runtime.total_gc_runs", float(sum(g["collections"] for g in counts)))
    reg.set_gauge("runtime.uptime_seconds", time.time() - started)


def agent_gauges(agent: Any, reg: Registry = METRICS) -> None:
    """State sizes, leadership and autopilot health; the last two only where Consul emits them."""
    store = agent.store
    reg.set_gauge("state.nodes", float(len(store.catalog.nodes_by_name)))
    reg.set_gauge("state.services", float(len(store.catalog.service_instances)))
    reg.set_gauge("state.service_instances", float(sum(len(v) for v in store.catalog.service_instances.values())))
    reg.set_gauge("state.kv_entries", float(len(store.kv.rows)))
    reg.set_gauge("state.sessions", float(len(store.sessions.by_id)))
    reg.set_gauge("raft.applied_index", float(store.last_index))
    members = list(agent.membership.members()) if agent.membership is not None else []
    reg.set_gauge("serf.lan.members", float(len(members) or 1))
    if agent.membership is not None:
        core = agent.membership.core
        reg.set_gauge("memberlist.health.score", float(core.health_score))
        # Serf's intent queue: member updates waiting to be gossiped. Its event and query queues
        # stay empty here: user events travel through the servers (Raft), not gossip broadcasts.
        reg.add_sample("serf.queue.Intent", float(core.pending_broadcasts()))
    if not agent.config.server:
        return
    status = agent.consensus.leader_status()
    reg.set_gauge("server.isLeader", 1.0 if status.is_leader else 0.0)
    if not status.is_leader:
        return
    voters = list(agent.consensus.peers())
    alive_servers = sum(1 for m in members if m.is_server and m.status == "alive")
    healthy = len(voters) if not members else min(len(voters), alive_servers)
    quorum = len(voters) // 2 + 1
    reg.set_gauge("autopilot.healthy", 1.0 if healthy >= len(voters) else 0.0)
    reg.set_gauge("autopilot.failure_tolerance", float(max(0, healthy - quorum)))


async def run_gauges(agent: Any, started: float, sinks: list[StatsdSink], reg: Registry = METRICS) -> None:
    """The agent's telemetry loop: gauges every second, sinks flushed every 100 ms."""
    ticks = round(GAUGE_INTERVAL / FLUSH_INTERVAL)
    n = 0
    try:
        while True:
            if n % ticks == 0:
                try:
                    runtime_gauges(reg, started)
                    agent_gauges(agent, reg)
                except Exception as exc:  # a gauge must never stop the agent
                    log.warning("collecting gauges failed", extra={"error": str(exc)})
            reg.fold()
            for sink in sinks:
                sink.flush()
            n += 1
            await asyncio.sleep(FLUSH_INTERVAL)
    finally:
        for sink in sinks:
            sink.close()
