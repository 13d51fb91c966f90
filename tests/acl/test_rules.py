"""The rule language: both spellings, Consul's examples, and errors that say what is wrong."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyconsul.acl import hcl
from pyconsul.acl.rules import LABELED, UNLABELED, Rule, Rules, RulesError, parse_rules


def test_hcl_blocks_attributes_and_comments() -> None:
    rules = parse_rules(
        """
        # read everything, write one key
        key_prefix "" { policy = "read" }
        key "app/config" { policy = "write" }   // exact
        /* a service and its intentions */
        service "web" {
          policy = "write"
          intentions = "read"
        }
        operator = "read"
        keyring = "deny"
        """
    )
    assert rules.labeled == (
        Rule("key", "", True, "read"),
        Rule("key", "app/config", False, "write"),
        Rule("service", "web", False, "write", "read"),
    )
    assert rules.unlabeled == (("operator", "read"), ("keyring", "deny"))


def test_json_form_as_py_consul_sends_it() -> None:
    # py-consul json-encodes a dict; HCL1's JSON form may wrap segments in a list.
    rules = parse_rules(json.dumps({"key_prefix": {"": {"policy": "read"}}, "node": [{"n1": {"policy": "write"}}], "acl": "write"}))
    assert rules.labeled == (Rule("key", "", True, "read"), Rule("node", "n1", False, "write"))
    assert rules.unlabeled == (("acl", "write"),)


def test_hcl1_object_form() -> None:
    rules = parse_rules('service_prefix = { "" = { policy = "read" } }')
    assert rules.labeled == (Rule("service", "", True, "read"),)


def test_empty_rules_grant_nothing() -> None:
    assert parse_rules("") == Rules()
    assert parse_rules("  # only a comment\n") == Rules()


def test_list_is_only_for_keys_and_intentions_only_for_services() -> None:
    assert parse_rules('key_prefix "a/" { policy = "list" }').labeled[0].policy == "list"
    with pytest.raises(RulesError, match="Invalid service 'web' policy: 'list'"):
        parse_rules('service "web" { policy = "list" }')
    with pytest.raises(RulesError, match="unknown attribute 'intentions' in node"):
        parse_rules('node "n" { policy = "read" intentions = "read" }')
    # intentions alone is a valid service rule (no service access, intentions access only)
    assert parse_rules('service "db" { intentions = "write" }').labeled == (Rule("service", "db", False, "", "write"),)


@pytest.mark.parametrize(
    "text,message",
    [
        ('key "x" { policy = "rw" }', "Invalid key 'x' policy: 'rw'"),
        ('operator = "list"', "Invalid operator policy: 'list'"),
        ('frobnicate "x" { policy = "read" }', "unknown ACL resource 'frobnicate'"),
        ('namespace "x" { policy = "read" }', "need Consul Enterprise"),
        ('key "x" {', "unexpected end of rules"),
        ('key "x" { policy = "read" }}', "line 1: unexpected '}'"),
        ('\n\nkey "x" { polcy = "read" }', "line 3: unknown attribute 'polcy'"),
        ('key "a" "b" { policy = "read" }', "exactly one segment"),
        ('key = "read"', "needs a segment and a block"),
        ('operator "x" { policy = "read" }', "operator takes a single value"),
        ("key @", "unexpected character '@'"),
        ('{"key": 5}', "expected an object of segments"),
        ('{"key": ', "invalid JSON rules"),
        ("[1]", "expected a name"),
    ],
)
def test_errors_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(RulesError, match=re.escape(message)):
        parse_rules(text)


def test_limits_on_size_nesting_and_count() -> None:
    with pytest.raises(RulesError, match="longer than"):
        parse_rules("# " + "x" * hcl.MAX_TEXT)
    with pytest.raises(RulesError, match="nest deeper"):
        parse_rules("a { " * (hcl.MAX_DEPTH + 2) + "}" * (hcl.MAX_DEPTH + 2))
    with pytest.raises(RulesError, match="more than"):
        parse_rules('operator = "read"\n' * (hcl.MAX_ITEMS + 1))
    with pytest.raises(RulesError, match="segment is longer"):
        parse_rules(f'key "{"k" * 2000}" {{ policy = "read" }}')


def test_non_string_rules_are_refused() -> None:
    with pytest.raises(RulesError):
        parse_rules(None)  # type: ignore[arg-type]


# -- property: both spellings of any rule set parse back to it -------------------------------------
_segment = st.text(st.sampled_from("ab/-_.é\"\\ "), max_size=6)


@st.composite
def _rules(draw: st.DrawFn) -> Rules:
    labeled = []
    for _ in range(draw(st.integers(0, 6))):
        resource = draw(st.sampled_from(LABELED))
        policies = ("read", "write", "deny", "list") if resource == "key" else ("read", "write", "deny")
        intentions = draw(st.sampled_from(("", "read", "write", "deny"))) if resource == "service" else ""
        labeled.append(Rule(resource, draw(_segment), draw(st.booleans()), draw(st.sampled_from(policies)), intentions))
    unlabeled = draw(st.lists(st.tuples(st.sampled_from(UNLABELED), st.sampled_from(("read", "write", "deny"))), max_size=3))
    return Rules(tuple(labeled), tuple(unlabeled))


def _hcl(rules: Rules) -> str:
    lines = []
    for r in rules.labeled:
        kind = f"{r.resource}_prefix" if r.prefix else r.resource
        extra = f" intentions = {json.dumps(r.intentions)}" if r.intentions else ""
        lines.append(f"{kind} {json.dumps(r.segment)} {{ policy = {json.dumps(r.policy)}{extra} }}")
    lines += [f"{name} = {json.dumps(level)}" for name, level in rules.unlabeled]
    return "\n".join(lines)


@settings(max_examples=200, deadline=None)
@given(_rules())
def test_hcl_spelling_parses_back(rules: Rules) -> None:
    assert parse_rules(_hcl(rules)) == rules


@settings(max_examples=200, deadline=None)
@given(_rules())
def test_json_spelling_parses_back(rules: Rules) -> None:
    # JSON objects hold each (kind, segment) once and each unlabeled name once, so keep one of each.
    labeled: dict[tuple[str, str], Rule] = {}
    for r in rules.labeled:
        labeled.setdefault((f"{r.resource}_prefix" if r.prefix else r.resource, r.segment), r)
    unlabeled = dict(rules.unlabeled)
    doc: dict[str, object] = {}
    for (kind, segment), r in labeled.items():
        attrs = {"policy": r.policy, **({"intentions": r.intentions} if r.intentions else {})}
        doc.setdefault(kind, {})[segment] = attrs  # type: ignore[index]
    doc.update(unlabeled)
    parsed = parse_rules(json.dumps(doc))
    assert sorted(parsed.labeled, key=repr) == sorted(labeled.values(), key=repr)
    assert dict(parsed.unlabeled) == unlabeled


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_text_parses_or_raises_rules_error(text: str) -> None:
    try:
        parse_rules(text)
    except RulesError:
        pass
