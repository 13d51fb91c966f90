"""A prepared query definition from a request body: Consul's JSON shape, keys matched without
regard to case (Go's decoder), validated with Consul's texts.

`parse_definition(body, qid)` returns the row the state table stores (every field present, Go's
zero values: empty lists and maps as null) or raises DefinitionError (the API answers 400).
"""

from __future__ import annotations

from typing import Any

import re2

from pyconsul.gocompat.durations import parse_duration

Row = dict[str, Any]

TEMPLATE_TYPE = "name_prefix_match"


class DefinitionError(ValueError):
    pass


def _canon(raw: Any, names: tuple[str, ...], where: str) -> Row:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise DefinitionError(f"Request decode failed: json: cannot unmarshal into Go struct field {where}")
    by_low = {n.lower(): n for n in names}
    out: Row = {}
    for k, v in raw.items():
        name = by_low.get(str(k).replace("_", "").lower())
        if name is not None:
            out[name] = v
    return out


def _str(v: Any, field: str) -> str:
    if v is None:
        return ""
    if not isinstance(v, str):
        raise DefinitionError(f"Request decode failed: json: cannot unmarshal {type(v).__name__} into Go struct "
                              f"field {field} of type string")
    return v


def _strs(v: Any, field: str) -> list[str] | None:
    if v is None:
        return None
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise DefinitionError(f"Request decode failed: json: cannot unmarshal into Go struct field {field} of type []string")
    return list(v) or None


def _str_map(v: Any, field: str) -> dict[str, str] | None:
    if v is None:
        return None
    if not isinstance(v, dict) or not all(isinstance(x, str) for x in v.values()):
        raise DefinitionError(f"Request decode failed: json: cannot unmarshal into Go struct field {field} "
                              f"of type map[string]string")
    return dict(v) or None


def _bool(v: Any, field: str) -> bool:
    if v is None:
        return False
    if not isinstance(v, bool):
        raise DefinitionError(f"Request decode failed: json: cannot unmarshal {type(v).__name__} into Go struct "
                              f"field {field} of type bool")
    return v


def _int(v: Any, field: str) -> int:
    if v is None:
        return 0
    if isinstance(v, bool) or not isinstance(v, int):
        raise DefinitionError(f"Request decode failed: json: cannot unmarshal {type(v).__name__} into Go struct "
                              f"field {field} of type int")
    return v


def _failover(raw: Any) -> Row:
    f = _canon(raw, ("NearestN", "Datacenters", "Targets"), "QueryService.Failover")
    nearest = _int(f.get("NearestN"), "QueryFailoverOptions.NearestN")
    if nearest < 0:
        raise DefinitionError(f"Bad NearestN '{nearest}', must be >= 0")
    targets = f.get("Targets")
    if targets is not None and not isinstance(targets, list):
        raise DefinitionError("Request decode failed: json: cannot unmarshal into Go struct field "
                              "QueryFailoverOptions.Targets of type []structs.QueryFailoverTarget")
    if targets:
        targets = [_canon(t, ("Peer", "Datacenter", "Partition", "Namespace"), "QueryFailoverTarget")
                   for t in targets]
    return {
        "NearestN": nearest,
        "Datacenters": _strs(f.get("Datacenters"), "QueryFailoverOptions.Datacenters"),
        "Targets": targets or None,
    }


def _service(raw: Any) -> Row:
    s = _canon(raw, ("Service", "Failover", "IgnoreCheckIDs", "OnlyPassing", "Near", "Tags", "NodeMeta",
                     "ServiceMeta", "Peer", "Connect", "SamenessGroup", "Namespace", "Partition"),
               "PreparedQuery.Service")
    svc = {
        "Service": _str(s.get("Service"), "ServiceQuery.Service"),
        "Failover": _failover(s.get("Failover")),
        "IgnoreCheckIDs": _strs(s.get("IgnoreCheckIDs"), "ServiceQuery.IgnoreCheckIDs"),
        "OnlyPassing": _bool(s.get("OnlyPassing"), "ServiceQuery.OnlyPassing"),
        "Near": _str(s.get("Near"), "ServiceQuery.Near"),
        "Tags": _strs(s.get("Tags"), "ServiceQuery.Tags"),
        "NodeMeta": _str_map(s.get("NodeMeta"), "ServiceQuery.NodeMeta"),
        "ServiceMeta": _str_map(s.get("ServiceMeta"), "ServiceQuery.ServiceMeta"),
        "Peer": _str(s.get("Peer"), "ServiceQuery.Peer"),
        "Connect": _bool(s.get("Connect"), "ServiceQuery.Connect"),
    }
    if not svc["Service"]:
        raise DefinitionError("Must provide a Service name to query")
    return svc


def _template(raw: Any) -> Row:
    t = _canon(raw, ("Type", "Regexp", "RemoveEmptyTags"), "PreparedQuery.Template")
    kind = _str(t.get("Type"), "QueryTemplateOptions.Type")
    regexp = _str(t.get("Regexp"), "QueryTemplateOptions.Regexp")
    if kind and kind != TEMPLATE_TYPE:
        raise DefinitionError(f"Bad Template.Type '{kind}'")
    if regexp:
        try:
            re2.compile(regexp)
        except re2.error as exc:
            raise DefinitionError(f"Bad Regexp: {exc}") from None
    return {"Type": kind, "Regexp": regexp, "RemoveEmptyTags": _bool(t.get("RemoveEmptyTags"),
                                                                     "QueryTemplateOptions.RemoveEmptyTags")}


def _dns(raw: Any) -> Row:
    d = _canon(raw, ("TTL",), "PreparedQuery.DNS")
    ttl = d.get("TTL")
    if isinstance(ttl, (int, float)) and not isinstance(ttl, bool):
        ttl = f"{int(ttl)}s"  # some clients send a bare number of seconds
    ttl = _str(ttl, "QueryDNSOptions.TTL")
    if ttl:
        try:
            seconds = parse_duration(ttl)
        except ValueError:
            raise DefinitionError(f"Bad DNS TTL '{ttl}'") from None
        if seconds < 0:
            raise DefinitionError(f"DNS TTL '{ttl}', must be >=0")
    return {"TTL": ttl}


def parse_definition(body: Any, qid: str) -> Row:
    if not isinstance(body, dict):
        kind = "array" if isinstance(body, list) else type(body).__name__
        raise DefinitionError(f"Request decode failed: json: cannot unmarshal {kind} into Go value of type "
                              f"structs.PreparedQuery")
    b = _canon(body, ("ID", "Name", "Session", "Token", "Template", "Service", "DNS"), "PreparedQuery")
    return {
        "ID": qid,
        "Name": _str(b.get("Name"), "PreparedQuery.Name"),
        "Session": _str(b.get("Session"), "PreparedQuery.Session"),
        "Token": _str(b.get("Token"), "PreparedQuery.Token"),
        "Template": _template(b.get("Template")),
        "Service": _service(b.get("Service")),
        "DNS": _dns(b.get("DNS")),
    }
