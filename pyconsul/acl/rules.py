"""Consul's ACL rule language: HCL or JSON text in, a validated `Rules` value out.

Labeled resources take a segment and have a `_prefix` form (`key "a/b"`, `key_prefix "a/"`);
unlabeled ones are one attribute each (`operator = "read"`). Dispositions are read, write and
deny, plus list on keys (list governs key listing only with acl.enable_key_list_policy). `service` rules also take `intentions`. Both of Consul's spellings are
read: HCL blocks, and JSON objects (`{"key_prefix": {"a/": {"policy": "write"}}}`, where the
segment map may also be a list of one-entry maps as HCL1's JSON form writes it).

Errors are RulesError with a text saying what is wrong and where; the HTTP layer answers them
400 `Failed to parse ACL rules: <text>`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pyconsul.acl import hcl

LABELED = ("agent", "event", "key", "node", "query", "service", "session")
UNLABELED = ("acl", "keyring", "mesh", "operator", "peering")
ENTERPRISE_ONLY = ("partition", "partition_prefix", "namespace", "namespace_prefix")
DISPOSITIONS = ("read", "write", "deny")
KEY_DISPOSITIONS = ("read", "write", "deny", "list")
MAX_SEGMENT = 1024


class RulesError(ValueError):
    pass


@dataclass(frozen=True)
class Rule:
    """One labeled rule. `policy` may be "" only on a service rule that sets `intentions`."""

    resource: str  # one of LABELED
    segment: str
    prefix: bool
    policy: str
    intentions: str = ""


@dataclass(frozen=True)
class Rules:
    labeled: tuple[Rule, ...] = ()
    unlabeled: tuple[tuple[str, str], ...] = ()  # (resource, disposition), in written order


def parse_rules(text: str) -> Rules:
    """Parse rule text (HCL, or JSON when it starts with '{' and decodes as JSON)."""
    if not isinstance(text, str):
        raise RulesError("rules must be a string")
    stripped = text.strip()
    if not stripped:
        return Rules()
    if stripped.startswith("{"):
        # HCL never starts with '{', so this is the JSON form.
        if len(stripped) > hcl.MAX_TEXT:
            raise RulesError(f"rules are longer than {hcl.MAX_TEXT} bytes")
        try:
            doc = json.loads(stripped)
        except ValueError as exc:
            raise RulesError(f"invalid JSON rules: {exc}") from None
        return _from_json(doc)
    try:
        items = hcl.parse(text)
    except hcl.HCLError as exc:
        raise RulesError(str(exc)) from None
    return _from_hcl(items)


# -- HCL -----------------------------------------------------------------------------------------
def _from_hcl(items: tuple[hcl.Item, ...]) -> Rules:
    labeled: list[Rule] = []
    unlabeled: list[tuple[str, str]] = []
    for item in items:
        name = item.name.lower()
        where = f"line {item.line}"
        if name in UNLABELED:
            if item.labels or not isinstance(item.value, str):
                raise RulesError(f"{where}: {name} takes a single value: {name} = \"read\"")
            unlabeled.append((name, _disposition(name, item.value, DISPOSITIONS)))
            continue
        resource, prefix = _labeled_name(name, where)
        if isinstance(item.value, str):
            raise RulesError(f"{where}: {name} needs a segment and a block: {name} \"name\" {{ policy = \"read\" }}")
        if len(item.labels) == 1:
            labeled.append(_rule(resource, prefix, item.labels[0], _attrs(item.value, where), where))
        elif not item.labels:
            # HCL1 object form: key_prefix = { "a/" = { policy = "read" } } or key_prefix { "a/" { … } }
            for inner in item.value:
                if inner.labels or isinstance(inner.value, str):
                    raise RulesError(f"line {inner.line}: expected \"segment\" {{ policy = … }} in {name}")
                labeled.append(_rule(resource, prefix, inner.name, _attrs(inner.value, where), f"line {inner.line}"))
        else:
            raise RulesError(f"{where}: {name} takes exactly one segment, got {len(item.labels)}")
    return Rules(tuple(labeled), tuple(unlabeled))


def _attrs(body: tuple[hcl.Item, ...], where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for attr in body:
        if attr.labels or not isinstance(attr.value, str):
            raise RulesError(f"line {attr.line}: {attr.name} must be a string attribute")
        out[attr.name.lower()] = attr.value
    return out


# -- JSON ----------------------------------------------------------------------------------------
def _from_json(doc: Any) -> Rules:
    if not isinstance(doc, dict):
        raise RulesError("JSON rules must be an object")
    labeled: list[Rule] = []
    unlabeled: list[tuple[str, str]] = []
    for raw_name, value in doc.items():
        name = str(raw_name).lower()
        where = f"{raw_name!r}"
        if name in UNLABELED:
            if not isinstance(value, str):
                raise RulesError(f"{where}: {name} takes a single string value")
            unlabeled.append((name, _disposition(name, value, DISPOSITIONS)))
            continue
        resource, prefix = _labeled_name(name, where)
        maps = value if isinstance(value, list) else [value]
        for segments in maps:
            if not isinstance(segments, dict):
                raise RulesError(f"{where}: expected an object of segments")
            for segment, attrs in segments.items():
                if not isinstance(attrs, dict) or not all(isinstance(v, str) for v in attrs.values()):
                    raise RulesError(f"{where} {segment!r}: expected {{\"policy\": \"read\"}}")
                labeled.append(_rule(resource, prefix, str(segment), {k.lower(): v for k, v in attrs.items()}, where))
    if len(labeled) + len(unlabeled) > hcl.MAX_ITEMS:
        raise RulesError(f"rules hold more than {hcl.MAX_ITEMS} items")
    return Rules(tuple(labeled), tuple(unlabeled))


# -- shared validation ---------------------------------------------------------------------------
def _labeled_name(name: str, where: str) -> tuple[str, bool]:
    prefix = name.endswith("_prefix")
    resource = name[: -len("_prefix")] if prefix else name
    if resource in LABELED:
        return resource, prefix
    if name in ENTERPRISE_ONLY:
        raise RulesError(f"{where}: {name} rules need Consul Enterprise (admin partitions and namespaces)")
    raise RulesError(f"{where}: unknown ACL resource {name!r}")


def _rule(resource: str, prefix: bool, segment: str, attrs: dict[str, str], where: str) -> Rule:
    kind = f"{resource}_prefix" if prefix else resource
    if len(segment) > MAX_SEGMENT:
        raise RulesError(f"{where}: {kind} segment is longer than {MAX_SEGMENT} characters")
    unknown = set(attrs) - ({"policy", "intentions"} if resource == "service" else {"policy"})
    if unknown:
        raise RulesError(f"{where}: unknown attribute {sorted(unknown)[0]!r} in {kind} {segment!r}")
    policy = attrs.get("policy", "")
    intentions = attrs.get("intentions", "")
    if intentions:
        intentions = _disposition(f"{kind} {segment!r} intentions", intentions, DISPOSITIONS)
    if policy or not intentions:
        allowed = KEY_DISPOSITIONS if resource == "key" else DISPOSITIONS
        policy = _disposition(f"{kind} {segment!r}", policy, allowed)
    return Rule(resource, segment, prefix, policy, intentions)


def _disposition(what: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise RulesError(f"Invalid {what} policy: {value!r} (want one of {', '.join(allowed)})")
    return value
