"""Service definitions from Consul config files (JSON or HCL) in the agent API's JSON shape.

`consul services register web.hcl` reads `service { ... }` / `services = [...]` blocks written with
Consul's snake_case config keys and sends `PUT /v1/agent/service/register` bodies, which use the
API's CamelCase names. Pure: text in, dicts out.
"""

from __future__ import annotations

import json
from typing import Any

# Words Consul spells in capitals inside CamelCase names.
_ACRONYMS = {"id": "ID", "http": "HTTP", "https": "HTTPS", "tcp": "TCP", "udp": "UDP", "ttl": "TTL",
             "grpc": "GRPC", "tls": "TLS", "h2ping": "H2PING", "url": "URL", "dns": "DNS", "ip": "IP"}
# Keys whose own keys are user data and must be left as written.
_OPAQUE = {"Meta", "Header", "NodeMeta"}
_RENAMES = {"CheckId": "CheckID"}
# Singular blocks: HCL gives a list of one dict for `name { ... }`; the API wants the dict.
_SINGULAR = {"Check", "Meta", "Weights", "Connect", "Proxy", "SidecarService", "Header",
             "TaggedAddresses", "Expose", "Upstreams"}


class ServiceFileError(ValueError):
    pass


def camel(key: str) -> str:
    if not key or key[0].isupper():
        return key
    parts = key.split("_")
    return "".join(_ACRONYMS.get(p, p[:1].upper() + p[1:]) for p in parts)


def _strip_quotes(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def to_api(value: Any, parent: str = "") -> Any:
    """Config-file keys → API keys, recursively; user data maps (Meta, Header) kept verbatim."""
    if isinstance(value, list):
        return [to_api(v, parent) for v in value]
    if not isinstance(value, dict):
        return _strip_quotes(value)
    out: dict[str, Any] = {}
    for k, v in value.items():
        if k == "__is_block__":
            continue
        name = camel(k)
        name = _RENAMES.get(name, name)
        if parent == "Check" or parent == "Checks":
            name = "CheckID" if name == "ID" else name
        if name in _SINGULAR and name != "Upstreams" and isinstance(v, list) and len(v) == 1 \
                and isinstance(v[0], dict):
            v = v[0]
        if name in _OPAQUE and isinstance(v, dict):
            out[name] = {str(mk): _strip_quotes(mv) if not isinstance(mv, dict) else mv
                         for mk, mv in v.items() if mk != "__is_block__"}
        elif name == "TaggedAddresses" and isinstance(v, dict):
            out[name] = {tk: to_api(tv, name) for tk, tv in v.items() if tk != "__is_block__"}
        else:
            out[name] = to_api(v, name)
    return out


def parse_config_text(text: str, path: str) -> dict[str, Any]:
    if path.endswith(".hcl"):
        import hcl2

        try:
            opts_cls = getattr(hcl2, "SerializationOptions", None)
            if opts_cls is not None:
                data = hcl2.loads(text, serialization_options=opts_cls(
                    strip_string_quotes=True, explicit_blocks=False, with_comments=False))
            else:
                data = hcl2.loads(text)
        except Exception as exc:  # python-hcl2 raises several lark error types
            raise ServiceFileError(f"Error parsing {path}: {exc}") from None
    else:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ServiceFileError(f"Error parsing {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ServiceFileError(f"Error parsing {path}: top level must be an object")
    return data


def services_from_config(data: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[Any] = []
    for key in ("service", "Service"):
        v = data.get(key)
        if v is not None:
            found.extend(v if isinstance(v, list) else [v])
    for key in ("services", "Services"):
        v = data.get(key)
        if v is not None:
            found.extend(v if isinstance(v, list) else [v])
    out = []
    for svc in found:
        if not isinstance(svc, dict):
            raise ServiceFileError("service definition must be an object")
        out.append(to_api(svc))
    return out


def services_from_files(paths: list[str]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise ServiceFileError(f"Error reading {path}: {exc.strerror or exc}") from None
        result.extend(services_from_config(parse_config_text(text, path)))
    return result
