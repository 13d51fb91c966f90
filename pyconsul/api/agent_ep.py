"""/v1/agent/*: this agent's view — its services and checks, membership, self, metrics, control."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

from aiohttp import web

from pyconsul.api.acl_filter import filter_reply
from pyconsul.api.acl_names import require_check_write, require_name
from pyconsul.api.app import APIContext, Reply, dumps, json_reply, read_json
from pyconsul.api.errors import HTTPError
from pyconsul.api.params import QueryOptions, query_bool
from pyconsul.api.proxy_defs import connect_problems, validation_error
from pyconsul.api.validate import check_from_request, service_from_request
from pyconsul.checks.base import SCRIPTS_DISABLED, SCRIPTS_DISABLED_REMOTE, http_request_problem, runs_program
from pyconsul.durations import parse_duration
from pyconsul.mesh.sidecar import SidecarError, expand_sidecar, ports_in_use, sidecar_id

Row = dict[str, Any]

EMPTY = Reply(b"", content_type="text/plain; charset=utf-8")

_CHECK_KINDS = "Script/DockerContainerID/HTTP/TCP/UDP/H2PING/GRPC/AliasNode/AliasService"


def validate_check(ctx: APIContext, chk: Row) -> None:
    kind = chk.get("Type")
    if kind in ("", None):
        raise HTTPError(400, f"Must provide TTL or {_CHECK_KINDS} and Interval")
    if kind not in ("ttl", "alias", "maintenance"):
        interval = chk.get("Interval") or ""
        try:
            ok = interval and parse_duration(interval) > 0
        except ValueError:
            raise HTTPError(400, f"Invalid interval {interval!r}") from None
        if not ok:
            raise HTTPError(400, "Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or GRPC checks")
    if kind == "ttl":
        try:
            if parse_duration(chk["TTL"]) <= 0:
                raise ValueError
        except ValueError:
            raise HTTPError(400, f"Invalid TTL {chk['TTL']!r}") from None
    if kind == "http" and (problem := http_request_problem(chk)):
        raise HTTPError(400, f"Invalid check: {problem}")
    if runs_program(chk) and not ctx.agent.config.enable_script_checks:
        # enable_local_script_checks covers config files only, never the HTTP API.
        raise HTTPError(400, SCRIPTS_DISABLED_REMOTE if ctx.agent.config.enable_local_script_checks
                        else SCRIPTS_DISABLED)


def agent_service(svc: Row, datacenter: str) -> Row:
    out: Row = {}
    if svc.get("Kind"):
        out["Kind"] = svc["Kind"]
    out.update({
        "ID": svc["ID"],
        "Service": svc["Service"],
        "Tags": list(svc.get("Tags") or []),
        "Meta": dict(svc.get("Meta") or {}),
        "Port": int(svc.get("Port") or 0),
        "Address": svc.get("Address") or "",
    })
    if svc.get("TaggedAddresses"):
        out["TaggedAddresses"] = svc["TaggedAddresses"]
    out["Weights"] = svc.get("Weights") or {"Passing": 1, "Warning": 1}
    out["EnableTagOverride"] = bool(svc.get("EnableTagOverride", False))
    if svc.get("Proxy"):
        out["Proxy"] = svc["Proxy"]
    if svc.get("Connect"):
        out["Connect"] = svc["Connect"]
    if svc.get("Locality"):
        out["Locality"] = svc["Locality"]
    out["Datacenter"] = datacenter
    return out


def agent_check(chk: Row) -> Row:
    return {
        "Node": chk.get("Node", ""),
        "CheckID": chk["CheckID"],
        "Name": chk.get("Name", ""),
        "Status": chk.get("Status", "critical"),
        "Notes": chk.get("Notes", ""),
        "Output": chk.get("Output", ""),
        "ServiceID": chk.get("ServiceID", ""),
        "ServiceName": chk.get("ServiceName", ""),
        "ServiceTags": chk.get("ServiceTags", []),
        "Type": chk.get("Type", ""),
        "Interval": chk.get("Interval", ""),
        "Timeout": chk.get("Timeout", ""),
        "ExposedPort": 0,
        "Definition": {},
        "CreateIndex": 0,
        "ModifyIndex": 0,
    }


def _content_hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


async def services(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    dc = ctx.agent.config.datacenter
    out = {sid: agent_service(s, dc) for sid, s in sorted(ctx.agent.local.services.items())}
    out = filter_reply(req, "agent_services", out)
    if q.filter:
        from pyconsul.api.app import apply_filter

        out = apply_filter(q.filter, out, req.path)
    return json_reply(out, q=q)


async def service(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    sid = req.match_info["id"]
    local = ctx.agent.local
    loop = asyncio.get_running_loop()
    deadline = loop.time() + q.wait
    while True:
        svc = local.services.get(sid)
        if svc is None:
            raise HTTPError(404, f"unknown service ID: {sid}")
        require_name(req, "service", "read", svc["Service"])
        out = agent_service(svc, ctx.agent.config.datacenter)
        digest = _content_hash(out)
        out["ContentHash"] = digest
        if not q.hash or q.hash != digest or loop.time() >= deadline:
            return Reply(dumps(out, q.pretty), headers={"X-Consul-ContentHash": digest})
        # Hash-based blocking: wait for a local change, polling the local state cheaply.
        await ctx.agent.local_changed(deadline - loop.time())


async def checks(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    local = ctx.agent.local
    out = {}
    for cid, chk in sorted(local.checks.items()):
        row = agent_check(chk)
        svc = local.services.get(row["ServiceID"]) if row["ServiceID"] else None
        if svc is not None:
            row["ServiceName"] = svc["Service"]
            row["ServiceTags"] = list(svc.get("Tags") or [])
        out[cid] = row
    # a node check is this agent's node's: node:read on it
    readable = filter_reply(req, "agent_checks", {cid: {**row, "Node": row["Node"] or ctx.agent.node_name}
                                                  for cid, row in out.items()})
    out = {cid: row for cid, row in out.items() if cid in readable}
    if q.filter:
        from pyconsul.api.app import apply_filter

        out = apply_filter(q.filter, out, req.path)
    return json_reply(out, q=q)


def _service_checks(ctx: APIContext, svc: Row, raw_checks: list[Any]) -> list[Row]:
    out = []
    for i, raw in enumerate(raw_checks):
        chk = check_from_request(raw, "structs.CheckType", name_as_id=False)
        chk["ServiceID"] = svc["ID"]
        if not chk.get("CheckID"):
            chk["CheckID"] = f"service:{svc['ID']}" + (f":{i + 1}" if len(raw_checks) > 1 else "")
        if not chk.get("Name"):
            chk["Name"] = f"Service '{svc['Service']}' check"
        validate_check(ctx, chk)
        out.append(chk)
    return out


async def service_register(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    body = await read_json(req)
    svc = service_from_request(body, "structs.ServiceDefinition")
    if not svc["Service"]:
        raise HTTPError(400, "Missing service name")
    port = svc.get("Port") or 0
    if not 0 <= port <= 65535:
        raise HTTPError(400, f"Invalid service port: {port}")
    raw_checks: list[Any] = []
    if svc.get("Check"):
        raw_checks.append(svc["Check"])
    if svc.get("Checks"):
        if not isinstance(svc["Checks"], list):
            raise HTTPError(400, "Request decode failed: Checks must be an array")
        raw_checks.extend(svc["Checks"])
    svc.pop("Check", None)
    svc.pop("Checks", None)
    svc.pop("Token", None)
    require_name(req, "service", "write", svc["Service"])
    if problems := connect_problems(svc):
        raise validation_error(problems)
    local = ctx.agent.local
    ports = ctx.agent.config.ports
    side_id = sidecar_id(svc["ID"])
    try:
        sidecar = expand_sidecar(svc, (ports.sidecar_min_port, ports.sidecar_max_port),
                                 ports_in_use(local.services, side_id), local.services.get(side_id))
    except SidecarError as exc:
        raise HTTPError(400, f"Invalid SidecarService: {exc}") from None
    side_checks: list[Row] = []
    if sidecar is not None:
        svc = sidecar.parent
        if problems := connect_problems(sidecar.service):
            raise validation_error(problems)
        side_checks = _service_checks(ctx, sidecar.service, sidecar.checks)
        require_name(req, "service", "write", sidecar.service["Service"])
    checks_ = _service_checks(ctx, svc, raw_checks)
    replace = query_bool(req, "replace-existing-checks")
    await local.add_service(svc, checks_, replace)
    if sidecar is not None:
        await local.add_service(sidecar.service, side_checks, replace)
        local.mark_sidecar(svc["ID"], sidecar.service["ID"])
    ctx.agent.notify_local_change()
    return EMPTY


def _vet_local_service(ctx: APIContext, req: web.Request, sid: str) -> None:
    """service:write on the name of the agent's service `sid` (a missing one answers 404 after)."""
    svc = ctx.agent.local.services.get(sid)
    if svc is not None:
        require_name(req, "service", "write", svc["Service"])


def _vet_local_check(ctx: APIContext, req: web.Request, chk: Row | None) -> None:
    """A service check needs service:write on its service, a node check node:write on this node."""
    if chk is None:
        return
    svc = ctx.agent.local.services.get(chk.get("ServiceID") or "")
    require_check_write(req, chk, (svc or {}).get("Service", ""), ctx.agent.node_name)


async def service_deregister(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    sid = req.match_info["id"]
    _vet_local_service(ctx, req, sid)
    if not await ctx.agent.local.remove_service(sid):
        raise HTTPError(404, f'Unknown service ID "{sid}". Ensure that the service ID is passed, not the service name.')
    ctx.agent.notify_local_change()
    return EMPTY


async def check_register(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    body = await read_json(req)
    chk = check_from_request(body, "structs.CheckDefinition")
    if not chk.get("Name"):
        raise HTTPError(400, "Missing check name")
    sid = chk.get("ServiceID") or ""
    if sid and sid not in ctx.agent.local.services:
        raise HTTPError(400, f'ServiceID "{sid}" does not exist')
    _vet_local_check(ctx, req, chk)
    validate_check(ctx, chk)
    await ctx.agent.local.add_check(chk)
    ctx.agent.notify_local_change()
    return EMPTY


async def check_deregister(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    cid = req.match_info["id"]
    _vet_local_check(ctx, req, ctx.agent.local.checks.get(cid))
    if not await ctx.agent.local.remove_check(cid):
        raise HTTPError(404, f'Unknown check ID "{cid}". Ensure that the check ID is passed, not the check name.')
    ctx.agent.notify_local_change()
    return EMPTY


async def _ttl(ctx: APIContext, req: web.Request, cid: str, status: str, output: str) -> Reply:
    _vet_local_check(ctx, req, ctx.agent.local.checks.get(cid))
    if not await ctx.agent.ttl_update(cid, status, output):
        raise HTTPError(404, f'Unknown check ID "{cid}". Ensure that the check ID is passed, not the check name.')
    ctx.agent.notify_local_change()
    return EMPTY


async def check_pass(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    return await _ttl(ctx, req, req.match_info["id"], "passing", req.rel_url.query.get("note", ""))


async def check_warn(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    return await _ttl(ctx, req, req.match_info["id"], "warning", req.rel_url.query.get("note", ""))


async def check_fail(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    return await _ttl(ctx, req, req.match_info["id"], "critical", req.rel_url.query.get("note", ""))


async def check_update(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    body = await read_json(req)
    if not isinstance(body, dict):
        raise HTTPError(400, "Request decode failed: expected a JSON object")
    body = {str(k).lower(): v for k, v in body.items()}
    status = body.get("status", "")
    if status not in ("passing", "warning", "critical"):
        raise HTTPError(400, f"Invalid check status: '{status}'")
    output = body.get("output", "") or ""
    if not isinstance(output, str):
        raise HTTPError(400, "Request decode failed: Output must be a string")
    return await _ttl(ctx, req, req.match_info["id"], status, output)


def _enable_flag(req: web.Request) -> bool:
    val = req.rel_url.query.get("enable")
    if val is None or val == "":
        raise HTTPError(400, "Missing value for enable")
    if val.lower() in ("true", "1"):
        return True
    if val.lower() in ("false", "0"):
        return False
    raise HTTPError(400, f"Invalid value for enable: {val!r}")


async def maintenance(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    enable = _enable_flag(req)
    await ctx.agent.local.node_maintenance(enable, req.rel_url.query.get("reason", ""))
    ctx.agent.notify_local_change()
    return EMPTY


async def service_maintenance(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    sid = req.match_info["id"]
    enable = _enable_flag(req)
    _vet_local_service(ctx, req, sid)
    if not await ctx.agent.local.service_maintenance(sid, enable, req.rel_url.query.get("reason", "")):
        raise HTTPError(404, f'Unknown service ID "{sid}". Ensure that the service ID is passed, not the service name.')
    ctx.agent.notify_local_change()
    return EMPTY


async def self_(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    return json_reply(ctx.agent.self_info(), q=q)


async def members(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    return json_reply(filter_reply(req, "members", ctx.agent.members_json(wan=query_bool(req, "wan"))), q=q)


async def metrics(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    if req.rel_url.query.get("format") == "prometheus":
        if ctx.agent.config.telemetry.prometheus_retention_time <= 0:
            # Consul serves Prometheus only with a positive retention, and says so with a 415.
            return Reply(b"Prometheus is not enabled since its retention time is not positive", 415,
                         "text/plain; charset=utf-8")
        return Reply(ctx.agent.metrics_prometheus().encode(), content_type="text/plain; version=0.0.4; charset=utf-8")
    return json_reply(ctx.agent.metrics_json(), q=q)


async def reload(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    try:
        await ctx.agent.reload()
    except Exception as exc:  # a config error must not take the agent down
        raise HTTPError(500, f"Failed reloading: {exc}") from None
    return EMPTY


async def leave(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    await ctx.agent.leave()
    return EMPTY


async def join(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    addr = req.match_info["address"]
    try:
        await ctx.agent.join([addr], wan=query_bool(req, "wan"))
    except Exception as exc:
        raise HTTPError(500, str(exc)) from None
    return EMPTY


async def force_leave(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    node = req.match_info["node"]
    try:
        await ctx.agent.force_leave(node, prune=query_bool(req, "prune"))
    except Exception as exc:
        raise HTTPError(500, str(exc)) from None
    return EMPTY


async def monitor(ctx: APIContext, req: web.Request, q: QueryOptions) -> web.StreamResponse:
    level = (req.rel_url.query.get("loglevel") or "INFO").upper()
    if level not in ("TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR"):
        raise HTTPError(400, f"Unknown log level: {level}")
    resp = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
    await resp.prepare(req)
    as_json = query_bool(req, "logjson")
    async for line in ctx.agent.log_stream(level, as_json):
        try:
            await resp.write(line.encode() + b"\n")
        except (ConnectionError, RuntimeError):
            break
    return resp


async def host(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    import platform

    return json_reply({"Host": {"hostname": platform.node(), "os": platform.system().lower(),
                                "platform": platform.platform()}}, q=q)
