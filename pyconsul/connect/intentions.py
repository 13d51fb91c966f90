"""Intentions as a view over `service-intentions` config entries (pure).

One entry per destination (`Name`), with a `Sources` list; an intention is one (source,
destination) pair of it. Rules kept here, as Consul's:
- Names are exact or `*`; a partial wildcard (`web*`) is refused.
- Precedence (no namespaces: every namespace is `default`): exact→exact 9, `*`→exact 8,
  exact→`*` 6, `*`→`*` 5. Order: higher precedence first, then SourceNS, SourceName,
  DestinationNS, DestinationName.
- A decision takes the first intention in that order whose source and destination match; an
  intention with L7 `Permissions` counts as deny; no match falls to the default (allow unless ACLs
  are on with default_policy deny).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

Row = dict[str, Any]

KIND = "service-intentions"
DEFAULT_NS = "default"
WILDCARD = "*"


class IntentionError(ValueError):
    """An intention the API refuses; the text is Consul's."""


def validate_name(name: str, what: str) -> None:
    if not name:
        raise IntentionError(f"{what} name must be set")
    if WILDCARD in name and name != WILDCARD:
        raise IntentionError("wildcard character '*' cannot be used with partial values")


def validate_action(action: Any) -> str:
    if action not in ("allow", "deny"):
        raise IntentionError("Action must be set to 'allow' or 'deny'")
    return str(action)


def validate_source_type(kind: Any) -> str:
    if kind in (None, ""):
        return "consul"
    if kind != "consul":
        raise IntentionError("SourceType must be set to 'consul'")
    return "consul"


def precedence(source: str, destination: str) -> int:
    top = 9 if destination != WILDCARD else 6
    exact_parts = 1 + (1 if source != WILDCARD else 0)  # the namespace is always exact here
    return top - (2 - exact_parts)


def sort_key(ixn: Row) -> tuple[int, str, str, str, str]:
    return (-int(ixn["Precedence"]), ixn["SourceNS"], ixn["SourceName"], ixn["DestinationNS"],
            ixn["DestinationName"])


def describe(ixn: Row) -> str:
    """api.Intention.String: `web => socat (deny)` (the default namespace left out)."""
    return f"{ixn['SourceName']} => {ixn['DestinationName']} ({ixn.get('Action') or 'L7'})"


def describe_full(ixn: Row) -> str:
    """structs.Intention.String, as authorize's reason shows a match."""
    id_part = f"ID: {ixn['ID']}, " if ixn.get("ID") else ""
    perms = ixn.get("Permissions") or []
    detail = f"Permissions: {len(perms)}" if perms else f"Action: {str(ixn.get('Action', '')).upper()}"
    return f"{ixn['SourceName']} => {ixn['DestinationName']} ({id_part}Precedence: {ixn['Precedence']}, {detail})"


# -- entries ↔ intentions ----------------------------------------------------------------------------
def source_row(source: str, action: str | None, description: str = "", permissions: list[Row] | None = None,
               legacy: Row | None = None) -> Row:
    """One element of an entry's `Sources`."""
    row: Row = {"Name": source, "Type": "consul"}
    if permissions:
        row["Permissions"] = permissions
    else:
        row["Action"] = action
    if description:
        row["Description"] = description
    row.update(legacy or {})
    return row


def intentions_of(entry: Row) -> list[Row]:
    """The intentions one `service-intentions` entry holds, in Consul's API shape."""
    dest = str(entry["Name"])
    out = []
    for src in entry.get("Sources") or []:
        name = str(src.get("Name", ""))
        ixn: Row = {}
        if src.get("LegacyID"):
            ixn["ID"] = src["LegacyID"]
        ixn.update({
            "Description": src.get("Description", ""),
            "SourceNS": src.get("Namespace") or DEFAULT_NS,
            "SourceName": name,
            "DestinationNS": entry.get("Namespace") or DEFAULT_NS,
            "DestinationName": dest,
            "SourceType": src.get("Type") or "consul",
        })
        if src.get("Permissions"):
            ixn["Permissions"] = src["Permissions"]
        else:
            ixn["Action"] = src.get("Action", "")
        # A legacy-created source keeps its own Meta; the others show the entry's.
        ixn["Meta"] = dict((src.get("LegacyMeta") if src.get("LegacyID") else entry.get("Meta")) or {})
        ixn["Precedence"] = precedence(name, dest)
        if src.get("LegacyCreateTime"):
            ixn["CreatedAt"] = src["LegacyCreateTime"]
        if src.get("LegacyUpdateTime"):
            ixn["UpdatedAt"] = src["LegacyUpdateTime"]
        ixn["CreateIndex"] = entry.get("CreateIndex", 0)
        ixn["ModifyIndex"] = entry.get("ModifyIndex", 0)
        out.append(ixn)
    return out


def all_intentions(entries: Iterable[Row]) -> list[Row]:
    out = [ixn for entry in entries for ixn in intentions_of(entry)]
    out.sort(key=sort_key)
    return out


def with_source(entry: Row | None, destination: str, source: Row) -> Row:
    """The entry for `destination` with `source` added, or replacing the one of the same name."""
    base: Row = dict(entry) if entry else {"Kind": KIND, "Name": destination}
    sources = [s for s in base.get("Sources") or [] if s.get("Name") != source["Name"]]
    # Stored like Consul's (and the /v1/config endpoints') entries: each source keeps its precedence.
    sources.append({**source, "Precedence": precedence(str(source["Name"]), destination)})
    sources.sort(key=lambda s: (-precedence(str(s["Name"]), destination), str(s["Name"])))
    base["Sources"] = sources
    for k in ("CreateIndex", "ModifyIndex"):
        base.pop(k, None)
    return base


def without_source(entry: Row, source: str) -> Row | None:
    """The entry without `source`; None when nothing is left (the entry is deleted)."""
    sources = [s for s in entry.get("Sources") or [] if s.get("Name") != source]
    if not sources:
        return None
    base = {k: v for k, v in entry.items() if k not in ("CreateIndex", "ModifyIndex")}
    base["Sources"] = sources
    return base


def find_source(entry: Row | None, source: str) -> Row | None:
    for s in (entry or {}).get("Sources") or []:
        if s.get("Name") == source:
            return dict(s)
    return None


@dataclass(frozen=True)
class Located:
    destination: str
    source: str
    row: Row


def find_legacy(entries: Iterable[Row], legacy_id: str) -> Located | None:
    for entry in entries:
        for s in entry.get("Sources") or []:
            if s.get("LegacyID") == legacy_id:
                return Located(str(entry["Name"]), str(s["Name"]), dict(s))
    return None


# -- matching and deciding ---------------------------------------------------------------------------
def matches(intentions: Iterable[Row], by: str, name: str) -> list[Row]:
    """`/v1/connect/intentions/match`: the intentions that apply to `name` as a source or a
    destination, in evaluation order."""
    field = "SourceName" if by == "source" else "DestinationName"
    out = [ixn for ixn in intentions if ixn[field] in (name, WILDCARD)]
    out.sort(key=sort_key)
    return out


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    matched: Row | None = None


DEFAULT_REASON = "Default behavior configured by ACLs"


def decide(intentions: Iterable[Row], source: str, destination: str, default_allow: bool) -> Decision:
    for ixn in matches(intentions, "destination", destination):
        if ixn["SourceName"] not in (source, WILDCARD):
            continue
        if ixn.get("Permissions"):
            return Decision(False, f"Matched L7 intention: {describe_full(ixn)}", ixn)
        return Decision(ixn.get("Action") == "allow", f"Matched L4 intention: {describe_full(ixn)}", ixn)
    return Decision(default_allow, DEFAULT_REASON)
