"""agent/self, members and metrics documents, in Consul's shapes."""

from __future__ import annotations

import asyncio
import os
import time
from typing import TYPE_CHECKING, Any

from pyconsul import CONSUL_COMPAT_VERSION, __version__
from pyconsul.config.debug import debug_config
from pyconsul.loop import loop_name
from pyconsul.telemetry import METRICS
from pyconsul.telemetry.display import display_metrics
from pyconsul.telemetry.prometheus import render_prometheus

if TYPE_CHECKING:
    from pyconsul.agent.agent import Agent

START = time.time()


def member_tags(agent: Agent) -> dict[str, str]:
    cfg = agent.config
    tags = {
        "role": "consul" if cfg.server else "node",
        "dc": cfg.datacenter,
        "segment": "",
        "id": cfg.node_id,
        "vsn": "2",
        "vsn_min": "2",
        "vsn_max": "3",
        "build": f"{CONSUL_COMPAT_VERSION}:pyconsul-{__version__}",
        "wan_join_port": str(cfg.ports.serf_wan),
        "ft_fs": "1",
        "ft_si": "1",
    }
    if cfg.server:
        tags.update({"port": str(cfg.ports.server), "raft_vsn": "3", "expect": str(cfg.bootstrap_expect or 0)})
        if cfg.bootstrap:
            tags["bootstrap"] = "1"
    return tags


def self_member(agent: Agent) -> dict[str, Any]:
    """This agent's entry of agent/members (agent/self shows the same one, field for field)."""
    membership = agent.membership
    if membership is not None:
        return membership.member_json(membership.local_member())
    cfg = agent.config
    return {
        "Name": agent.node_name,
        "Addr": cfg.advertise(),
        "Port": cfg.ports.serf_lan,
        "Tags": member_tags(agent),
        "Status": 1,
        "ProtocolMin": 1,
        "ProtocolMax": 5,
        "ProtocolCur": 2,
        "DelegateMin": 2,
        "DelegateMax": 5,
        "DelegateCur": 4,
    }


def wan_members(agent: Agent) -> list[dict[str, Any]]:
    """agent/members?wan: the WAN pool holds the servers only, named <node>.<dc>, on their WAN
    gossip port. A client agent is in no WAN pool."""
    if not agent.config.server:
        return []
    out = []
    for m in agent.members_json():
        tags = dict(m["Tags"])
        if tags.get("role") != "consul":
            continue
        wan_port = tags.pop("wan_join_port", "")
        out.append({**m, "Name": f"{m['Name']}.{tags.get('dc', agent.config.datacenter)}",
                    "Port": int(wan_port) if wan_port.isdigit() else agent.config.ports.serf_wan, "Tags": tags})
    return out


def self_info(agent: Agent) -> dict[str, Any]:
    cfg = agent.config
    store = agent.store
    return {
        "Config": {
            "Datacenter": cfg.datacenter,
            "PrimaryDatacenter": cfg.primary_datacenter or cfg.datacenter,
            "NodeName": agent.node_name,
            "NodeID": cfg.node_id,
            "Partition": "",
            "Revision": "pyconsul",
            "Server": cfg.server,
            "Version": CONSUL_COMPAT_VERSION,
            "BuildDate": "2026-11-22T00:00:00Z",
        },
        "DebugConfig": {
            **debug_config(cfg),
            "Bootstrap": cfg.bootstrap,
            "BootstrapExpect": cfg.bootstrap_expect,
            "ClientAddrs": cfg.client_addr.split(),
            "BindAddr": cfg.bind_addr,
            "AdvertiseAddrLAN": cfg.advertise(),
            "DataDir": cfg.data_dir,
            "Datacenter": cfg.datacenter,
            "DNSDomain": cfg.domain,
            "DNSPort": cfg.ports.dns,
            "HTTPPort": cfg.ports.http,
            "HTTPSPort": cfg.ports.https,
            "ServerPort": cfg.ports.server,
            "SerfPortLAN": cfg.ports.serf_lan,
            "DevMode": cfg.dev,
            "EnableScriptChecks": cfg.enable_script_checks,
            "EnableLocalScriptChecks": cfg.enable_local_script_checks,
            "NodeName": agent.node_name,
            "ServerMode": cfg.server,
            "UIConfig": {"Enabled": cfg.ui},
            "VerifyIncoming": cfg.tls_settings.internal_rpc.verify_incoming,
            "VerifyOutgoing": cfg.tls_settings.internal_rpc.verify_outgoing,
            "VerifyServerHostname": cfg.tls_settings.internal_rpc.verify_server_hostname,
        },
        "Coord": {"Vec": [0.0] * 8, "Error": 1.5, "Adjustment": 0.0, "Height": 1e-05},
        "Member": agent.self_member(),
        "Stats": {
            "agent": {
                "check_monitors": "0",
                "check_ttls": str(sum(1 for c in agent.local.checks.values() if c.get("Type") == "ttl")),
                "checks": str(len(agent.local.checks)),
                "services": str(len(agent.local.services)),
            },
            "build": {"prerelease": "", "revision": "pyconsul", "version": CONSUL_COMPAT_VERSION,
                      "version_metadata": ""},
            "consul": {
                "bootstrap": str(cfg.bootstrap).lower(),
                "known_datacenters": "1",
                "leader": str(agent.consensus.leader_status().is_leader).lower(),
                "leader_addr": agent.consensus.leader_status().leader_addr,
                "server": str(cfg.server).lower(),
            },
            "raft": agent.consensus.stats(),
            "runtime": {
                "arch": os.uname().machine,
                "os": "linux",
                "loop": loop_name(),
                "tasks": str(len(asyncio.all_tasks())),
                "max_procs": str(os.cpu_count() or 1),
                "version": "python",
            },
            "serf_lan": {"members": str(len(agent.members_json())), "encrypted": str(bool(cfg.encrypt)).lower()},
            "kv": {"entries": str(len(store.kv.rows))},
        },
        "Meta": {"consul-network-segment": "", "consul-version": CONSUL_COMPAT_VERSION, **cfg.node_meta},
        "xDS": None,
    }


def metrics_json(agent: Agent) -> dict[str, Any]:
    return display_metrics(METRICS)


def metrics_prometheus(agent: Agent) -> str:
    retention = agent.config.telemetry.prometheus_retention_time
    return render_prometheus(METRICS, retention).decode()
