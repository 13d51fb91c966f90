"""`translate_wan_addrs`: answers about another datacenter's nodes carry their WAN addresses
(pure; Consul's Agent.TranslateAddresses).

Rules, applied by the agent that answers the client, only when the setting is on and the answer
is about a datacenter other than its own:
- A node's `Address` becomes its tagged `wan_ipv4`, else `wan_ipv6`, else `wan` address; with
  none of them it is left as it is (Consul falls back to the address it has).
- A service's address becomes its own tagged `wan_ipv4`/`wan_ipv6`/`wan` address when it has
  one (service tagged addresses are `{"Address", "Port"}`), else it is left as it is (empty
  stays empty: clients then use the node's, translated, address).
- Which fields, by endpoint: catalog nodes (each node), catalog node (its `Node`), catalog
  service and connect (`Address`, `ServiceAddress`), health service, connect and ingress (each
  entry's `Node.Address` and `Service.Address`), prepared-query execute (its `Nodes`, for the
  datacenter the answer names).
- While the setting is on, every response carries `X-Consul-Translate-Addresses: true`
  (api/app.py's dispatch sets it).
"""

from __future__ import annotations

import json
from typing import Any

Row = dict[str, Any]
_ORDER = ("wan_ipv4", "wan_ipv6", "wan")


def node_address(addr: str, tagged: dict[str, str] | None) -> str:
    tagged = tagged or {}
    for key in _ORDER:
        if isinstance(tagged.get(key), str) and tagged[key]:
            return str(tagged[key])
    return addr


def service_address(addr: str, tagged: dict[str, Any] | None) -> str:
    tagged = tagged or {}
    for key in _ORDER:
        entry = tagged.get(key)
        if isinstance(entry, dict) and isinstance(entry.get("Address"), str) and entry["Address"]:
            return str(entry["Address"])
    return addr


def _node(row: Any) -> None:
    if isinstance(row, dict):
        row["Address"] = node_address(row.get("Address") or "", row.get("TaggedAddresses"))


def _check_service_nodes(rows: Any) -> None:
    for entry in rows if isinstance(rows, list) else ():
        if not isinstance(entry, dict):
            continue
        _node(entry.get("Node"))
        svc = entry.get("Service")
        if isinstance(svc, dict):
            svc["Address"] = service_address(svc.get("Address") or "", svc.get("TaggedAddresses"))


def _service_nodes(rows: Any) -> None:
    for row in rows if isinstance(rows, list) else ():
        if isinstance(row, dict):
            row["Address"] = node_address(row.get("Address") or "", row.get("TaggedAddresses"))
            row["ServiceAddress"] = service_address(row.get("ServiceAddress") or "",
                                                    row.get("ServiceTaggedAddresses"))


def _kind(path: str) -> str:
    parts = path.split("/")
    if len(parts) < 4 or parts[1] != "v1":
        return ""
    area, what = parts[2], parts[3]
    if area == "catalog" and what == "nodes":
        return "nodes"
    if area == "catalog" and what == "node" and len(parts) > 4:
        return "node"
    if area == "catalog" and what in ("service", "connect") and len(parts) > 4:
        return "service_nodes"
    if area == "health" and what in ("service", "connect", "ingress") and len(parts) > 4:
        return "check_service_nodes"
    if area == "query" and parts[-1] == "execute":
        return "execute"
    return ""


def translates(path: str) -> bool:
    return bool(_kind(path))


def translate(path: str, value: Any, local_dc: str, target_dc: str) -> Any:
    """`value` (the endpoint's decoded answer, changed in place) with WAN addresses when it is
    about another datacenter's nodes."""
    kind = _kind(path)
    if kind == "execute":
        if isinstance(value, dict) and value.get("Datacenter") not in ("", None, local_dc):
            _check_service_nodes(value.get("Nodes"))
        return value
    if not kind or not target_dc or target_dc == local_dc:
        return value
    if kind == "nodes":
        for row in value if isinstance(value, list) else ():
            _node(row)
    elif kind == "node" and isinstance(value, dict):
        _node(value.get("Node"))
    elif kind == "service_nodes":
        _service_nodes(value)
    elif kind == "check_service_nodes":
        _check_service_nodes(value)
    return value


def translate_body(path: str, body: bytes, local_dc: str, target_dc: str) -> bytes:
    """`translate` over a JSON body; a body that is not JSON is returned as it is."""
    if not translates(path):
        return body
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body
    return json.dumps(translate(path, value, local_dc, target_dc)).encode()
