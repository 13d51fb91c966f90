"""Consul's JSON answers → template values, and the health rules consul-template applies."""

from __future__ import annotations

from typing import Any

from pytemplate import model

NODE_MAINT = "_node_maintenance"
SERVICE_MAINT = "_service_maintenance:"


def aggregated_status(checks: list[dict[str, Any]]) -> str:
    """Consul's HealthChecks.AggregatedStatus: maintenance > critical > warning > passing."""
    warning = critical = maintenance = False
    for check in checks:
        cid = str(check.get("CheckID", ""))
        if cid == NODE_MAINT or cid.startswith(SERVICE_MAINT):
            maintenance = True
            continue
        status = check.get("Status")
        if status == "passing":
            continue
        if status == "warning":
            warning = True
        elif status == "critical":
            critical = True
        else:
            return ""
    if maintenance:
        return "maintenance"
    if critical:
        return "critical"
    if warning:
        return "warning"
    return "passing"  # all passing, or no checks at all


def health_check(c: dict[str, Any]) -> model.HealthCheck:
    return model.HealthCheck(
        Node=c.get("Node", "") or "", CheckID=c.get("CheckID", "") or "", Name=c.get("Name", "") or "",
        Status=c.get("Status", "") or "", Notes=c.get("Notes", "") or "", Output=c.get("Output", "") or "",
        ServiceID=c.get("ServiceID", "") or "", ServiceName=c.get("ServiceName", "") or "",
        ServiceTags=list(c.get("ServiceTags") or []), Type=c.get("Type", "") or "",
    )


def catalog_node(n: dict[str, Any]) -> model.Node:
    return model.Node(
        ID=n.get("ID", "") or "", Node=n.get("Node", "") or "", Address=n.get("Address", "") or "",
        Datacenter=n.get("Datacenter", "") or "", TaggedAddresses=dict(n.get("TaggedAddresses") or {}),
        Meta=dict(n.get("Meta") or {}),
    )
