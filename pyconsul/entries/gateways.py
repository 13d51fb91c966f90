"""Which services a gateway serves, from its ingress-gateway or terminating-gateway entry (pure).

`gateway_services` is Consul's GatewayServices list (/v1/catalog/gateway-services/:gateway): one
row per (gateway, service), ingress rows with the listener's Port, Protocol and Hosts, terminating
rows with CAFile/CertFile/KeyFile/SNI. An ingress `*` service stands for every catalog service
that is not itself a proxy or gateway (`FromWildcard`), as for Consul's http listeners.
`ingress_gateways_for(service)` names the ingress gateways exposing a service (/v1/health/ingress).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pyconsul.entries.kinds import INGRESS_GATEWAY, TERMINATING_GATEWAY

Row = dict[str, Any]


def _ingress_rows(entry: Row, catalog_services: Iterable[str]) -> list[Row]:
    out: list[Row] = []
    gateway = {"Name": entry["Name"]}
    for listener in entry.get("Listeners") or []:
        for svc in listener.get("Services") or []:
            names = [(svc["Name"], False)]
            if svc["Name"] == "*":
                names = [(n, True) for n in sorted(catalog_services)]
            for name, wild in names:
                row: Row = {"Gateway": gateway, "Service": {"Name": name}, "GatewayKind": INGRESS_GATEWAY,
                            "Port": int(listener.get("Port") or 0), "Protocol": listener.get("Protocol") or "tcp"}
                if svc.get("Hosts"):
                    row["Hosts"] = list(svc["Hosts"])
                if wild:
                    row["FromWildcard"] = True
                row.update(CreateIndex=entry.get("CreateIndex", 0), ModifyIndex=entry.get("ModifyIndex", 0))
                out.append(row)
    return out


def _terminating_rows(entry: Row, catalog_services: Iterable[str]) -> list[Row]:
    out: list[Row] = []
    for svc in entry.get("Services") or []:
        names = [(svc["Name"], False)] if svc["Name"] != "*" else [(n, True) for n in sorted(catalog_services)]
        for name, wild in names:
            row: Row = {"Gateway": {"Name": entry["Name"]}, "Service": {"Name": name},
                        "GatewayKind": TERMINATING_GATEWAY}
            for key in ("CAFile", "CertFile", "KeyFile", "SNI"):
                if svc.get(key):
                    row[key] = svc[key]
            if wild:
                row["FromWildcard"] = True
            row.update(CreateIndex=entry.get("CreateIndex", 0), ModifyIndex=entry.get("ModifyIndex", 0))
            out.append(row)
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
