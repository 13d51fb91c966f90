"""/v1/operator/autopilot/*, /v1/operator/raft/transfer-leader and /v1/operator/usage, in Consul's
shapes and with its errors (/v1/operator/keyring is `pyconsul.api.keyring`).

The autopilot configuration is replicated state (an FSM command); health and state are derived
from the Raft configuration this server sees, so they need no state of their own.
"""

from __future__ import annotations

import datetime
from typing import Any

from aiohttp import web

from pyconsul.api.app import APIContext, Reply, dumps, json_reply, read_json
from pyconsul.api.errors import HTTPError
from pyconsul.api.params import QueryOptions
from pyconsul.durations import format_duration, parse_duration
from pyconsul.fsm import commands as c
from pyconsul.state.autopilot import AUTOPILOT, DEFAULT_CONFIG

Row = dict[str, Any]

_STARTED = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
_CONNECT_KINDS = ("connect-native", "connect-proxy", "ingress-gateway", "mesh-gateway", "terminating-gateway")


async def autopilot_get(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    await ctx.read_barrier(q)
    idx = max(ctx.store.indexes.get(AUTOPILOT), 1)
    return Reply(dumps(ctx.store.autopilot.get(), q.pretty), index=idx)


_DURATION_KEYS = ("LastContactThreshold", "ServerStabilizationTime")


def _autopilot_body(body: Any) -> Row:
    """The PUT body as Consul decodes it: the whole configuration, a missing field its zero value
    (Consul does not merge with the stored one), durations as Go strings or nanoseconds."""
    if not isinstance(body, dict):
        raise HTTPError(400, "Error parsing autopilot config: json: cannot unmarshal into Go value of type "
                             "api.AutopilotConfiguration")
    out: Row = {}
    for key, default in DEFAULT_CONFIG.items():
        value = body.get(key)
        if key in _DURATION_KEYS:
            try:
                if value is None:
                    seconds = 0.0
                elif isinstance(value, str):
                    seconds = parse_duration(value)
                elif isinstance(value, int) and not isinstance(value, bool):
                    if not -2**63 <= value < 2**63:  # a Go Duration is an int64 of nanoseconds
                        raise ValueError(f"json: cannot unmarshal number {value} into Go struct field "
                                         f".{key} of type time.Duration")
                    seconds = value / 1e9  # Go marshals a Duration number as nanoseconds
                else:
                    raise ValueError(f"time: invalid duration {value!r}")
            except ValueError as exc:
                raise HTTPError(400, f"Error parsing autopilot config: {exc}") from None
            out[key] = format_duration(seconds)
        elif isinstance(default, bool):
            if value is not None and not isinstance(value, bool):
                raise HTTPError(400, f"Error parsing autopilot config: json: cannot unmarshal "
                                     f"{_json_kind(value)} into Go struct field .{key} of type bool")
            out[key] = bool(value)
        elif isinstance(default, int):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                      or not 0 <= value < 2**64):
                raise HTTPError(400, f"Error parsing autopilot config: json: cannot unmarshal "
                                     f"{_json_kind(value)} into Go struct field .{key} of type uint64")
            out[key] = int(value or 0)
        else:
            if value is not None and not isinstance(value, str):
                raise HTTPError(400, f"Error parsing autopilot config: json: cannot unmarshal "
                                     f"{_json_kind(value)} into Go struct field .{key} of type string")
            out[key] = value or ""
    return out


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


async def autopilot_set(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    config = _autopilot_body(await read_json(req, prefix="Error parsing autopilot config"))
    raw_cas = req.rel_url.query.get("cas")
    cas = None
    if raw_cas is not None:
        if not (raw_cas.isascii() and raw_cas.isdigit()):  # ParseUint: ASCII digits only, no sign
            raise HTTPError(400, f"Error parsing cas value: strconv.ParseUint: parsing \"{raw_cas}\": "
                                 "invalid syntax")
        cas = int(raw_cas)
        if cas >= 2**64:
            raise HTTPError(400, f"Error parsing cas value: strconv.ParseUint: parsing \"{raw_cas}\": "
                                 "value out of range")
    done = await ctx.write(c.AutopilotSet(config=config, cas=cas))
    return json_reply(bool(done) if cas is not None else True)


def _servers(ctx: APIContext) -> list[Row]:
    return list(ctx.agent.consensus.configuration())


def server_healthy(serf_alive: bool, is_leader: bool, last_contact: float, last_index: int,
                   leader_index: int, threshold: float, max_trailing_logs: int) -> bool:
    """Autopilot's rule: the member is alive in gossip, a follower heard from the leader within
    LastContactThreshold, and it trails the leader's log by at most MaxTrailingLogs entries."""
    if not serf_alive:
        return False
    if not is_leader and last_contact > threshold:
        return False
    return last_index + max_trailing_logs >= leader_index


def _server_health(ctx: APIContext, srv: Row, term: int, alive: set[str],
                   replication: dict[str, tuple[float, int]], config: Row) -> Row:
    serf_alive = srv["Node"] in alive or not alive
    leader_index = max((idx for _, idx in replication.values()), default=ctx.store.last_index)
    contact, last_index = replication.get(srv["ID"], (0.0, srv.get("LastIndex", ctx.store.last_index)))
    try:
        threshold = parse_duration(str(config.get("LastContactThreshold") or "200ms"))
    except ValueError:
        threshold = 0.2
    healthy = server_healthy(serf_alive, srv["Leader"], contact, last_index, leader_index, threshold,
                             int(config.get("MaxTrailingLogs") or 0))
    return {
        "ID": srv["ID"], "Name": srv["Node"], "Address": srv["Address"],
        "SerfStatus": "alive" if serf_alive else "failed", "Version": _version(),
        "Leader": srv["Leader"], "LastContact": "0s" if srv["Leader"] else format_duration(contact),
        "LastTerm": term, "LastIndex": last_index, "Healthy": healthy,
        "Voter": srv["Voter"], "StableSince": _STARTED,
    }


def _version() -> str:
    from pyconsul import CONSUL_COMPAT_VERSION

    return CONSUL_COMPAT_VERSION


def _health_view(ctx: APIContext) -> tuple[bool, int, list[Row]]:
    term = int(ctx.agent.consensus.stats().get("term", "1") or 1)
    alive = {m["Name"] for m in ctx.agent.members_json() if m.get("Status") == 1}
    replication = ctx.agent.consensus.replication()
    config = ctx.store.autopilot.get()
    servers = [_server_health(ctx, s, term, alive, replication, config) for s in _servers(ctx)]
    voters = [s for s in servers if s["Voter"]]
    healthy_voters = sum(1 for s in voters if s["Healthy"])
    quorum = len(voters) // 2 + 1
    tolerance = max(healthy_voters - quorum, 0)
    healthy = bool(servers) and all(s["Healthy"] for s in servers)
    return healthy, tolerance, servers


async def autopilot_health(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    await ctx.read_barrier(q)
    healthy, tolerance, servers = _health_view(ctx)
    body = {"Healthy": healthy, "FailureTolerance": tolerance, "Servers": servers}
    # Consul answers 429 with the full body when the cluster is unhealthy: monitors key off it.
    return Reply(dumps(body, q.pretty), status=200 if healthy else 429)


async def autopilot_state(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    await ctx.read_barrier(q)
    healthy, tolerance, servers = _health_view(ctx)
    by_id: Row = {}
    leader = ""
    for s in servers:
        if s["Leader"]:
            leader = s["ID"]
        by_id[s["ID"]] = {
            "ID": s["ID"], "Name": s["Name"], "Address": s["Address"], "NodeStatus": s["SerfStatus"],
            "Version": s["Version"], "LastContact": s["LastContact"], "LastTerm": s["LastTerm"],
            "LastIndex": s["LastIndex"], "Healthy": s["Healthy"], "StableSince": s["StableSince"],
            "Status": "leader" if s["Leader"] else "voter" if s["Voter"] else "non-voter",
            "Meta": {}, "NodeType": "voter" if s["Voter"] else "non-voter",
        }
    body = {"Healthy": healthy, "FailureTolerance": tolerance, "OptimisticFailureTolerance": tolerance,
            "Servers": by_id, "Leader": leader, "Voters": [s["ID"] for s in servers if s["Voter"]]}
    return json_reply(body, q=q)


async def raft_transfer_leader(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    cons = ctx.agent.consensus
    if not cons.leader_status().is_leader:
        raise HTTPError(500, "not leader")
    voters = [s for s in _servers(ctx) if s["Voter"] and not s["Leader"]]
    if not voters:
        raise HTTPError(500, "cannot find peer")  # hashicorp/raft's answer with no other voter
    if not await cons.transfer_leadership():
        raise HTTPError(500, "leadership transfer timed out")
    return json_reply({"Success": True}, q=q)


async def usage(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    await ctx.read_barrier(q)
    store = ctx.store
    catalog = store.catalog
    _, names = catalog.services(None)
    instances = 0
    billable = 0
    connect = dict.fromkeys(_CONNECT_KINDS, 0)
    for name in names:
        for _, svc in catalog.service_instances_rows(name):
            instances += 1
            kind = svc.get("Kind") or ""
            if kind in connect:
                connect[kind] += 1
            elif isinstance(svc.get("Connect"), dict) and svc["Connect"].get("Native"):
                connect["connect-native"] += 1
            # Consul bills neither its own service nor the mesh's plumbing.
            if name != "consul" and kind not in _CONNECT_KINDS:
                billable += 1
    _, nodes = catalog.nodes(None)
    idx = max(store.max_index("nodes", "services"), 1)
    st = ctx.agent.consensus.leader_status()
    body = {
        "Usage": {ctx.agent.config.datacenter: {
            "Services": len(names), "ServiceInstances": instances, "ConnectServiceInstances": connect,
            "BillableServiceInstances": billable, "Nodes": len(nodes)}},
        "Index": idx, "LastContact": st.last_contact_ms, "KnownLeader": st.known_leader,
        "ConsistencyLevel": "stale" if q.stale else "consistent" if q.consistent else "leader",
        "NotModified": False, "Backend": 0, "ResultsFilteredByACLs": False,
    }
    return Reply(dumps(body, q.pretty), index=idx)
