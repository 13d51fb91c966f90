"""Alias checks: the health of another service (or node) becomes this check's health.

Consul's rule (CheckAlias.processChecks): among the aliased node's checks that are node-level or
belong to the aliased service, any critical makes it critical, else any warning makes it warning,
else passing. An aliased service that does not exist is critical.
"""

from __future__ import annotations

from typing import Any, Protocol

from pyconsul.checks.base import CRITICAL, PASSING, WARNING, CheckResult


class AliasSource(Protocol):
    """Read access to health checks, provided by the agent (local state or catalog)."""

    def checks_of(self, node: str, service_id: str) -> list[dict[str, Any]] | None:
        """Catalog-shape checks (Node, CheckID, Name, ServiceID, Status, Output) of `node` ("" =
        this agent's node) relevant to `service_id` ("" = the node itself); None when the
        service (or node) is unknown."""


def evaluate_alias(checks: list[dict[str, Any]] | None, node: str, service_id: str) -> CheckResult:
    if checks is None:
        if service_id:
            return CheckResult(CRITICAL, f"Service {service_id} could not be found on node {node or 'local'}")
        return CheckResult(CRITICAL, f"Node {node} could not be found")
    status, msg = PASSING, "No checks found."
    for chk in checks:
        if node and chk.get("Node") and chk["Node"] != node:
            continue
        sid = chk.get("ServiceID") or ""
        if sid and service_id and sid != service_id:
            continue
        if sid and not service_id:
            continue
        st = chk.get("Status")
        if st in (CRITICAL, WARNING):
            if status != CRITICAL:
                status = st
                msg = f"Aliased check {chk.get('Name', chk.get('CheckID', ''))!r} failing: {chk.get('Output', '')}"
            if st == CRITICAL:
                break
        elif status == PASSING:
            msg = "All checks passing."
    return CheckResult(status, msg)
