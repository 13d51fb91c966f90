"""`?merge-central-config`: proxy-defaults and service-defaults folded into a proxy's registration (pure).

Only proxies and gateways change (a typical service has nothing to merge). For a `connect-proxy`
the service-defaults read are its destination's; for a gateway, its own. What the registration
sets always wins over central config; service-defaults win over proxy-defaults:
- `Proxy.Config`: proxy-defaults' `Config`, then service-defaults' `Protocol` as `protocol`, then the
  registration's own keys.
- `Proxy.Mode`, `Proxy.TransparentProxy`, `Proxy.MeshGateway`: the first one set.
- `Proxy.Expose`: `Checks` if any says so; `Paths` of all, the registration's first.
- each upstream's `Config`: its destination's service-defaults `Protocol` as `protocol` and the
  proxy's service-defaults `UpstreamConfig` (Defaults, then the Override naming the upstream) as
  `connect_timeout_ms`, `protocol`, `limits`, `passive_health_check`; its MeshGateway likewise.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from pyconsul.entries.kinds import PROXY_CONFIG_GLOBAL, PROXY_DEFAULTS, SERVICE_DEFAULTS

Row = dict[str, Any]
Lookup = Callable[[str, str], Row | None]

MERGED_KINDS = ("connect-proxy", "mesh-gateway", "ingress-gateway", "terminating-gateway", "api-gateway")
_UPSTREAM_KEYS = (("ConnectTimeoutMs", "connect_timeout_ms"), ("Protocol", "protocol"), ("Limits", "limits"),
                  ("PassiveHealthCheck", "passive_health_check"))


def _first(*values: Any) -> Any:
    for v in values:
        if v:
            return v
    return values[-1] if values else None


def _snake(value: Any) -> Any:
    """UpstreamConfig's nested structs as the proxy reads them (`MaxConnections` → `max_connections`)."""
    if not isinstance(value, dict):
        return value
    out = {}
    for k, v in value.items():
        snake = "".join("_" + ch.lower() if ch.isupper() and i else ch.lower() for i, ch in enumerate(k))
        out[snake] = _snake(v)
    return out


def _upstream_defaults(upstream_config: Row, name: str) -> Row:
    out: Row = {}
    layers = [upstream_config.get("Defaults") or {}]
    layers += [o for o in upstream_config.get("Overrides") or [] if (o or {}).get("Name") == name]
    for layer in layers:
        for camel, snake in _UPSTREAM_KEYS:
            if layer.get(camel):
                out[snake] = _snake(layer[camel])
    return out


def merge_central_config(svc: Row, lookup: Lookup) -> Row:
    """The service row with central config merged in (a copy), or the row itself when nothing applies."""
    if svc.get("Kind") not in MERGED_KINDS:
        return svc
    proxy_defaults = lookup(PROXY_DEFAULTS, PROXY_CONFIG_GLOBAL) or {}
    proxy = dict(svc.get("Proxy") or {})
    dest = proxy.get("DestinationServiceName") if svc["Kind"] == "connect-proxy" else svc.get("Service")
    defaults = lookup(SERVICE_DEFAULTS, dest or "") or {}
    if not proxy_defaults and not defaults and not proxy.get("Upstreams"):
        return svc
    out = copy.deepcopy(svc)
    config = dict(proxy_defaults.get("Config") or {})
    if defaults.get("Protocol"):
        config["protocol"] = defaults["Protocol"]
    config.update(proxy.get("Config") or {})
    merged = dict(proxy)
    if config:
        merged["Config"] = config
    merged["Mode"] = _first(proxy.get("Mode"), defaults.get("Mode"), proxy_defaults.get("Mode"), "")
    for key in ("TransparentProxy", "MeshGateway"):
        value = _first(proxy.get(key), defaults.get(key), proxy_defaults.get(key), {})
        if value or key in proxy:
            merged[key] = value
    expose_parts = [proxy.get("Expose") or {}, defaults.get("Expose") or {}, proxy_defaults.get("Expose") or {}]
    expose: Row = {}
    if any(e.get("Checks") for e in expose_parts):
        expose["Checks"] = True
    paths = [p for e in expose_parts for p in e.get("Paths") or []]
    if paths:
        expose["Paths"] = paths
    merged["Expose"] = expose
    upstream_config = defaults.get("UpstreamConfig") or {}
    ups = []
    for up in proxy.get("Upstreams") or []:
        up = dict(up)
        cfg = _upstream_defaults(upstream_config, up.get("DestinationName") or "")
        dest_defaults = lookup(SERVICE_DEFAULTS, up.get("DestinationName") or "") or {}
        if dest_defaults.get("Protocol"):
            cfg["protocol"] = dest_defaults["Protocol"]
        cfg.update(up.get("Config") or {})
        if cfg:
            up["Config"] = cfg
        gw = (upstream_config.get("Defaults") or {}).get("MeshGateway")
        if not (up.get("MeshGateway") or {}).get("Mode") and gw:
            up["MeshGateway"] = gw
        ups.append(up)
    if ups:
        merged["Upstreams"] = ups
    out["Proxy"] = merged
    return out
