"""The list filters as properties: whatever the rules, a filtered list keeps exactly the rows the
token may read (node and service both, where a row names both), and says so when it dropped any."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from pyconsul.acl.authorizer import token_authorizer
from pyconsul.acl.resolver import Identity
from pyconsul.acl.rules import Rule, Rules
from pyconsul.api.acl_filter import FILTERS

NAMES = st.sampled_from(["web", "web-1", "db", "api", "a", ""])
rules = st.lists(st.builds(Rule, st.sampled_from(["service", "node"]), NAMES, st.booleans(),
                           st.sampled_from(["read", "write", "deny"])), max_size=6)
rows = st.lists(st.tuples(NAMES, NAMES), max_size=8)  # (node, service)


def _identity(rule_list: list[Rule], default: str) -> Identity:
    return Identity("acc", token_authorizer([Rules(tuple(rule_list))], default))


def _can(identity: Identity, resource: str, name: str) -> bool:
    return identity.authorizer.allowed(resource, "read", name)


@given(rules, st.sampled_from(["allow", "deny"]), rows)
def test_service_instances_keep_exactly_the_readable_rows(rule_list: list[Rule], default: str,
                                                          pairs: list[tuple[str, str]]) -> None:
    identity = _identity(rule_list, default)
    listed: list[dict[str, Any]] = [{"Node": n, "ServiceName": s} for n, s in pairs]
    kept, dropped = FILTERS["service_instances"](identity, listed)
    assert kept == [r for r in listed if _can(identity, "node", r["Node"]) and _can(identity, "service", r["ServiceName"])]
    assert dropped == (len(kept) != len(listed))


@given(rules, st.sampled_from(["allow", "deny"]), rows)
def test_service_names_and_agent_services_agree(rule_list: list[Rule], default: str,
                                                pairs: list[tuple[str, str]]) -> None:
    identity = _identity(rule_list, default)
    names = {s: ["t"] for _, s in pairs}
    kept, _ = FILTERS["service_names"](identity, names)
    by_id = {f"{s}-id": {"Service": s} for s in names}
    kept_ids, _ = FILTERS["agent_services"](identity, by_id)
    assert set(kept) == {row["Service"] for row in kept_ids.values()} == {s for s in names if _can(identity, "service", s)}


@given(rules, st.sampled_from(["allow", "deny"]), rows)
def test_a_node_dump_shows_only_readable_services_of_a_readable_node(rule_list: list[Rule], default: str,
                                                                     pairs: list[tuple[str, str]]) -> None:
    identity = _identity(rule_list, default)
    dumps = [{"Node": n, "Services": [{"Service": s}], "Checks": []} for n, s in pairs]
    kept, _ = FILTERS["ui_nodes"](identity, dumps)
    assert [d["Node"] for d in kept] == [n for n, _ in pairs if _can(identity, "node", n)]
    for dump in kept:
        assert all(_can(identity, "service", s["Service"]) for s in dump["Services"])
