"""Decoding a config entry body: Consul's field names from either spelling, data maps kept as written.

`consul config write` takes HCL or JSON with `snake_case` or `CamelCase` keys, as the HTTP API does
(Consul translates keys and then matches fields case-insensitively). Every structural key is
matched, ignoring case and underscores, against the field names below; keys *inside* a data map
(Meta, Config, header maps, Subsets' and Failover's names) are user data and stay as they are,
while the values of Subsets/Failover are structs and are decoded in turn. An HCL block arrives
as a list of one object and is unwrapped.
"""

from __future__ import annotations

from typing import Any

Row = dict[str, Any]

FIELDS = (
    "Kind", "Name", "Namespace", "Partition", "Meta", "Protocol", "Mode", "TransparentProxy",
    "OutboundListenerPort", "DialedDirectly", "MeshGateway", "Expose", "Checks", "Paths", "ListenerPort",
    "Path", "LocalPathPort", "ExternalSNI", "UpstreamConfig", "Overrides", "Defaults", "ConnectTimeoutMs",
    "Limits", "MaxConnections", "MaxPendingRequests", "MaxConcurrentRequests", "PassiveHealthCheck",
    "Interval", "MaxFailures", "EnforcingConsecutive5xx", "Destination", "Addresses", "Port",
    "MaxInboundConnections", "LocalConnectTimeoutMs", "LocalRequestTimeoutMs", "BalanceInboundConnections",
    "EnvoyExtensions", "Config", "AccessLogs", "FailoverPolicy", "DefaultSubset", "Subsets", "Filter",
    "OnlyPassing", "Redirect", "Service", "ServiceSubset", "Datacenter", "Peer", "SamenessGroup", "Failover",
    "Datacenters", "Targets", "ConnectTimeout", "RequestTimeout", "LoadBalancer", "Policy", "RingHashConfig",
    "MinimumRingSize", "MaximumRingSize", "LeastRequestConfig", "ChoiceCount", "HashPolicies", "Field",
    "FieldValue", "CookieConfig", "Session", "TTL", "SourceIP", "Terminal", "Routes", "Match", "HTTP",
    "PathExact", "PathPrefix", "PathRegex", "Header", "Present", "Exact", "Prefix", "Suffix", "Regex",
    "Invert", "QueryParam", "Methods", "NumRetries", "RetryOnConnectFailure", "RetryOnStatusCodes", "RetryOn",
    "PrefixRewrite", "RequestHeaders", "ResponseHeaders", "Add", "Set", "Remove", "Splits", "Weight",
    "Listeners", "Services", "Hosts", "TLS", "Enabled", "TLSMinVersion", "TLSMaxVersion", "CipherSuites",
    "SDS", "ClusterName", "CertResource", "CAFile", "CertFile", "KeyFile", "SNI", "Sources", "Action",
    "Precedence", "Type", "Description", "Permissions", "LegacyID", "LegacyMeta", "LegacyCreateTime",
    "LegacyUpdateTime", "JWT", "IdleTimeout", "CreateIndex", "ModifyIndex", "Upstreams", "MutualTLSMode",
    "RateLimits", "PrioritizeByLocality",
)
_BY_KEY = {f.lower(): f for f in FIELDS}
# Fields whose value is a map of user data (keys and values kept as written).
DATA_MAPS = frozenset({"Meta", "Config", "Add", "Set", "LegacyMeta"})
# Fields whose value maps user-chosen names to structs.
NAMED_STRUCTS = frozenset({"Subsets", "Failover"})


def field_name(key: str) -> str | None:
    return _BY_KEY.get(key.replace("_", "").replace("-", "").lower())


def unwrap(value: Any) -> Any:
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        return value[0]
    return value


def decode_struct(raw: Any) -> Any:
    """A struct's keys in Consul's spelling (unknown keys are kept: validation names them)."""
    raw = unwrap(raw)
    if not isinstance(raw, dict):
        return raw
    out: Row = {}
    for key, value in raw.items():
        name = field_name(str(key)) or str(key)
        out[name] = decode_value(name, value)
    return out


def decode_value(name: str, value: Any) -> Any:
    if name in DATA_MAPS:
        return unwrap(value)
    if name in NAMED_STRUCTS:
        value = unwrap(value)
        if isinstance(value, dict):
            return {str(k): decode_struct(v) for k, v in value.items()}
        return value
    if isinstance(value, list):
        if value and all(isinstance(v, dict) for v in value) and name not in _LIST_FIELDS:
            return decode_struct(value)  # an HCL block (a list of one object)
        return [decode_struct(v) if isinstance(v, dict) else v for v in value]
    if isinstance(value, dict):
        return decode_struct(value)
    return value


# Fields that hold lists of structs (never unwrapped as a single block).
_LIST_FIELDS = frozenset({"Routes", "Splits", "Listeners", "Services", "Hosts", "Sources", "Permissions", "Paths",
                          "HashPolicies", "Targets", "Overrides", "EnvoyExtensions", "Datacenters", "Methods",
                          "Header", "QueryParam", "RetryOn", "RetryOnStatusCodes", "Remove", "CipherSuites",
                          "Upstreams"})
