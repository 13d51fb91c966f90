"""Rendering a prepared query template for the name it was asked by (pure).

Rules (Consul's name_prefix_match templates):
- `${name.full}` is the whole name asked, `${name.prefix}` the template's own name, and
  `${name.suffix}` what follows it; `${match(N)}` is group N of the template's `Regexp` matched
  against the full name (RE2; no match or no such group: ""); `${agent.segment}` is "".
- Every string in the query's `Service` part is interpolated (names, tags, meta values, Near,
  failover datacenters); `RemoveEmptyTags` then drops tags that came out empty.
- An unknown `${...}` variable is an error, as in Consul's HIL evaluation.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import re2

Row = dict[str, Any]

_VAR = re.compile(r"\$\{\s*([^}]*?)\s*\}")
_MATCH = re.compile(r"match\(\s*(\d+)\s*\)$")


class TemplateError(ValueError):
    pass


def _variables(prefix: str, full: str, regexp: str) -> tuple[dict[str, str], list[str]]:
    groups: list[str] = []
    if regexp:
        m = re2.compile(regexp).search(full)
        if m is not None:
            groups = [m.group(0)] + [g or "" for g in m.groups()]
    names = {
        "name.full": full,
        "name.prefix": prefix,
        "name.suffix": full[len(prefix):] if full.startswith(prefix) else "",
        "agent.segment": "",
    }
    return names, groups


def interpolate(text: str, names: dict[str, str], groups: list[str]) -> str:
    def sub(m: re.Match[str]) -> str:
        expr = m.group(1)
        if expr in names:
            return names[expr]
        mm = _MATCH.match(expr)
        if mm is not None:
            n = int(mm.group(1))
            return groups[n] if n < len(groups) else ""
        raise TemplateError(f"Failed to render template: unknown variable accessed: {expr}")

    return _VAR.sub(sub, text)


def _walk(value: Any, names: dict[str, str], groups: list[str]) -> Any:
    if isinstance(value, str):
        return interpolate(value, names, groups)
    if isinstance(value, list):
        return [_walk(v, names, groups) for v in value]
    if isinstance(value, dict):
        return {k: _walk(v, names, groups) for k, v in value.items()}
    return value


def render(query: Row, full_name: str) -> Row:
    """The query as it runs for `full_name`: a template is interpolated, anything else returned
    as it is (a copy)."""
    out = copy.deepcopy(query)
    tmpl = query.get("Template") or {}
    if not tmpl.get("Type"):
        return out
    names, groups = _variables(query.get("Name") or "", full_name, tmpl.get("Regexp") or "")
    out["Service"] = _walk(query["Service"], names, groups)
    if tmpl.get("RemoveEmptyTags") and out["Service"].get("Tags"):
        out["Service"]["Tags"] = [t for t in out["Service"]["Tags"] if t] or None
    return out
