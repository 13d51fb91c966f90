"""Decoding service and check definitions from request bodies, as Consul's API does.

Consul accepts CamelCase and snake_case keys (`ServiceID` / `service_id`), `Name` or `Service`
for a service's name, and reports type mismatches in Go's words.
"""

from __future__ import annotations

import re
from typing import Any

from pyconsul.api.errors import HTTPError
from pyconsul.api.proxy_defs import decode_connect, decode_proxy
from pyconsul.checks.base import check_kind

Row = dict[str, Any]

_GO_TYPES = {int: "int", str: "string", bool: "bool", list: "[]string", dict: "map[string]string"}

SERVICE_KEYS = {
    "id": "ID", "name": "Name", "service": "Service", "tags": "Tags", "address": "Address",
    "taggedaddresses": "TaggedAddresses", "meta": "Meta", "port": "Port", "weights": "Weights",
    "enabletagoverride": "EnableTagOverride", "kind": "Kind", "proxy": "Proxy", "connect": "Connect",
    "check": "Check", "checks": "Checks", "socketpath": "SocketPath", "namespace": "Namespace",
    "partition": "Partition", "locality": "Locality", "token": "Token",
}
CHECK_KEYS = {
    "id": "CheckID", "checkid": "CheckID", "name": "Name", "notes": "Notes", "status": "Status",
    "serviceid": "ServiceID", "node": "Node", "http": "HTTP", "header": "Header", "method": "Method",
    "body": "Body", "tlsskipverify": "TLSSkipVerify", "tlsservername": "TLSServerName", "tcp": "TCP",
    "udp": "UDP", "ttl": "TTL", "args": "Args", "scriptargs": "Args", "dockercontainerid":
    "DockerContainerID", "shell": "Shell", "grpc": "GRPC", "grpcusetls": "GRPCUseTLS",
    "h2ping": "H2PING", "h2pingusetls": "H2PingUseTLS", "aliasnode": "AliasNode",
    "aliasservice": "AliasService", "interval": "Interval", "timeout": "Timeout",
    "deregistercriticalserviceafter": "DeregisterCriticalServiceAfter",
    "successbeforepassing": "SuccessBeforePassing", "failuresbeforewarning": "FailuresBeforeWarning",
    "failuresbeforecritical": "FailuresBeforeCritical", "outputmaxsize": "OutputMaxSize",
    "definition": "Definition", "type": "Type", "output": "Output", "servicename": "ServiceName",
    "servicetags": "ServiceTags", "exposedport": "ExposedPort", "disableredirects": "DisableRedirects",
    "namespace": "Namespace", "partition": "Partition", "token": "Token", "ostlsskipverify": "TLSSkipVerify",
}

_SERVICE_TYPES: dict[str, type] = {
    "ID": str, "Name": str, "Service": str, "Tags": list, "Address": str, "Meta": dict, "Port": int,
    "EnableTagOverride": bool, "Kind": str, "TaggedAddresses": dict, "Weights": dict, "SocketPath": str,
}
_CHECK_TYPES: dict[str, type] = {
    "CheckID": str, "Name": str, "Notes": str, "Status": str, "ServiceID": str, "HTTP": str,
    "Method": str, "Body": str, "TLSSkipVerify": bool, "TCP": str, "UDP": str, "TTL": str,
    "Args": list, "Interval": str, "Timeout": str, "DeregisterCriticalServiceAfter": str,
    "SuccessBeforePassing": int, "FailuresBeforeWarning": int, "FailuresBeforeCritical": int,
    "Header": dict, "GRPC": str, "H2PING": str, "AliasService": str, "AliasNode": str,
    "DockerContainerID": str, "Shell": str, "Output": str,
}


def canon_keys(raw: dict[str, Any], names: tuple[str, ...]) -> Row:
    """Go's encoding/json matches keys case-insensitively (py-consul sends "node", "address");
    snake_case is accepted as Consul's decoder does."""
    table = {n.lower(): n for n in names}
    return {table.get(str(k).replace("_", "").lower(), k): v for k, v in raw.items()}


REGISTER_KEYS = ("ID", "Node", "Address", "Datacenter", "TaggedAddresses", "NodeMeta", "Service", "Check",
                 "Checks", "SkipNodeUpdate", "Token")
DEREGISTER_KEYS = ("Node", "ServiceID", "CheckID", "Datacenter", "Token")
TXN_KV_KEYS = ("Verb", "Key", "Value", "Flags", "Index", "Session")


def _canon(raw: Any, keys: dict[str, str], struct: str) -> Row:
    if not isinstance(raw, dict):
        raise HTTPError(400, f"Request decode failed: json: cannot unmarshal {_json_kind(raw)} into Go value of type {struct}")
    out: Row = {}
    for k, v in raw.items():
        canon = keys.get(str(k).replace("_", "").replace("-", "").lower())
        out[canon or k] = v
    return out


def _json_kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


def _typecheck(row: Row, types: dict[str, type], struct: str) -> None:
    for key, want in types.items():
        v = row.get(key)
        if v is None:
            continue
        ok = isinstance(v, want) and not (want is int and isinstance(v, bool))
        if want is int and isinstance(v, float) and v.is_integer():
            row[key] = int(v)
            ok = True
        if not ok:
            raise HTTPError(
                400,
                f"Request decode failed: json: cannot unmarshal {_json_kind(v)} into Go struct field "
                f"{struct}.{key} of type {_GO_TYPES.get(want, want.__name__)}",
            )
    tags = row.get("Tags")
    if isinstance(tags, list) and not all(isinstance(t, str) for t in tags):
        raise HTTPError(400, f"Request decode failed: json: cannot unmarshal number into Go struct field {struct}.Tags of type string")
    weights = row.get("Weights")
    if isinstance(weights, dict):
        for name in ("Passing", "Warning"):
            w = next((v for k, v in weights.items() if str(k).lower() == name.lower()), None)
            if w is not None and (not isinstance(w, int) or isinstance(w, bool) or not -2**63 <= w < 2**63):
                raise HTTPError(400, f"Request decode failed: json: cannot unmarshal {_json_kind(w)} into Go "
                                     f"struct field {struct}.Weights.{name} of type int")
    meta = row.get("Meta")
    if isinstance(meta, dict) and not all(isinstance(x, str) for x in meta.values()):
        raise HTTPError(400, f"Request decode failed: json: cannot unmarshal number into Go struct field {struct}.Meta of type string")


_META_KEY = re.compile(r"^[a-zA-Z0-9_-]+$")
META_MAX_PAIRS, META_KEY_MAX, META_VALUE_MAX = 64, 128, 512


def validate_meta(meta: Any, reserved_ok: bool = False) -> None:
    """Consul's rules for service and node metadata."""
    if not meta:
        return
    if len(meta) > META_MAX_PAIRS:
        raise HTTPError(400, f"Invalid service: Node metadata cannot contain more than {META_MAX_PAIRS} key/value pairs")
    for key, value in meta.items():
        if not key:
            raise HTTPError(400, "Invalid service: Key cannot be blank")
        if not _META_KEY.match(key):
            raise HTTPError(400, f"Invalid service: Key contains invalid characters: {key!r}")
        if len(key) > META_KEY_MAX:
            raise HTTPError(400, f"Invalid service: Key is too long (limit: {META_KEY_MAX} characters)")
        if key.startswith("consul-") and not reserved_ok:
            raise HTTPError(400, "Invalid service: Key prefix 'consul-' is reserved for internal use")
        if len(str(value)) > META_VALUE_MAX:
            raise HTTPError(400, f"Invalid service: Value is too long (limit: {META_VALUE_MAX} characters)")


def check_type(chk: Row) -> str:
    """The check's type by the one rule the scheduler also uses; a stored `Type` otherwise."""
    return check_kind(chk) or chk.get("Type", "") or ""


_DURATION_KEYS = ("Interval", "Timeout", "TTL", "DeregisterCriticalServiceAfter")


def _frac(value: int, unit: int) -> str:
    """value/unit in decimal without trailing zeros (Go's fmtFrac)."""
    whole, rest = divmod(value, unit)
    if not rest:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}.{rest:0{digits}d}".rstrip("0")


def go_duration_text(ns: int) -> str:
    """Go's time.Duration.String() for a number of nanoseconds, exactly."""
    if ns == 0:
        return "0s"
    sign, ns = ("-" if ns < 0 else ""), abs(ns)
    if ns < 1000:
        return f"{sign}{ns}ns"
    if ns < 1_000_000:
        return f"{sign}{_frac(ns, 1000)}µs"
    if ns < 1_000_000_000:
        return f"{sign}{_frac(ns, 1_000_000)}ms"
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    out = f"{hours}h" if hours else ""
    if hours or minutes:
        out += f"{minutes}m"
    return f"{sign}{out}{_frac(rest, 1_000_000_000)}s"


def _durations_as_text(chk: Row) -> None:
    """Go clients marshal time.Duration as a number of nanoseconds; Consul takes that as well as
    "10s". Numbers are kept as Go's duration text, the form every reader here expects."""
    for key in _DURATION_KEYS:
        v = chk.get(key)
        if isinstance(v, int | float) and not isinstance(v, bool) and v == v and abs(v) < 2**63:
            chk[key] = go_duration_text(int(v))


def check_from_request(raw: Any, struct: str = "structs.HealthCheck", name_as_id: bool = True) -> Row:
    """A check definition in canonical CamelCase, type-checked. A missing CheckID defaults to the
    Name (`name_as_id`), except for a service's own checks, which Consul names service:<id>[:n]."""
    chk = _canon(raw, CHECK_KEYS, struct)
    _durations_as_text(chk)
    _typecheck(chk, _CHECK_TYPES, struct.split(".")[-1])
    if name_as_id and not chk.get("CheckID") and chk.get("Name"):
        chk["CheckID"] = chk["Name"]
    status = chk.get("Status")
    if status and status not in ("passing", "warning", "critical", "maintenance"):
        raise HTTPError(400, f"Invalid check status: {status!r}")
    chk["Type"] = check_type(chk)
    return chk


def _service_addresses(raw: dict[str, Any], struct: str) -> dict[str, Row]:
    """Each tagged address is a structs.ServiceAddress: Go's decoder matches `address`/`port` to
    Address/Port whatever their case, and a client reads them back in Consul's spelling."""
    out: dict[str, Row] = {}
    for tag, value in raw.items():
        if not isinstance(value, dict):
            raise HTTPError(400, f"Request decode failed: json: cannot unmarshal {_json_kind(value)} into Go "
                                 f"struct field {struct.split('.')[-1]}.TaggedAddresses of type structs.ServiceAddress")
        fields = {str(k).lower(): v for k, v in value.items()}
        address, port = fields.get("address") or "", fields.get("port") or 0
        if not isinstance(address, str):
            raise HTTPError(400, "Request decode failed: json: cannot unmarshal number into Go struct field "
                                 "ServiceAddress.TaggedAddresses.Address of type string")
        if isinstance(port, float) and port.is_integer():
            port = int(port)
        if not isinstance(port, int) or isinstance(port, bool):
            raise HTTPError(400, f"Request decode failed: json: cannot unmarshal {_json_kind(port)} into Go struct "
                                 "field ServiceAddress.TaggedAddresses.Port of type int")
        out[str(tag)] = {"Address": address, "Port": port}
    return out


def _locality(raw: Any, struct: str) -> Row:
    """structs.Locality (Consul 1.17): Region and Zone, matched case-insensitively."""
    if not isinstance(raw, dict):
        raise HTTPError(400, f"Request decode failed: json: cannot unmarshal {_json_kind(raw)} into Go struct "
                             f"field {struct.split('.')[-1]}.Locality of type structs.Locality")
    fields = {str(k).lower(): v for k, v in raw.items()}
    out: Row = {}
    for name in ("Region", "Zone"):
        value = fields.get(name.lower())
        if value is None:
            continue
        if not isinstance(value, str):
            raise HTTPError(400, f"Request decode failed: json: cannot unmarshal {_json_kind(value)} into Go "
                                 f"struct field Locality.Locality.{name} of type string")
        out[name] = value
    return out


def service_from_request(raw: Any, struct: str = "structs.NodeService") -> Row:
    """A service definition in canonical form: `Service` holds the name, `ID` defaults to it."""
    svc = _canon(raw, SERVICE_KEYS, struct)
    _typecheck(svc, _SERVICE_TYPES, struct.split(".")[-1])
    validate_meta(svc.get("Meta"))
    if isinstance(svc.get("TaggedAddresses"), dict):
        svc["TaggedAddresses"] = _service_addresses(svc["TaggedAddresses"], struct)
    if svc.get("Locality") is not None:
        svc["Locality"] = _locality(svc["Locality"], struct)
    if svc.get("Proxy") is not None:
        svc["Proxy"] = decode_proxy(svc["Proxy"])
    if svc.get("Connect") is not None:
        svc["Connect"] = decode_connect(svc["Connect"])
    name = svc.get("Service") or svc.get("Name") or ""
    svc["Service"] = name
    svc.pop("Name", None)
    if not svc.get("ID"):
        svc["ID"] = name
    return svc
