"""/v1/agent/token/:type, /v1/agent/version and /v1/agent/health/service/*: the agent's own view.

Local service health is the agent's local state, never the catalog: Consul answers these from
the checks this agent runs, so a load balancer polling them sees changes before anti-entropy
has synced them.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pyconsul import CONSUL_COMPAT_VERSION
from pyconsul.api.acl_names import require_name
from pyconsul.api.agent_ep import agent_check, agent_service
from pyconsul.api.app import APIContext, Reply, dumps, read_json, text_reply
from pyconsul.api.errors import HTTPError
from pyconsul.api.params import QueryOptions
from pyconsul.maintenance import SERVICE_MAINT_PREFIX

Row = dict[str, Any]

# Consul's HTTP status for an aggregated service health: load balancers key off these.
HEALTH_STATUS_CODE = {"passing": 200, "warning": 429, "critical": 503, "maintenance": 503}

BUILD_DATE = "2026-11-22T00:00:00Z"


async def token(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    """PUT /v1/agent/token/:type with {"Token": …}: 401 without ACLs; acl:write is checked by the
    route's declared need. With `acl.enable_token_persistence` it is written to
    `<data_dir>/acl-tokens.json` and read back at the next start."""
    if ctx.acl is None:
        raise HTTPError(401, "ACL support disabled")
    body = await read_json(req)
    if not isinstance(body, dict) or not isinstance(body.get("Token", ""), str):
        raise HTTPError(400, "Request decode failed: expected {\"Token\": \"...\"}")
    kind = req.match_info["type"]
    if not ctx.acl.set_agent_token(kind, body.get("Token", "")):
        raise HTTPError(404, f'Token "{kind}" is unknown')
    return Reply(b"", 200)


async def version(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    return Reply(dumps({"SHA": "pyconsul", "BuildDate": BUILD_DATE, "HumanVersion": CONSUL_COMPAT_VERSION,
                        "FIPS": ""}, q.pretty))


def aggregated_status(checks: list[Row]) -> str:
    """The worst status among a service's checks, maintenance above all (Consul's order)."""
    status = "passing"
    for chk in checks:
        if chk["CheckID"].startswith(SERVICE_MAINT_PREFIX):
            return "maintenance"
        if chk["Status"] == "critical":
            status = "critical"
        elif chk["Status"] == "warning" and status == "passing":
            status = "warning"
    return status


def _service_info(ctx: APIContext, svc: Row) -> tuple[str, Row]:
    local = ctx.agent.local
    checks = []
    for chk in local.checks.values():
        if chk.get("ServiceID") != svc["ID"]:
            continue
        row = agent_check(chk)
        row["Node"] = row["Node"] or ctx.agent.node_name
        row["ServiceName"] = svc["Service"]
        row["ServiceTags"] = list(svc.get("Tags") or [])
        checks.append(row)
    checks.sort(key=lambda r: r["CheckID"])
    status = aggregated_status(checks)
    return status, {"AggregatedStatus": status,
                    "Service": agent_service(svc, ctx.agent.config.datacenter),
                    "Checks": checks}


def _wants_text(req: web.Request) -> bool:
    return req.rel_url.query.get("format") == "text"


async def health_by_id(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    sid = req.match_info["id"]
    svc = ctx.agent.local.services.get(sid)
    if svc is None:
        reason = f"ServiceId {sid} not found"
        if _wants_text(req):
            return text_reply(reason, 404)
        return Reply(dumps({"AggregatedStatus": "critical", "Service": None, "Checks": None}, q.pretty), 404)
    require_name(req, "service", "read", svc["Service"])
    status, info = _service_info(ctx, svc)
    if _wants_text(req):
        return text_reply(status, HEALTH_STATUS_CODE[status])
    return Reply(dumps(info, q.pretty), HEALTH_STATUS_CODE[status])


_SEVERITY = {"passing": 0, "warning": 1, "critical": 2, "maintenance": 3}


async def health_by_name(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    name = req.match_info["name"]
    found = [_service_info(ctx, svc) for _, svc in sorted(ctx.agent.local.services.items())
             if svc["Service"] == name]
    if not found:
        reason = f"ServiceName {name} Not Found"
        if _wants_text(req):
            return text_reply(reason, 404)
        return Reply(dumps([], q.pretty), 404)
    status = max((s for s, _ in found), key=_SEVERITY.__getitem__)
    if _wants_text(req):
        return text_reply(status, HEALTH_STATUS_CODE[status])
    return Reply(dumps([info for _, info in found], q.pretty), HEALTH_STATUS_CODE[status])
