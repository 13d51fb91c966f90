"""Decoding a service definition's `Connect` and `Proxy` blocks, and Consul's checks on them.

Both arrive CamelCase from the HTTP API and snake_case from config files (an HCL block is a list
of one); either way they come out in Consul's stored JSON shape: `Proxy` as
`{DestinationServiceName, DestinationServiceID, LocalServiceAddress, LocalServicePort, Mode,
Upstreams?, Config?, MeshGateway, Expose}` and `Connect` as `{Native?, SidecarService?}` where
SidecarService is itself a (not yet validated) service definition. `Config` maps are kept as
written: they belong to the proxy, not to Consul.
"""

from __future__ import annotations

from typing import Any

from pyconsul.api.errors import HTTPError

Row = dict[str, Any]

PROXY_FIELDS = ("DestinationServiceName", "DestinationServiceID", "LocalServiceAddress", "LocalServicePort",
                "LocalServiceSocketPath", "Mode", "TransparentProxy", "Config", "Upstreams", "MeshGateway",
                "Expose", "AccessLogs")
UPSTREAM_FIELDS = ("DestinationType", "DestinationNamespace", "DestinationPartition", "DestinationPeer",
                   "DestinationName", "Datacenter", "LocalBindAddress", "LocalBindPort", "LocalBindSocketPath",
                   "LocalBindSocketMode", "Config", "MeshGateway", "CentrallyConfigured")
CONNECT_FIELDS = ("Native", "SidecarService")
_INTS = {"LocalServicePort", "LocalBindPort"}
_STRS = {"DestinationServiceName", "DestinationServiceID", "LocalServiceAddress", "LocalServiceSocketPath", "Mode",
         "DestinationType", "DestinationName", "Datacenter", "LocalBindAddress", "DestinationNamespace"}
# Kept exactly as written (opaque to Consul).
_OPAQUE = {"Config", "TransparentProxy", "Expose", "AccessLogs"}


def one_block(value: Any) -> Any:
    """An HCL block decodes to a list holding one object; JSON gives the object itself."""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        return value[0]
    return value


def _keyed(raw: Any, names: tuple[str, ...], struct: str) -> Row:
    raw = one_block(raw)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise HTTPError(400, f"Request decode failed: json: cannot unmarshal {type(raw).__name__} into Go value of "
                             f"type {struct}")
    table = {n.lower(): n for n in names}
    out: Row = {}
    for k, v in raw.items():
        name = table.get(str(k).replace("_", "").replace("-", "").lower())
        if name is None:
            continue  # Consul ignores fields it does not know
        out[name] = v
    for key in _INTS & out.keys():
        v = out[key]
        if isinstance(v, float) and v.is_integer():
            out[key] = v = int(v)
        if not isinstance(v, int) or isinstance(v, bool):
            raise HTTPError(400, f"Request decode failed: json: cannot unmarshal {type(v).__name__} into Go struct "
                                 f"field {struct.split('.')[-1]}.{key} of type int")
    for key in _STRS & out.keys():
        if out[key] is None:
            out[key] = ""
        elif not isinstance(out[key], str):
            raise HTTPError(400, f"Request decode failed: json: cannot unmarshal {type(out[key]).__name__} into Go "
                                 f"struct field {struct.split('.')[-1]}.{key} of type string")
    return out


def _mesh_gateway(raw: Any) -> Row:
    raw = one_block(raw) or {}
    mode = next((v for k, v in raw.items() if str(k).lower() == "mode"), "") if isinstance(raw, dict) else ""
    return {"Mode": mode} if mode else {}


def decode_upstream(raw: Any) -> Row:
    up = _keyed(raw, UPSTREAM_FIELDS, "structs.Upstream")
    out: Row = {"DestinationType": up.get("DestinationType") or "service"}
    for key in ("DestinationNamespace", "DestinationPartition", "DestinationPeer"):
        if up.get(key):
            out[key] = up[key]
    out["DestinationName"] = up.get("DestinationName") or ""
    out["Datacenter"] = up.get("Datacenter") or ""
    if up.get("LocalBindAddress"):
        out["LocalBindAddress"] = up["LocalBindAddress"]
    out["LocalBindPort"] = int(up.get("LocalBindPort") or 0)
    if up.get("LocalBindSocketPath"):
        out["LocalBindSocketPath"] = up["LocalBindSocketPath"]
    if isinstance(one_block(up.get("Config")), dict) and one_block(up["Config"]):
        out["Config"] = one_block(up["Config"])
    out["MeshGateway"] = _mesh_gateway(up.get("MeshGateway"))
    return out


def decode_proxy(raw: Any) -> Row:
    """A `Proxy` block in the stored shape (absent fields stay absent or empty, as Consul's JSON)."""
    p = _keyed(raw, PROXY_FIELDS, "structs.ConnectProxyConfig")
    out: Row = {}
    for key in ("DestinationServiceName", "DestinationServiceID", "LocalServiceAddress"):
        if p.get(key):
            out[key] = p[key]
    if p.get("LocalServicePort"):
        out["LocalServicePort"] = int(p["LocalServicePort"])
    if p.get("LocalServiceSocketPath"):
        out["LocalServiceSocketPath"] = p["LocalServiceSocketPath"]
    out["Mode"] = p.get("Mode") or ""
    if isinstance(one_block(p.get("Config")), dict) and one_block(p["Config"]):
        out["Config"] = one_block(p["Config"])
    ups = p.get("Upstreams")
    if ups:
        if isinstance(ups, dict):
            ups = [ups]
        if not isinstance(ups, list):
            raise HTTPError(400, "Request decode failed: json: cannot unmarshal object into Go struct field "
                                 "ConnectProxyConfig.Upstreams of type structs.Upstreams")
        out["Upstreams"] = [decode_upstream(u) for u in ups]
    out["MeshGateway"] = _mesh_gateway(p.get("MeshGateway"))
    expose = one_block(p.get("Expose"))
    out["Expose"] = expose if isinstance(expose, dict) else {}
    if p.get("TransparentProxy"):
        out["TransparentProxy"] = one_block(p["TransparentProxy"])
    return out


def decode_connect(raw: Any) -> Row:
    """A `Connect` block: `Native` (bool) and `SidecarService` (a raw service definition or absent)."""
    conn = _keyed(raw, CONNECT_FIELDS, "structs.ServiceConnect")
    out: Row = {}
    native = conn.get("Native")
    if native is not None and not isinstance(native, bool):
        raise HTTPError(400, f"Request decode failed: json: cannot unmarshal {type(native).__name__} into Go struct "
                             "field ServiceConnect.Native of type bool")
    if native:
        out["Native"] = True
    if "SidecarService" in conn and conn["SidecarService"] is not None:
        side = one_block(conn["SidecarService"])
        if not isinstance(side, dict):
            raise HTTPError(400, "Request decode failed: json: cannot unmarshal into Go struct field "
                                 "ServiceConnect.SidecarService of type structs.ServiceDefinition")
        out["SidecarService"] = side
    return out


def connect_problems(svc: Row) -> list[str]:
    """Consul's NodeService.Validate rules for proxies, native services and sidecars."""
    problems: list[str] = []
    proxy = svc.get("Proxy") or {}
    connect = svc.get("Connect") or {}
    has_port = bool(svc.get("Port")) or bool(svc.get("SocketPath"))
    if svc.get("Kind") == "connect-proxy":
        if not proxy.get("DestinationServiceName"):
            problems.append("Proxy.DestinationServiceName must be non-empty for Connect proxy services")
        if not has_port:
            problems.append("Port or SocketPath must be set for a Connect proxy")
        if connect.get("Native"):
            problems.append("A Proxy cannot also be Connect Native, only typical services")
        if connect.get("SidecarService") is not None:
            problems.append("A SidecarService cannot be specified on a Proxy")
        for up in proxy.get("Upstreams") or ():
            if not up["DestinationName"]:
                problems.append("upstream destination name cannot be empty")
    elif connect.get("Native") and not has_port:
        problems.append("Port or SocketPath must be set for a Connect native service.")
    side = connect.get("SidecarService")
    if side is not None:
        if any(str(k).lower() == "id" and v for k, v in side.items()):
            problems.append("A SidecarService cannot specify an ID as this is managed by the agent")
        nested = next((v for k, v in side.items() if str(k).lower() == "connect"), None)
        if nested is not None and decode_connect(nested).get("SidecarService") is not None:
            problems.append("A SidecarService cannot have a nested SidecarService")
    return problems


def validation_error(problems: list[str]) -> HTTPError:
    """Consul's multierror text behind `Validation failed: `."""
    n = len(problems)
    head = "1 error occurred:" if n == 1 else f"{n} errors occurred:"
    body = "".join(f"\n\t* {p}" for p in problems)
    return HTTPError(400, f"Validation failed: {head}{body}\n\n")
