"""Service and node identities in token and role bodies, checked as Consul checks them.

A name is 1–256 characters of lowercase letters, digits, `-` and `_`, starting and ending with a
letter or digit; a node identity needs its Datacenter. Bad input is a 400 with Consul's text.
"""

from __future__ import annotations

import re
from typing import Any

from pyconsul.api.errors import HTTPError

Row = dict[str, Any]
_NAME = re.compile(r"^[a-z0-9]([a-z0-9_-]{0,254}[a-z0-9])?$")


def _lower(item: Any, what: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise HTTPError(400, f"{what} decoding failed: expected an object")
    return {str(k).lower(): v for k, v in item.items()}


def service_identities(items: Any) -> list[Row] | None:
    out: list[Row] = []
    for item in items or ():
        ident = _lower(item, "ServiceIdentity")
        name = ident.get("servicename")
        if not isinstance(name, str) or not name:
            raise HTTPError(400, "Service identity is missing the service name field on this token")
        if not _NAME.match(name):
            raise HTTPError(400, f"Service identity {name!r} has an invalid name. Only lowercase alphanumeric "
                                 "characters, '-' and '_' are allowed")
        row: Row = {"ServiceName": name}
        dcs = ident.get("datacenters")
        if dcs:
            if not (isinstance(dcs, list) and all(isinstance(d, str) for d in dcs)):
                raise HTTPError(400, "Service identity Datacenters must be a list of strings")
            row["Datacenters"] = list(dcs)
        out.append(row)
    return out or None


def node_identities(items: Any) -> list[Row] | None:
    out: list[Row] = []
    for item in items or ():
        ident = _lower(item, "NodeIdentity")
        name, dc = ident.get("nodename"), ident.get("datacenter")
        if not isinstance(name, str) or not name:
            raise HTTPError(400, "Node identity is missing the node name field on this token")
        if not isinstance(dc, str) or not dc:
            raise HTTPError(400, "Node identity is missing the datacenter field on this token")
        if not _NAME.match(name):
            raise HTTPError(400, f"Node identity {name!r} has an invalid name. Only lowercase alphanumeric "
                                 "characters, '-' and '_' are allowed")
        out.append({"NodeName": name, "Datacenter": dc})
    return out or None
