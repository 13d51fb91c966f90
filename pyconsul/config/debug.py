"""The typed config as `agent/self` shows it under DebugConfig: CamelCase keys, secrets hidden.

Consul prints its RuntimeConfig there with secrets replaced by "hidden"; this does the same for
every setting of RuntimeConfig (blocks as nested objects, durations in seconds).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from pyconsul.config.runtime import RuntimeConfig

# Words Consul's Go field names spell in capitals.
_ACRONYMS = {
    "acl": "ACL", "api": "API", "ca": "CA", "cidrs": "CIDRs", "dns": "DNS", "grpc": "GRPC", "http": "HTTP",
    "https": "HTTPS", "id": "ID", "ip": "IP", "ipv4": "IPv4", "ipv6": "IPv6", "kv": "KV", "lan": "LAN",
    "rpc": "RPC", "san": "SAN", "soa": "SOA", "tls": "TLS", "ttl": "TTL", "txt": "TXT", "ui": "UI",
    "url": "URL", "wan": "WAN", "xds": "XDS",
}
# Settings whose value is a secret (shown as "hidden" when set, as Consul does).
_SECRETS = {"encrypt", "acl_master_token", "acl_agent_master_token", "acl_agent_token", "acl_token",
            "acl_replication_token", "circonus_api_token"}
_SECRET_BLOCKS = {"tokens"}  # acl.tokens: every token in it


def camel(key: str) -> str:
    """`verify_incoming_https` -> `VerifyIncomingHTTPS`."""
    return "".join(_ACRONYMS.get(w, w.capitalize()) for w in key.split("_"))


def debug_config(rc: RuntimeConfig) -> dict[str, Any]:
    """Every setting of `rc` by its CamelCase name."""
    return {camel(name): _shown(name, getattr(rc, name)) for name in sorted(RuntimeConfig.setting_names())}


def _shown(name: str, value: Any, secret: bool = False) -> Any:
    if (secret or name in _SECRETS) and isinstance(value, str):
        return "hidden" if value else ""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        inner = secret or name in _SECRET_BLOCKS
        return {camel(f.name): _shown(f.name, getattr(value, f.name), inner) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _shown(str(k), v, secret) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_shown(name, v, secret) for v in value]
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return str(value)  # JSON has no infinity (limits.rpc_rate's default)
    return value
