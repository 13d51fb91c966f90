"""Service and check definitions: Consul's accepted spellings in, the CamelCase API shape out.

Config files write `deregister_critical_service_after`, the HTTP API `DeregisterCriticalServiceAfter`;
both (and Consul's aliases such as `ScriptArgs` for `args`, `CheckID`/`check_id` for `id`,
`service_id`/`ServiceID`) decode to one canonical snake_case dict (see CHECK / SERVICE), which
`check_to_api` / `service_to_api` turn into the shape `/v1/agent/service/register` accepts.

Check ids: a top-level check has `CheckID` (defaults to its Name). A check inside a service gets
its id from `service_check_definitions` (Consul: `service:<id>`, or `service:<id>:<n>` when the
service has several).
"""

from __future__ import annotations

from typing import Any

from pyconsul.config.errors import ConfigError, multi_error
from pyconsul.config.spec import ANY, BOOL, DUR, INT, STR, STR_LIST, STR_MAP, ListOf, MapOf, Struct, decode
from pyconsul.durations import parse_duration

CHECK = Struct(
    fields={
        "id": STR,
        "name": STR,
        "notes": STR,
        "service_id": STR,
        "token": STR,
        "status": STR,
        "args": STR_LIST,
        "script": STR,  # removed in Consul 1.0; kept so the error can say so
        "http": STR,
        "header": MapOf(STR_LIST),
        "method": STR,
        "body": STR,
        "disable_redirects": BOOL,
        "tcp": STR,
        "tcp_use_tls": BOOL,
        "udp": STR,
        "interval": DUR,
        "docker_container_id": STR,
        "shell": STR,
        "grpc": STR,
        "grpc_use_tls": BOOL,
        "h2ping": STR,
        "h2ping_use_tls": BOOL,
        "tls_server_name": STR,
        "tls_skip_verify": BOOL,
        "alias_node": STR,
        "alias_service": STR,
        "timeout": DUR,
        "ttl": DUR,
        "success_before_passing": INT,
        "failures_before_warning": INT,
        "failures_before_critical": INT,
        "deregister_critical_service_after": DUR,
        "output_max_size": INT,
        "os_service": STR,
        "namespace": STR,
        "partition": STR,
        "type": STR,
    },
    aliases={
        "checkid": "id",
        "scriptargs": "args",
        "serviceid": "service_id",
        "dockercontainerid": "docker_container_id",
        "tlsskipverify": "tls_skip_verify",
        "tlsservername": "tls_server_name",
        "grpcusetls": "grpc_use_tls",
        "h2pingusetls": "h2ping_use_tls",
        "headers": "header",
    },
)

WEIGHTS = Struct(fields={"passing": INT, "warning": INT})
TAGGED_ADDRESS = Struct(fields={"address": STR, "port": INT})

SERVICE = Struct(
    fields={
        "kind": STR,
        "id": STR,
        "name": STR,
        "tags": STR_LIST,
        "address": STR,
        "tagged_addresses": MapOf(TAGGED_ADDRESS),
        "meta": STR_MAP,
        "port": INT,
        "socket_path": STR,
        "enable_tag_override": BOOL,
        "weights": WEIGHTS,
        "token": STR,
        "check": CHECK,
        "checks": ListOf(CHECK),
        "proxy": ANY,  # Connect, kept for the Connect issue
        "connect": ANY,
        "namespace": STR,
        "partition": STR,
        "locality": ANY,
    },
    aliases={"serviceid": "id", "servicename": "name"},
)

# Canonical key -> the API's field name.
_CHECK_API = {
    "id": "CheckID",
    "name": "Name",
    "notes": "Notes",
    "service_id": "ServiceID",
    "token": "Token",
    "status": "Status",
    "args": "Args",
    "http": "HTTP",
    "header": "Header",
    "method": "Method",
    "body": "Body",
    "disable_redirects": "DisableRedirects",
    "tcp": "TCP",
    "tcp_use_tls": "TCPUseTLS",
    "udp": "UDP",
    "interval": "Interval",
    "docker_container_id": "DockerContainerID",
    "shell": "Shell",
    "grpc": "GRPC",
    "grpc_use_tls": "GRPCUseTLS",
    "h2ping": "H2PING",
    "h2ping_use_tls": "H2PingUseTLS",
    "tls_server_name": "TLSServerName",
    "tls_skip_verify": "TLSSkipVerify",
    "alias_node": "AliasNode",
    "alias_service": "AliasService",
    "timeout": "Timeout",
    "ttl": "TTL",
    "success_before_passing": "SuccessBeforePassing",
    "failures_before_warning": "FailuresBeforeWarning",
    "failures_before_critical": "FailuresBeforeCritical",
    "deregister_critical_service_after": "DeregisterCriticalServiceAfter",
    "output_max_size": "OutputMaxSize",
    "os_service": "OSService",
    "namespace": "Namespace",
    "partition": "Partition",
}

_SERVICE_API = {
    "kind": "Kind",
    "id": "ID",
    "name": "Name",
    "tags": "Tags",
    "address": "Address",
    "meta": "Meta",
    "port": "Port",
    "socket_path": "SocketPath",
    "enable_tag_override": "EnableTagOverride",
    "token": "Token",
    "proxy": "Proxy",
    "connect": "Connect",
    "namespace": "Namespace",
    "partition": "Partition",
    "locality": "Locality",
}

STATUSES = ("passing", "warning", "critical")


def check_to_api(check: dict[str, Any], where: str) -> dict[str, Any]:
    """Canonical check dict -> API shape; raises ConfigError naming `where` if it is unusable."""
    problems = validate_check(check)
    if problems:
        raise ConfigError(f"{where}: {'; '.join(problems)}")
    out: dict[str, Any] = {}
    for key, value in check.items():
        if key in ("type",) or value is None:
            continue
        out[_CHECK_API[key]] = value
    return out


def validate_check(check: dict[str, Any]) -> list[str]:
    """Consul's CheckType.Validate rules, on a canonical check dict."""
    problems: list[str] = []
    if check.get("script"):
        problems.append("'script' is no longer supported; use 'args' instead")
    interval = parse_duration(check["interval"]) if check.get("interval") else 0.0
    ttl = parse_duration(check["ttl"]) if check.get("ttl") else 0.0
    is_script = bool(check.get("args"))
    interval_check = is_script or any(check.get(k) for k in ("http", "tcp", "udp", "grpc", "h2ping", "os_service"))
    alias = bool(check.get("alias_service") or check.get("alias_node"))
    if check.get("docker_container_id") and not is_script:
        problems.append("Docker checks need 'args'")
    if interval > 0 and ttl > 0:
        problems.append("Interval and TTL cannot both be specified")
    elif interval_check and interval <= 0:
        problems.append("Interval must be > 0 for Script, HTTP, H2PING, TCP or UDP checks")
    elif alias and ttl > 0:
        problems.append("TTL must be not set for Alias checks")
    elif not interval_check and not alias and ttl <= 0:
        problems.append("TTL must be > 0 for TTL checks")
    status = check.get("status")
    if status and status not in STATUSES:
        problems.append(f"Status must be one of passing, warning or critical, not {status!r}")
    if (check.get("output_max_size") or 0) < 0:
        problems.append("MaxOutputMaxSize must be positive")
    return problems


def service_to_api(service: dict[str, Any], where: str) -> dict[str, Any]:
    """Canonical service dict -> API shape. `check`+`checks` become one `Checks` list."""
    if not service.get("name"):
        raise ConfigError(f"{where}: service name cannot be empty")
    out: dict[str, Any] = {}
    for key, value in service.items():
        if value is None or key in ("check", "checks", "weights", "tagged_addresses"):
            continue
        out[_SERVICE_API[key]] = value
    if "tagged_addresses" in service and service["tagged_addresses"] is not None:
        out["TaggedAddresses"] = {
            k: {"Address": v.get("address", ""), "Port": v.get("port", 0)}
            for k, v in service["tagged_addresses"].items()
        }
    if service.get("weights") is not None:
        w = service["weights"]
        out["Weights"] = {"Passing": w.get("passing", 1), "Warning": w.get("warning", 1)}
    checks = ([service["check"]] if service.get("check") else []) + list(service.get("checks") or [])
    if checks:
        out["Checks"] = [check_to_api(c, f"{where}: check {i}") for i, c in enumerate(checks)]
    return out


def decode_definition(raw: Any, kind: str, where: str) -> dict[str, Any]:
    """Decode one raw service/check definition (HTTP API body or config) to the API shape."""
    errors: list[str] = []
    spec = SERVICE if kind == "service" else CHECK
    canonical = decode(raw, spec, "", errors)
    if errors:
        raise ConfigError(f"{where}: {multi_error(errors)}")
    if kind == "service":
        return service_to_api(canonical, where)
    return check_to_api(canonical, where)


def service_check_definitions(service: dict[str, Any]) -> list[dict[str, Any]]:
    """The API-shape checks of an API-shape service, with Consul's ids, names and ServiceID.

    Ids: an explicit CheckID wins; else `service:<id>` for a single check, `service:<id>:<n>`
    (n from 1) when the service has several. Name defaults to "Service '<name>' check".
    """
    sid = service.get("ID") or service["Name"]
    checks = list(service.get("Checks") or [])
    if service.get("Check"):
        checks.insert(0, service["Check"])
    out = []
    for n, chk in enumerate(checks, start=1):
        c = dict(chk)
        if not c.get("CheckID"):
            c["CheckID"] = c.pop("ID", None) or (f"service:{sid}" if len(checks) == 1 else f"service:{sid}:{n}")
        c.setdefault("Name", f"Service '{service['Name']}' check")
        if not c["Name"]:
            c["Name"] = f"Service '{service['Name']}' check"
        c["ServiceID"] = sid
        c.setdefault("ServiceName", service["Name"])
        out.append(c)
    return out


def top_level_check(check: dict[str, Any]) -> dict[str, Any]:
    """A stand-alone API-shape check with its CheckID defaulted to its Name, as Consul does."""
    c = dict(check)
    if not c.get("CheckID"):
        c["CheckID"] = c.pop("ID", None) or c.get("Name", "")
    return c
