"""Executing a prepared query in other datacenters when the local one has no node to give.

`fail_over(query, answer, ...)` tries the datacenters `failover.failover_datacenters` picks, in
order, reading each one's health entries for the query's service through `RemoteHealth` (the
`?dc=` forwarding), and runs the query over them as Consul's ExecuteRemote does: the same
health, tag and meta rules, shuffled, `limit` applied, no distance sort (the remote datacenter
is, by definition, not where the caller is). A datacenter that cannot be reached is logged and
skipped. The answer names the datacenter that answered last and how many were tried.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from pyconsul.query import execute
from pyconsul.query.failover import failover_datacenters, wants_failover
from pyconsul.query.runner import QueryRunner

Row = dict[str, Any]
log = logging.getLogger("pyconsul.query")

# (datacenter, service, connect) → that datacenter's health entries; raises when unreachable.
RemoteHealth = Callable[[str, str, bool], Awaitable[list[Row]]]
# (datacenter, method, path with query, body, headers) → (status, headers, body).
Forward = Callable[[str, str, str, bytes | None, dict[str, str]], Awaitable[tuple[int, dict[str, str], bytes]]]


class RemoteError(RuntimeError):
    pass


def health_over(forward: Forward, token: str = "") -> RemoteHealth:
    """RemoteHealth through `forward` (an agent's `forward_to_dc`), as `token` (the caller's)."""
    async def fetch(dc: str, service: str, connect: bool) -> list[Row]:
        kind = "connect" if connect else "service"
        path = f"/v1/health/{kind}/{quote(service, safe='')}?dc={quote(dc, safe='')}"
        status, _, body = await forward(dc, "GET", path, None, {"X-Consul-Token": token} if token else {})
        if status != 200:
            raise RemoteError(f"{status} {body.decode(errors='replace')}")
        rows = json.loads(body)
        return rows if isinstance(rows, list) else []

    return fetch


async def fail_over(query: Row, answer: Row, nearest: list[str], local_dc: str, health: RemoteHealth,
                    rng: random.Random, limit: int = 0) -> Row:
    """The execute answer after failover (`answer` itself when there is nowhere to go)."""
    svc = query["Service"]
    failovers = 0
    for dc in failover_datacenters(svc.get("Failover"), nearest, local_dc):
        failovers += 1
        try:
            entries = await health(dc, svc["Service"], bool(svc.get("Connect")))
        except Exception as exc:  # unreachable or refused: Consul moves on to the next one
            log.warning("failed querying for service in datacenter",
                        extra={"service": svc["Service"], "datacenter": dc, "error": str(exc)})
            continue
        answer = execute.run(query, entries, dc, rng, None, limit)
        if answer["Nodes"]:
            break
    answer["Failovers"] = failovers
    return answer


async def execute_with_failover(runner: QueryRunner, id_or_name: str, rng: random.Random, nearest: list[str],
                                health: RemoteHealth, near: str = "", limit: int = 0) -> Row | None:
    """The execute answer: here, else (no node here) from the query's failover datacenters;
    None when there is no such query. A template that does not render raises TemplateError."""
    found = runner.execute(id_or_name, rng, near, limit)
    if found is None:
        return None
    query, answer, _ = found
    if answer["Nodes"] or not wants_failover(query["Service"].get("Failover")):
        return answer
    return await fail_over(query, answer, nearest, runner.datacenter, health, rng, limit)
