"""Which services a gateway serves, from its ingress-gateway or terminating-gateway entry (pure).

`gateway_services` is Consul's GatewayServices list (/v1/catalog/gateway-services/:gateway): one
row per (gateway, service) with every field of Consul's JSON — ingress rows carry the listener's
Port, Protocol and Hosts (`[]` when none), terminating rows CAFile/CertFile/KeyFile/SNI (Port 0,
Protocol "", Hosts null). An ingress `*` service stands for every catalog service
that is not itself a proxy or gateway (`FromWildcard`), as for Consul's http listeners.
`ingress_gateways_for(service)` names the ingress gateways exposing a service (/v1/health/ingress).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pyconsul.entries.kinds import INGRESS_GATEWAY, TERMINATING_GATEWAY

Row = dict[str, Any]


def _row(entry: Row, service: str, kind: str, wild: bool, **fields: Any) -> Row:
    row: Row = {"Gateway": {"Name": entry["Name"]}, "Service": {"Name": service}, "GatewayKind": kind,
                "Port": 0, "Protocol": "", "Hosts": None, "CAFile": "", "CertFile": "", "KeyFile": "", "SNI": ""}
    row.update(fields)
    row.update(FromWildcard=wild, CreateIndex=entry.get("CreateIndex", 0), ModifyIndex=entry.get("ModifyIndex", 0))
    return row


def _ingress_rows(entry: Row, catalog_services: Iterable[str]) -> list[Row]:
    out: list[Row] = []
    for listener in entry.get("Listeners") or []:
        for svc in listener.get("Services") or []:
            names = [(svc["Name"], False)]
            if svc["Name"] == "*":
                names = [(n, True) for n in sorted(catalog_services)]
            for name, wild in names:
                out.append(_row(entry, name, INGRESS_GATEWAY, wild, Port=int(listener.get("Port") or 0),
                                Protocol=listener.get("Protocol") or "tcp", Hosts=list(svc.get("Hosts") or [])))
    return out


def _terminating_rows(entry: Row, catalog_services: Iterable[str]) -> list[Row]:
    out: list[Row] = []
    for svc in entry.get("Services") or []:
        names = [(svc["Name"], False)] if svc["Name"] != "*" else [(n, True) for n in sorted(catalog_services)]
        for name, wild in names:
            out.append(_row(entry, name, TERMINATING_GATEWAY, wild,
                            **{k: svc.get(k) or "" for k in ("CAFile", "CertFile", "KeyFile", "SNI")}))
    return out


def gateway_services(ingress: Row | None, terminating: Row | None, catalog_services: Iterable[str]) -> list[Row]:
    names = list(catalog_services)
    rows: list[Row] = []
    if ingress is not None:
        rows += _ingress_rows(ingress, names)
    if terminating is not None:
        rows += _terminating_rows(terminating, names)
    return rows


def ingress_gateways_for(service: str, ingress_entries: Iterable[Row]) -> list[str]:
    out = []
    for entry in ingress_entries:
        for listener in entry.get("Listeners") or []:
            if any(s.get("Name") in (service, "*") for s in listener.get("Services") or []):
                out.append(entry["Name"])
                break
    return out
