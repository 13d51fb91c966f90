"""consul-template's pure helper functions (no Consul data): byTag, toJSON, split, join…

Argument order follows consul-template so pipelines read the same: `{{ .Tags | join "," }}`
calls join(",", tags); `{{ .Tags | contains "web" }}` calls contains("web", tags).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import math
import re
from collections.abc import Callable
from typing import Any

from pyconsul.gocompat.strconv import parse_bool as go_parse_bool
from pytemplate import model
from pytemplate.gotmpl.values import MISSING, ValueError_, format_float, sorted_items


def to_plain(v: Any) -> Any:
    """Data as JSON-able Python: dataclasses become dicts in field order."""
    if v is MISSING:
        return None
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {f.name: to_plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
    if isinstance(v, dict):
        return {str(k): to_plain(x) for k, x in sorted_items(v)}
    if isinstance(v, (list, tuple)):
        return [to_plain(x) for x in v]
    return v


def _go_json_float(f: float) -> str:
    if math.isnan(f) or math.isinf(f):
        raise ValueError_(f"json: unsupported value: {format_float(f)}")
    a = abs(f)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        s = format_float(f, "g", -1)
        return re.sub(r"e([+-])0(\d)$", r"e\1\2", s)
    return format_float(f, "f", -1)


def go_json(v: Any, indent: str | None = None, escape_html: bool = True, level: int = 0) -> str:
    """encoding/json's Marshal / MarshalIndent output for plain data."""
    v = to_plain(v) if level == 0 else v
    nl = "\n" + (indent or "") * (level + 1) if indent is not None else ""
    end = "\n" + (indent or "") * level if indent is not None else ""
    colon = ": " if indent is not None else ":"
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _go_json_float(v)
    if isinstance(v, str):
        s = json.dumps(v, ensure_ascii=False)
        if escape_html:
            s = s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        return s.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if isinstance(v, list):
        if not v:
            return "[]"
        return "[" + ",".join(nl + go_json(x, indent, escape_html, level + 1) for x in v) + end + "]"
    if isinstance(v, dict):
        if not v:
            return "{}"
        parts = [nl + go_json(str(k), None, escape_html) + colon + go_json(x, indent, escape_html, level + 1)
                 for k, x in v.items()]
        return "{" + ",".join(parts) + end + "}"
    raise ValueError_(f"json: unsupported type: {type(v).__name__}")


def parse_json(s: str) -> Any:
    if not s:
        return {}
    try:
        return json.loads(s, parse_int=float)
    except json.JSONDecodeError as exc:
        raise ValueError_(f"parseJSON: {exc}") from None


def parse_json_native(s: str) -> Any:
    """parseJSON for Jinja: Python's own number types (80, not Go's float64 80.0)."""
    if not s:
        return {}
    try:
        return json.loads(s)
    except json.JSONDecodeError as exc:
        raise ValueError_(f"parse_json: {exc}") from None


def _tags_of(item: Any) -> list[str]:
    if isinstance(item, model.CatalogService):
        return item.ServiceTags
    tags = getattr(item, "Tags", None)
    if tags is None:
        raise ValueError_(f"byTag: wrong argument type {type(item).__name__}")
    return list(tags)


def by_tag(items: Any) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for item in items or []:
        for tag in _tags_of(item):
            out.setdefault(tag, []).append(item)
    return out


def by_key(pairs: Any) -> dict[str, dict[str, Any]]:
    """Group tree pairs by their first path segment; each copy's Key loses that segment."""
    out: dict[str, dict[str, Any]] = {}
    for pair in pairs or []:
        top, _, rest = pair.Key.partition("/")
        if not rest:
            continue
        out.setdefault(top, {})[rest] = dataclasses.replace(pair, Key=rest)
    return out


def by_port(items: Any) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {}
    for item in items or []:
        out.setdefault(int(getattr(item, "Port", getattr(item, "ServicePort", 0))), []).append(item)
    return out


def explode(pairs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs or []:
        node = out
        parts = [p for p in pair.Key.split("/")]
        for part in parts[:-1]:
            nxt = node.setdefault(part, {})
            if not isinstance(nxt, dict):
                raise ValueError_(f"explode: {pair.Key!r} conflicts with a value")
            node = nxt
        if parts[-1]:
            node[parts[-1]] = pair.Value
    return out


def in_(seq: Any, v: Any) -> bool:
    if isinstance(seq, str):
        return isinstance(v, str) and v in seq
    if isinstance(seq, (list, tuple)):
        for x in seq:
            if type(x) is type(v) and x == v:
                return True
            if isinstance(x, (int, float)) and isinstance(v, (int, float)) and not isinstance(x, bool) \
                    and not isinstance(v, bool) and isinstance(x, float) == isinstance(v, float) and x == v:
                return True
        return False
    return False


def contains(v: Any, seq: Any) -> bool:
    return in_(seq, v)


def _contains_some(ret_true: bool, invert: bool) -> Callable[[Any, Any], bool]:
    def fn(values: Any, seq: Any) -> bool:
        for v in values or []:
            if in_(seq, v) != invert:
                return not ret_true
        return ret_true
    return fn


def join(sep: str, items: Any) -> str:
    if not isinstance(items, (list, tuple)) or not all(isinstance(x, str) for x in items):
        raise ValueError_(f"wrong type for value; expected []string; got {type(items).__name__}")
    return sep.join(items)


def split(sep: str, s: str) -> list[str]:
    s = s.strip()
    if not s:
        return []
    return s.split(sep) if sep else list(s)


def split_to_map(sep1: str, sep2: str, s: str) -> dict[str, str]:
    out: dict[str, str] = {}
    s = s.strip()
    if not s:
        return out
    for part in s.split(sep1):
        if sep2 in part:
            k, _, v = part.partition(sep2)
            out[k] = v
    return out


def replace_all(old: str, new: str, s: str) -> str:
    return s.replace(old, new)


def _go_regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError_(f"error parsing regexp: {exc}") from None


def regex_replace_all(pattern: str, repl: str, s: str) -> str:
    # Go's $1 / ${1} become Python's \g<1>.
    py_repl = re.sub(r"\$\{?(\w+)\}?", r"\\g<\1>", repl.replace("\\", "\\\\"))
    return _go_regex(pattern).sub(py_repl, s)


def regex_match(pattern: str, s: str) -> bool:
    return _go_regex(pattern).search(s) is not None


def indent(spaces: int, s: str) -> str:
    if spaces < 0:
        raise ValueError_("indent value must be a positive integer")
    pad = " " * spaces
    return "\n".join(pad + line if line else line for line in s.split("\n"))


def loop(*args: int) -> list[int]:
    if len(args) == 1:
        return list(range(int(args[0])))
    if len(args) == 2:
        return list(range(int(args[0]), int(args[1])))
    raise ValueError_(f"loop: wrong number of arguments, expected 1 or 2, but got {len(args)}")


def parse_bool(s: str) -> bool:
    if s == "":
        return False  # consul-template's parseBool treats an empty string as false
    try:
        return go_parse_bool(s)
    except ValueError as exc:
        raise ValueError_(f"parseBool: {exc}") from None


def parse_int(s: str) -> int:
    if s == "":
        return 0
    try:
        return int(s.replace("_", ""), 0) if s.strip().lower().startswith(("0x", "0o", "0b")) else int(s, 10)
    except ValueError:
        raise ValueError_(f'parseInt: strconv.ParseInt: parsing "{s}": invalid syntax') from None


def parse_float(s: str) -> float:
    if s == "":
        return 0.0
    try:
        return float(s)
    except ValueError:
        raise ValueError_(f'parseFloat: strconv.ParseFloat: parsing "{s}": invalid syntax') from None


def _arith(name: str, op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def fn(b: Any, a: Any) -> Any:
        for x in (a, b):
            if isinstance(x, bool) or not isinstance(x, (int, float)):
                raise ValueError_(f"{name}: unknown type for {x!r} ({type(x).__name__})")
        if isinstance(a, int) and isinstance(b, int):
            return op(a, b)
        return float(op(float(a), float(b)))
    return fn


def _div(a: Any, b: Any) -> Any:
    if b == 0:
        raise ValueError_("divide: division by 0")
    return a // b if isinstance(a, int) and isinstance(b, int) else a / b


def _mod(a: Any, b: Any) -> Any:
    if b == 0:
        raise ValueError_("modulo: division by 0")
    return int(math.fmod(a, b)) if isinstance(a, int) and isinstance(b, int) else math.fmod(a, b)


def base64_decode(s: str) -> str:
    try:
        return base64.b64decode(s, validate=True).decode("utf-8", "replace")
    except ValueError as exc:
        raise ValueError_(f"base64Decode: {exc}") from None


PURE_GO_FUNCS: dict[str, Callable[..., Any]] = {
    "byKey": by_key, "byPort": by_port, "byTag": by_tag, "contains": contains,
    "containsAll": _contains_some(True, True), "containsAny": _contains_some(False, False),
    "containsNone": _contains_some(True, False), "containsNotAll": _contains_some(False, True),
    "explode": explode, "in": in_, "indent": indent, "loop": loop, "join": join,
    "trim": lambda cutset, s: s.strip(cutset), "trimPrefix": lambda p, s: s.removeprefix(p),
    "trimSuffix": lambda x, s: s.removesuffix(x), "trimSpace": lambda s: s.strip(),
    "parseBool": parse_bool, "parseFloat": parse_float, "parseInt": parse_int, "parseUint": parse_int,
    "parseJSON": parse_json, "regexReplaceAll": regex_replace_all, "regexMatch": regex_match,
    "replaceAll": replace_all, "toLower": lambda s: s.lower(), "toUpper": lambda s: s.upper(),
    "toTitle": lambda s: re.sub(r"(^|\s)(\S)", lambda m: m.group(1) + m.group(2).upper(), s),
    "toJSON": lambda v: go_json(v), "toJSONPretty": lambda v: go_json(v, "  "),
    "toUnescapedJSON": lambda v: go_json(v, escape_html=False),
    "toUnescapedJSONPretty": lambda v: go_json(v, "  ", escape_html=False),
    "split": split, "splitToMap": split_to_map,
    # consul-template's arithmetic takes (b, a) so that `{{ a | subtract b }}` is a - b.
    "add": _arith("add", lambda a, b: a + b), "subtract": _arith("subtract", lambda a, b: a - b),
    "multiply": _arith("multiply", lambda a, b: a * b), "divide": _arith("divide", _div),
    "modulo": _arith("modulo", _mod), "minimum": _arith("minimum", min), "maximum": _arith("maximum", max),
    "base64Encode": lambda s: base64.b64encode(s.encode()).decode(), "base64Decode": base64_decode,
    "base64URLEncode": lambda s: base64.urlsafe_b64encode(s.encode()).decode(),
    "base64URLDecode": lambda s: base64.urlsafe_b64decode(s.encode()).decode("utf-8", "replace"),
    "sha256Hex": lambda s: hashlib.sha256(s.encode()).hexdigest(),
    "md5sum": lambda s: hashlib.md5(s.encode()).hexdigest(),
}


class Scratch:
    """consul-template's per-render scratch pad: `{{ scratch.Set "k" "v" }}{{ scratch.Get "k" }}`."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def Key(self, key: str) -> bool:  # noqa: N802 - template-facing Go names
        return key in self.values

    def Get(self, key: str) -> Any:  # noqa: N802
        return self.values.get(key)

    def Set(self, key: str, value: Any) -> str:  # noqa: N802
        self.values[key] = value
        return ""

    def SetX(self, key: str, value: Any) -> str:  # noqa: N802
        self.values.setdefault(key, value)
        return ""

    def MapSet(self, key: str, mkey: str, value: Any) -> str:  # noqa: N802
        self.values.setdefault(key, {})[mkey] = value
        return ""

    def MapSetX(self, key: str, mkey: str, value: Any) -> str:  # noqa: N802
        self.values.setdefault(key, {}).setdefault(mkey, value)
        return ""

    def MapValues(self, key: str) -> list[Any]:  # noqa: N802
        m = self.values.get(key) or {}
        return [m[k] for k in sorted(m)]
