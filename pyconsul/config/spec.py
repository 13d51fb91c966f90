"""Type specs for config keys and the strict decoder that checks a parsed file against them.

The decoder follows Consul's (mapstructure without weak typing): strings must be strings, bools
bools, ints may come as integral floats (JSON numbers), lists must be lists. Keys match
case-insensitively and ignoring underscores ("EnableTagOverride" == "enable_tag_override"), and
each struct may name aliases ("ScriptArgs" -> "args"). HCL blocks arrive as a one-element list of
maps; where a single map is expected that list is unwrapped, as Consul's HookWeakDecodeFromSlice
does. Every problem is collected with its full key path ("services[0].port") instead of stopping
at the first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from pyconsul.durations import parse_duration


@dataclass(frozen=True)
class Scalar:
    kind: str  # "str" | "int" | "bool" | "float" | "dur"


@dataclass(frozen=True)
class ListOf:
    item: Spec


@dataclass(frozen=True)
class MapOf:
    """User-keyed map (node_meta, meta, header): keys are data, kept verbatim."""

    value: Spec


@dataclass(frozen=True)
class Struct:
    fields: dict[str, Spec]
    aliases: dict[str, str] = field(default_factory=dict)

    def lookup(self, key: str) -> str | None:
        """Canonical field name for a key as a user wrote it, or None when unknown."""
        if key in self.fields:
            return key
        folded = fold(key)
        if folded in self.aliases:
            return self.aliases[folded]
        return _folded_index(self).get(folded)


@dataclass(frozen=True)
class AnyValue:
    """A subtree kept as written (subsystems not built yet validate it themselves)."""


Spec = Scalar | ListOf | MapOf | Struct | AnyValue

STR = Scalar("str")
INT = Scalar("int")
BOOL = Scalar("bool")
FLOAT = Scalar("float")
DUR = Scalar("dur")
ANY = AnyValue()
STR_LIST = ListOf(STR)
STR_MAP = MapOf(STR)

_FOLD_CACHE: dict[int, dict[str, str]] = {}


def fold(key: str) -> str:
    return key.replace("_", "").replace("-", "").lower()


def _folded_index(struct: Struct) -> dict[str, str]:
    idx = _FOLD_CACHE.get(id(struct))
    if idx is None:
        idx = {fold(k): k for k in struct.fields}
        _FOLD_CACHE[id(struct)] = idx
    return idx


def go_type(value: Any) -> str:
    """The Go type name Consul would report for a decoded JSON/HCL value."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, dict):
        return "map[string]interface {}"
    return type(value).__name__


def _want(spec: Spec) -> str:
    if isinstance(spec, Scalar):
        return {"str": "string", "int": "int", "bool": "bool", "float": "float64", "dur": "string"}[spec.kind]
    if isinstance(spec, ListOf):
        return "[]" + _want(spec.item)
    if isinstance(spec, MapOf):
        return "map[string]" + _want(spec.value)
    if isinstance(spec, Struct):
        return "struct"
    return "interface {}"


def _type_error(path: str, spec: Spec, value: Any) -> str:
    shown = str(value).lower() if isinstance(value, bool) else value
    return f"'{path}' expected type '{_want(spec)}', got unconvertible type '{go_type(value)}', value: '{shown}'"


def _unwrap_block(value: Any) -> Any:
    """HCL gives `ports { ... }` as [{...}]: a single-map list stands for the map."""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        return value[0]
    if isinstance(value, list) and not value:
        return {}
    return value


def decode(value: Any, spec: Spec, path: str, errors: list[str]) -> Any:
    """Check `value` against `spec`; return it with struct keys made canonical.

    Problems are appended to `errors` (Consul's wording) and the bad part is dropped.
    """
    if isinstance(spec, AnyValue):
        return value
    if isinstance(spec, Scalar):
        return _decode_scalar(value, spec, path, errors)
    if isinstance(spec, ListOf):
        if isinstance(spec.item, Struct) and isinstance(value, dict):
            value = [value]  # `"checks": {...}` is one definition, as HCL's single block
        if not isinstance(value, list):
            errors.append(f"'{path}': source data must be an array or slice, got {go_type(value)}")
            return None
        out = []
        for i, item in enumerate(value):
            got = decode(item, spec.item, f"{path}[{i}]", errors)
            if got is not None:
                out.append(got)
        return out
    if isinstance(spec, MapOf):
        value = _unwrap_block(value)
        if not isinstance(value, dict):
            errors.append(_type_error(path, spec, value))
            return None
        res: dict[str, Any] = {}
        for k, v in value.items():
            got = decode(v, spec.value, f"{path}[{k}]", errors)
            if got is not None:
                res[str(k)] = got
        return res
    # Struct
    value = _unwrap_block(value)
    if not isinstance(value, dict):
        errors.append(_type_error(path, spec, value))
        return None
    result: dict[str, Any] = {}
    for k, v in value.items():
        name = spec.lookup(str(k))
        sub = f"{path}.{k}" if path else str(k)
        if name is None:
            errors.append(f"invalid config key {sub}")
            continue
        got = decode(v, spec.fields[name], f"{path}.{name}" if path else name, errors)
        if got is None and v is not None:
            continue
        if name in result and isinstance(result[name], list) and isinstance(got, list):
            result[name] = result[name] + got  # `check` and `Check` in one map: keep both
        else:
            result[name] = got
    return result


def _decode_scalar(value: Any, spec: Scalar, path: str, errors: list[str]) -> Any:
    kind = spec.kind
    if value is None:
        return None
    if kind in ("str", "dur"):
        if not isinstance(value, str):
            errors.append(_type_error(path, spec, value))
            return None
        if kind == "dur":
            try:
                parse_duration(value)
            except ValueError as exc:
                errors.append(f"{path}: invalid duration: \"{value}\": {exc}")
                return None
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            errors.append(_type_error(path, spec, value))
            return None
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            errors.append(_type_error(path, spec, value))
            return None
        return int(value)
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            errors.append(_type_error(path, spec, value))
            return None
        return float(value)
    raise AssertionError(kind)
