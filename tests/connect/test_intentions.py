"""Intentions over service-intentions entries: precedence, order, matching and decisions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyconsul.connect import intentions as ix

NAMES = ["web", "db", "api", ix.WILDCARD]


def entry(dest: str, *sources: tuple[str, str]) -> dict[str, object]:
    e: dict[str, object] | None = None
    for src, action in sources:
        e = ix.with_source(e, dest, ix.source_row(src, action))
    assert e is not None
    return {**e, "CreateIndex": 4, "ModifyIndex": 5}


def test_precedence_without_namespaces() -> None:
    assert ix.precedence("web", "db") == 9
    assert ix.precedence("*", "db") == 8
    assert ix.precedence("web", "*") == 6
    assert ix.precedence("*", "*") == 5


def test_partial_wildcards_and_bad_actions_are_refused() -> None:
    with pytest.raises(ix.IntentionError, match="wildcard character '\\*' cannot be used with partial values"):
        ix.validate_name("web*", "SourceName")
    with pytest.raises(ix.IntentionError, match="Action must be set to 'allow' or 'deny'"):
        ix.validate_action("maybe")
    with pytest.raises(ix.IntentionError, match="SourceType must be set to 'consul'"):
        ix.validate_source_type("external")


def test_api_shape_and_string() -> None:
    (row,) = ix.intentions_of(entry("socat", ("web", "deny")))
    assert row == {"Description": "", "SourceNS": "default", "SourceName": "web", "DestinationNS": "default",
                   "DestinationName": "socat", "SourceType": "consul", "Action": "deny", "Meta": {},
                   "Precedence": 9, "CreateIndex": 4, "ModifyIndex": 5}
    assert ix.describe(row) == "web => socat (deny)"
    assert ix.describe_full(row) == "web => socat (Precedence: 9, Action: DENY)"


def test_remove_the_last_source_removes_the_entry() -> None:
    e = entry("db", ("web", "allow"), ("api", "deny"))
    left = ix.without_source(e, "web")
    assert left is not None and [s["Name"] for s in left["Sources"]] == ["api"]
    assert ix.without_source(left, "api") is None


def test_l7_intention_counts_as_deny() -> None:
    e = ix.with_source(None, "db", ix.source_row("web", None, permissions=[{"Action": "allow"}]))
    d = ix.decide(ix.intentions_of(e), "web", "db", default_allow=True)
    assert not d.allowed and d.reason.startswith("Matched L7 intention: web => db (Precedence: 9, Permissions: 1)")


pairs = st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(NAMES), st.sampled_from(["allow", "deny"])),
                 max_size=10, unique_by=lambda t: (t[0], t[1]))


@given(pairs, st.sampled_from(NAMES[:3]), st.sampled_from(NAMES[:3]), st.booleans())
def test_the_most_specific_matching_intention_decides(
        rules: list[tuple[str, str, str]], src: str, dst: str, default_allow: bool) -> None:
    entries: dict[str, dict[str, object]] = {}
    for s, d, action in rules:
        entries[d] = ix.with_source(entries.get(d), d, ix.source_row(s, action))
    rows = ix.all_intentions(entries.values())
    assert rows == sorted(rows, key=ix.sort_key)
    decision = ix.decide(rows, src, dst, default_allow)
    # By hand: exact→exact beats *→exact beats exact→* beats *→*.
    expected = default_allow
    for s, d in ((src, dst), ("*", dst), (src, "*"), ("*", "*")):
        hit = [a for rs, rd, a in rules if (rs, rd) == (s, d)]
        if hit:
            expected = hit[0] == "allow"
            break
    assert decision.allowed is expected
    if decision.matched is None:
        assert decision.reason == "Default behavior configured by ACLs"


def test_match_by_source_and_destination() -> None:
    rows = ix.all_intentions([entry("db", ("web", "allow"), ("*", "deny")), entry("*", ("web", "deny"))])
    assert [(r["SourceName"], r["DestinationName"]) for r in ix.matches(rows, "destination", "db")] == [
        ("web", "db"), ("*", "db"), ("web", "*")]  # a wildcard destination applies to db too
    assert [(r["SourceName"], r["DestinationName"]) for r in ix.matches(rows, "source", "web")] == [
        ("web", "db"), ("*", "db"), ("web", "*")]
