"""Catalog rows in Consul's JSON shapes, built from (validated) register requests."""

from __future__ import annotations

import copy
from typing import Any

Row = dict[str, Any]

PASSING, WARNING, CRITICAL, MAINT = "passing", "warning", "critical", "maintenance"
CHECK_STATES = (PASSING, WARNING, CRITICAL, MAINT)

NODE_FIELDS = ("ID", "Node", "Address", "Datacenter", "TaggedAddresses", "Meta")
INDEX_FIELDS = ("CreateIndex", "ModifyIndex")


def same_apart_from_indexes(a: Row, b: Row) -> bool:
    """Equal apart from the raft indexes."""
    return {k: v for k, v in a.items() if k not in INDEX_FIELDS} == {
        k: v for k, v in b.items() if k not in INDEX_FIELDS
    }


def normalize_service(svc: Row) -> Row:
    """A NodeService row in Consul's JSON shape from a (validated) register request."""
    tags = svc.get("Tags") or []
    weights = svc.get("Weights") or {"Passing": 1, "Warning": 1}
    row: Row = {
        "ID": svc.get("ID") or svc.get("Service", ""),
        "Service": svc.get("Service", ""),
        "Tags": list(tags),
        "Address": svc.get("Address", "") or "",
        "Meta": dict(svc.get("Meta") or {}),
        "Port": int(svc.get("Port") or 0),
        "Weights": {"Passing": int(weights.get("Passing", 1)), "Warning": int(weights.get("Warning", 1))},
        "EnableTagOverride": bool(svc.get("EnableTagOverride", False)),
    }
    if svc.get("Kind"):
        row["Kind"] = svc["Kind"]
    if svc.get("TaggedAddresses"):
        row["TaggedAddresses"] = copy.deepcopy(svc["TaggedAddresses"])
    row["Proxy"] = copy.deepcopy(svc.get("Proxy") or {"Mode": "", "MeshGateway": {}, "Expose": {}})
    row["Connect"] = copy.deepcopy(svc.get("Connect") or {})
    if svc.get("SocketPath"):
        row["SocketPath"] = svc["SocketPath"]
    if svc.get("Locality"):
        row["Locality"] = dict(svc["Locality"])
    return row


def normalize_check(chk: Row, node: str) -> Row:
    status = chk.get("Status") or CRITICAL
    row: Row = {
        "Node": node,
        "CheckID": chk.get("CheckID") or chk.get("Name", ""),
        "Name": chk.get("Name", "") or chk.get("CheckID", ""),
        "Status": status,
        "Notes": chk.get("Notes", "") or "",
        "Output": chk.get("Output", "") or "",
        "ServiceID": chk.get("ServiceID", "") or "",
        "ServiceName": "",
        "ServiceTags": [],
        "Type": chk.get("Type", "") or "",
        "Interval": chk.get("Interval", "") or "",
        "Timeout": chk.get("Timeout", "") or "",
        "ExposedPort": int(chk.get("ExposedPort") or 0),
        "Definition": copy.deepcopy(chk.get("Definition") or {}),
    }
    return row
