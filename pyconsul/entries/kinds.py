"""The config-entry kinds: each one's fields, Consul's normalisation and its validation texts (pure).

`normalize(raw)` takes a decoded body (see `decode`) and returns the entry as it is stored, or
raises `EntryError`. Two kinds of refusal, as Consul has them:
- `decoding=True`: the body does not decode (no Kind, an unknown key): Consul's
  `Request decoding failed: …` text;
- otherwise the entry decodes but is invalid (Normalize/Validate): Consul's plain text.
Stored shapes add what Consul's JSON always shows: `MeshGateway`, `TransparentProxy` and `Expose`
as `{}` on service- and proxy-defaults, a `Precedence` and `Type` on every intention source, and
`Protocol` "tcp" on an ingress listener that names none.
"""

from __future__ import annotations

from typing import Any

from pyconsul.api.validate import go_duration_text
from pyconsul.entries.decode import decode_struct
from pyconsul.gocompat.durations import parse_duration

Row = dict[str, Any]

SERVICE_DEFAULTS = "service-defaults"
PROXY_DEFAULTS = "proxy-defaults"
SERVICE_INTENTIONS = "service-intentions"
SERVICE_RESOLVER = "service-resolver"
SERVICE_ROUTER = "service-router"
SERVICE_SPLITTER = "service-splitter"
INGRESS_GATEWAY = "ingress-gateway"
TERMINATING_GATEWAY = "terminating-gateway"
PROXY_CONFIG_GLOBAL = "global"

_COMMON = ("Kind", "Name", "Namespace", "Partition", "Meta", "CreateIndex", "ModifyIndex")
KIND_FIELDS: dict[str, frozenset[str]] = {
    SERVICE_DEFAULTS: frozenset(_COMMON + (
        "Protocol", "Mode", "TransparentProxy", "MutualTLSMode", "MeshGateway", "Expose", "ExternalSNI",
        "UpstreamConfig", "Destination", "MaxInboundConnections", "LocalConnectTimeoutMs", "LocalRequestTimeoutMs",
        "BalanceInboundConnections", "RateLimits", "EnvoyExtensions")),
    PROXY_DEFAULTS: frozenset(_COMMON + (
        "Config", "Mode", "TransparentProxy", "MutualTLSMode", "MeshGateway", "Expose", "AccessLogs",
        "EnvoyExtensions", "FailoverPolicy", "PrioritizeByLocality")),
    SERVICE_INTENTIONS: frozenset(_COMMON + ("Sources", "JWT")),
    SERVICE_RESOLVER: frozenset(_COMMON + (
        "DefaultSubset", "Subsets", "Redirect", "Failover", "ConnectTimeout", "RequestTimeout",
        "PrioritizeByLocality", "LoadBalancer")),
    SERVICE_ROUTER: frozenset(_COMMON + ("Routes",)),
    SERVICE_SPLITTER: frozenset(_COMMON + ("Splits",)),
    INGRESS_GATEWAY: frozenset(_COMMON + ("TLS", "Listeners", "Defaults")),
    TERMINATING_GATEWAY: frozenset(_COMMON + ("Services",)),
}
KINDS = tuple(KIND_FIELDS)
PROTOCOLS_L7 = ("http", "http2", "grpc")


class EntryError(ValueError):
    def __init__(self, problems: list[str] | str, decoding: bool = False) -> None:
        # A list is a multierror (mapstructure's, for unknown keys); a string is one plain error.
        self.multi = not isinstance(problems, str)
        self.problems = [problems] if isinstance(problems, str) else problems
        self.decoding = decoding
        super().__init__(self.text())

    def text(self) -> str:
        if not self.decoding:
            return "; ".join(self.problems)
        if not self.multi:
            return "Request decoding failed: " + self.problems[0]
        n = len(self.problems)
        head = "1 error occurred:" if n == 1 else f"{n} errors occurred:"
        return "Request decoding failed: " + head + "".join(f"\n\t* {p}" for p in self.problems) + "\n\n"


def decode_entry(raw: Any) -> Row:
    """A body's Kind and fields in Consul's spelling; refuses bodies Consul cannot decode."""
    if not isinstance(raw, dict):
        raise EntryError("Payload does not contain a kind/Kind key at the top level", decoding=True)
    entry = decode_struct(raw)
    kind = entry.get("Kind")
    if not isinstance(kind, str) or not kind:
        raise EntryError("Payload does not contain a kind/Kind key at the top level", decoding=True)
    if kind not in KIND_FIELDS:
        raise EntryError(f"invalid config entry kind: {kind}", decoding=True)
    unknown = [k for k in entry if k not in KIND_FIELDS[kind]]
    if unknown:
        raise EntryError([f'invalid config key "{k}"' for k in unknown], decoding=True)
    if not isinstance(entry.get("Name", ""), str):
        raise EntryError("'Name' expected type 'string'", decoding=True)
    return entry


def normalize(raw: Any) -> Row:
    """The entry as stored (without indexes), or EntryError."""
    entry = decode_entry(raw)
    entry.pop("CreateIndex", None)
    entry.pop("ModifyIndex", None)
    kind = entry["Kind"]
    name = entry.get("Name") or ""
    if kind == PROXY_DEFAULTS and name != PROXY_CONFIG_GLOBAL:
        raise EntryError(f'invalid name ("{name}"), only "{PROXY_CONFIG_GLOBAL}" is supported')
    if not name:
        raise EntryError("Name is required")
    _check_meta(entry.get("Meta"))
    return _NORMALIZERS[kind](entry)


def _check_meta(meta: Any) -> None:
    if meta is None:
        return
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise EntryError("Meta must be a map of strings", decoding=True)
    if len(meta) > 64:
        raise EntryError("Meta exceeds maximum element count 64")
    for k, v in meta.items():
        if len(k) > 128:
            raise EntryError(f"Meta key {k!r} exceeds maximum length 128")
        if len(v) > 512:
            raise EntryError(f"Meta value for key {k!r} exceeds maximum length 512")


def _obj(entry: Row, key: str) -> Row:
    value = entry.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise EntryError(f"'{key}' expected a map, got '{type(value).__name__}'", decoding=True)
    return value


def _mode(entry: Row) -> None:
    mode = entry.get("Mode", "")
    if mode not in ("", "direct", "transparent"):
        raise EntryError(f"invalid mode: {mode}")
    gw = _obj(entry, "MeshGateway").get("Mode", "")
    if gw not in ("", "none", "local", "remote"):
        raise EntryError(f"invalid mesh gateway mode: {gw!r}")


def _service_defaults(entry: Row) -> Row:
    protocol = entry.get("Protocol", "")
    if not isinstance(protocol, str):
        raise EntryError("'Protocol' expected type 'string'", decoding=True)
    if protocol:
        entry["Protocol"] = protocol.lower()
    _mode(entry)
    if int(entry.get("MaxInboundConnections") or 0) < 0:
        raise EntryError("invalid value for MaxInboundConnections: must be >= 0")
    for key in ("TransparentProxy", "MeshGateway", "Expose"):
        entry[key] = _obj(entry, key)
    return entry


def _proxy_defaults(entry: Row) -> Row:
    _mode(entry)
    config = _obj(entry, "Config")
    if config:
        entry["Config"] = config
    for key in ("TransparentProxy", "MeshGateway", "Expose"):
        entry[key] = _obj(entry, key)
    return entry


def _is_wild(name: str) -> bool:
    return name == "*"


def intention_precedence(source: str, destination: str) -> int:
    """Consul's UpdatePrecedence with namespaces always `default`: web→db 9, *→db 8, web→* 6, *→* 5."""
    top = 3 if _is_wild(destination) else 9
    return top - (1 if _is_wild(source) else 0)


def _intentions(entry: Row) -> Row:
    name = entry["Name"]
    if "*" in name and name != "*":
        raise EntryError("wildcard character '*' cannot be used with partial values")
    sources = entry.get("Sources") or []
    if not isinstance(sources, list):
        raise EntryError("'Sources' expected a list", decoding=True)
    seen: set[str] = set()
    out = []
    for i, src in enumerate(sources):
        if not isinstance(src, dict):
            raise EntryError(f"Sources[{i}] must be an object", decoding=True)
        src_name = src.get("Name") or ""
        if not src_name:
            raise EntryError(f"Sources[{i}].Name is required")
        if "*" in src_name and src_name != "*":
            raise EntryError("wildcard character '*' cannot be used with partial values")
        if src_name in seen:
            raise EntryError(f"Sources[{i}] defines {src_name!r} more than once")
        seen.add(src_name)
        action = src.get("Action", "")
        perms = src.get("Permissions") or []
        if perms and action:
            raise EntryError(f"Sources[{i}].Action must be omitted if Permissions are specified")
        if not perms and action not in ("allow", "deny"):
            raise EntryError(f'Sources[{i}].Action must be set to "allow" or "deny"')
        typ = src.get("Type") or "consul"
        if typ != "consul":
            raise EntryError(f'Sources[{i}].Type must be set to "consul"')
        row = dict(src)
        row["Type"] = typ
        row["Precedence"] = intention_precedence(src_name, name)
        out.append(row)
    entry["Sources"] = out
    return entry


def _duration(entry: Row, key: str) -> None:
    value = entry.get(key)
    if value in (None, "", 0):
        entry.pop(key, None)
        return
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1e9  # Go clients send nanoseconds
    else:
        try:
            seconds = parse_duration(str(value))
        except ValueError:
            raise EntryError(f"error decoding '{key}': time: invalid duration \"{value}\"", decoding=True) from None
    if seconds < 0:
        raise EntryError(f"Bad {key} '{value}', must be >= 0")
    entry[key] = go_seconds(seconds)


def go_seconds(seconds: float) -> str:
    """Go's Duration.String ("5s", "1m30s", "1.5s")."""
    return go_duration_text(int(round(seconds * 1e9)))


def _resolver(entry: Row) -> Row:
    subsets = _obj(entry, "Subsets")
    for name in subsets:
        if not name:
            raise EntryError("Subset defined with empty name")
        if not all(c.isalnum() or c == "-" for c in name) or name.lower() != name:
            raise EntryError(f'Subset "{name}" is invalid: must be lowercase alphanumerics and dashes')
    default = entry.get("DefaultSubset", "")
    if default and default not in subsets:
        raise EntryError(f'DefaultSubset "{default}" is not a valid subset')
    redirect = entry.get("Redirect")
    failover = _obj(entry, "Failover")
    if redirect is not None:
        if failover:
            raise EntryError("Redirect and Failover cannot both be set")
        if not isinstance(redirect, dict) or not any(redirect.values()):
            raise EntryError("Redirect is empty")
        if not redirect.get("Service") and redirect.get("ServiceSubset"):
            raise EntryError("Redirect.ServiceSubset defined without Redirect.Service")
    for subset, fo in failover.items():
        if subset != "*" and subset not in subsets:
            raise EntryError(f'Bad Failover["{subset}"]: not a valid subset')
        if not isinstance(fo, dict) or not any(fo.get(k) for k in ("Service", "ServiceSubset", "Namespace",
                                                                  "Datacenters", "Targets")):
            raise EntryError(f'Bad Failover["{subset}"]: one of Service, ServiceSubset, Namespace, Targets, '
                             "or Datacenters is required")
    _duration(entry, "ConnectTimeout")
    _duration(entry, "RequestTimeout")
    if subsets:
        entry["Subsets"] = subsets
    return entry


def _router(entry: Row) -> Row:
    routes = entry.get("Routes") or []
    if not isinstance(routes, list):
        raise EntryError("'Routes' expected a list", decoding=True)
    for i, route in enumerate(routes):
        http = ((route or {}).get("Match") or {}).get("HTTP") or {}
        paths = [k for k in ("PathExact", "PathPrefix", "PathRegex") if http.get(k)]
        if len(paths) > 1:
            raise EntryError(f"Route[{i}] should only contain at most one of PathExact, PathPrefix, or PathRegex")
        for key in ("PathExact", "PathPrefix"):
            if http.get(key) and not str(http[key]).startswith("/"):
                raise EntryError(f'Route[{i}] {key} doesn\'t start with \'/\': "{http[key]}"')
        dest = (route or {}).get("Destination") or {}
        if dest.get("PrefixRewrite") and not (http.get("PathExact") or http.get("PathPrefix")):
            raise EntryError(f"Route[{i}] cannot make use of PrefixRewrite without configuring either "
                             "PathExact or PathPrefix")
    entry["Routes"] = routes
    return entry


def _splitter(entry: Row) -> Row:
    splits = entry.get("Splits") or []
    if not isinstance(splits, list) or not splits:
        raise EntryError("no splits configured")
    total = 0
    seen: set[tuple[str, str]] = set()
    for split in splits:
        weight = split.get("Weight", 0)
        if not isinstance(weight, (int, float)) or isinstance(weight, bool):
            raise EntryError("'Weight' expected type 'float32'", decoding=True)
        total += int(round(weight * 100))
        key = (split.get("Service") or entry["Name"], split.get("ServiceSubset") or "")
        if key in seen:
            where = key[0] + (f", subset={key[1]}" if key[1] else "")
            raise EntryError(f"split destination occurs more than once: service={where}")
        seen.add(key)
    if total != 10000:
        raise EntryError(f"the sum of all split weights must be 100, not {total / 100:f}")
    entry["Splits"] = splits
    return entry


def _ingress(entry: Row) -> Row:
    listeners = entry.get("Listeners") or []
    if not isinstance(listeners, list):
        raise EntryError("'Listeners' expected a list", decoding=True)
    ports: set[int] = set()
    for listener in listeners:
        port = int(listener.get("Port") or 0)
        protocol = (listener.get("Protocol") or "tcp").lower()
        if protocol not in ("tcp", *PROTOCOLS_L7):
            raise EntryError(f'protocol must be "tcp", "http", "http2", or "grpc" (listener on port {port})')
        listener["Protocol"] = protocol
        if port in ports:
            raise EntryError(f"port {port} declared on two listeners")
        ports.add(port)
        services = listener.get("Services") or []
        if protocol == "tcp" and len(services) > 1:
            raise EntryError(f"multiple services per listener are only supported for protocol = 'http' "
                             f"(listener on port {port})")
        if protocol == "tcp" and any(s.get("Name") == "*" for s in services):
            raise EntryError(f"Wildcard service name is only valid for protocol = 'http' (listener on port {port})")
        for svc in services:
            if not svc.get("Name"):
                raise EntryError(f"Service name cannot be blank (listener on port {port})")
            if svc.get("Hosts") and protocol == "tcp":
                raise EntryError(f"Associating hosts to a service is not supported for the {protocol} protocol "
                                 f"(listener on port {port})")
        listener["Services"] = services
    entry["Listeners"] = listeners
    entry["TLS"] = _obj(entry, "TLS") or {"Enabled": False}
    return entry


def _terminating(entry: Row) -> Row:
    services = entry.get("Services") or []
    if not isinstance(services, list):
        raise EntryError("'Services' expected a list", decoding=True)
    seen: set[str] = set()
    for svc in services:
        name = svc.get("Name") or ""
        if not name:
            raise EntryError("Service must have a name")
        if name in seen:
            raise EntryError(f'Service "{name}" was specified more than once')
        seen.add(name)
        if bool(svc.get("CertFile")) != bool(svc.get("KeyFile")):
            raise EntryError(f'Service "{name}" must have both a CertFile and KeyFile specified for TLS origination')
    entry["Services"] = services
    return entry


_NORMALIZERS = {
    SERVICE_DEFAULTS: _service_defaults,
    PROXY_DEFAULTS: _proxy_defaults,
    SERVICE_INTENTIONS: _intentions,
    SERVICE_RESOLVER: _resolver,
    SERVICE_ROUTER: _router,
    SERVICE_SPLITTER: _splitter,
    INGRESS_GATEWAY: _ingress,
    TERMINATING_GATEWAY: _terminating,
}
