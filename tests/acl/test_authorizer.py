"""Precedence of rules, checked against a naive model that scans every rule of every policy."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pyconsul.acl.authorizer import ACCESSES, PolicyAuthorizer, token_authorizer
from pyconsul.acl.rules import LABELED, UNLABELED, Rule, Rules, parse_rules

_PRIORITY = {"read": 1, "list": 2, "write": 3, "deny": 4}
_GRANTS = {"write": {"read", "list", "write"}, "list": {"read", "list"}, "read": {"read"}, "deny": set()}


def _model_allowed(policies: list[Rules], resource: str, name: str, access: str, default: str) -> bool:
    """Exact beats prefix; longest prefix wins; same segment merges deny > write > list > read."""
    if resource in LABELED:
        rules = [r for p in policies for r in p.labeled if r.resource == resource and r.policy]
        exact = [r.policy for r in rules if not r.prefix and r.segment == name]
        prefixes = [r for r in rules if r.prefix and name.startswith(r.segment)]
        if exact:
            chosen: str | None = max(exact, key=_PRIORITY.__getitem__)
        elif prefixes:
            longest = max(len(r.segment) for r in prefixes)
            chosen = max((r.policy for r in prefixes if len(r.segment) == longest), key=_PRIORITY.__getitem__)
        else:
            chosen = None
    else:
        levels = [lvl for p in policies for res, lvl in p.unlabeled if res == resource]
        if not levels and resource in ("mesh", "peering"):
            levels = [lvl for p in policies for res, lvl in p.unlabeled if res == "operator"]
        chosen = max(levels, key=_PRIORITY.__getitem__) if levels else None
    if chosen is None:
        return default == "allow" and resource != "acl"
    return access in _GRANTS[chosen]


_name = st.text(st.sampled_from("ab/"), max_size=4)


@st.composite
def _policy(draw: st.DrawFn) -> Rules:
    labeled = []
    for _ in range(draw(st.integers(0, 8))):
        resource = draw(st.sampled_from(("key", "service", "node")))
        policies = ("read", "write", "deny", "list") if resource == "key" else ("read", "write", "deny")
        labeled.append(Rule(resource, draw(_name), draw(st.booleans()), draw(st.sampled_from(policies))))
    unlabeled = draw(st.lists(st.tuples(st.sampled_from(UNLABELED), st.sampled_from(("read", "write", "deny"))), max_size=3))
    return Rules(tuple(labeled), tuple(unlabeled))


@settings(max_examples=400, deadline=None)
@given(
    st.lists(_policy(), max_size=3),
    st.sampled_from(("key", "service", "node", *UNLABELED)),
    _name,
    st.sampled_from(ACCESSES),
    st.sampled_from(("allow", "deny")),
)
def test_decisions_match_the_model(policies: list[Rules], resource: str, name: str, access: str, default: str) -> None:
    authz = token_authorizer(policies, default)
    assert authz.allowed(resource, access, name) == _model_allowed(policies, resource, name, access, default)


@settings(max_examples=200, deadline=None)
@given(st.lists(_policy(), max_size=3), _name, st.sampled_from(("allow", "deny")))
def test_key_write_prefix_needs_write_on_everything_below(policies: list[Rules], prefix: str, default: str) -> None:
    authz = token_authorizer(policies, default)
    key_rules = [r for p in policies for r in p.labeled if r.resource == "key"]
    # Rules on one segment merge first (read + write on "a/" is write), then each must be write.
    merged: dict[tuple[str, bool], str] = {}
    for r in key_rules:
        seen = merged.get((r.segment, r.prefix))
        merged[(r.segment, r.prefix)] = r.policy if seen is None else max(seen, r.policy, key=_PRIORITY.__getitem__)
    below = [policy for (segment, _), policy in merged.items() if segment.startswith(prefix)]
    if any(policy != "write" for policy in below):
        assert not authz.key_write_prefix(prefix)
    elif authz.key_write_prefix(prefix):
        # allowed only when the rule covering the prefix (or the default) grants write
        assert _model_allowed(policies, "key", prefix, "write", default) or not any(r.prefix for r in key_rules)


def test_consul_examples() -> None:
    rules = parse_rules(
        """
        key_prefix "" { policy = "read" }
        key_prefix "foo/" { policy = "write" }
        key_prefix "foo/private/" { policy = "deny" }
        key "foo/private/open" { policy = "read" }
        service "web" { policy = "write" }
        service "db" { policy = "deny" }
        service "api" { intentions = "write" }
        """
    )
    authz = token_authorizer([rules], "deny")
    assert authz.allowed("key", "read", "anything")
    assert not authz.allowed("key", "write", "anything")
    assert authz.allowed("key", "write", "foo/bar")
    assert not authz.allowed("key", "read", "foo/private/secret")
    assert authz.allowed("key", "read", "foo/private/open")  # exact beats the longer prefix
    assert not authz.allowed("key", "write", "foo/private/open")
    assert not authz.key_write_prefix("foo/")  # a deny below
    assert authz.key_write_prefix("foo/bar/")
    # intentions: read from a service rule, explicit attribute otherwise
    assert authz.allowed("intentions", "read", "web") and not authz.allowed("intentions", "write", "web")
    assert not authz.allowed("intentions", "read", "db")
    assert authz.allowed("intentions", "write", "api") and not authz.allowed("service", "read", "api")
    assert not authz.allowed("operator", "read")


def test_several_policies_merge_deny_over_write_over_read() -> None:
    read = parse_rules('service "web" { policy = "read" }')
    write = parse_rules('service "web" { policy = "write" }')
    deny = parse_rules('service "web" { policy = "deny" }')
    assert token_authorizer([read, write], "deny").allowed("service", "write", "web")
    assert not token_authorizer([read, write, deny], "deny").allowed("service", "read", "web")


def test_default_allow_still_guards_acl_and_management_allows_all() -> None:
    allow = token_authorizer([], "allow")
    assert allow.allowed("key", "write", "x") and allow.allowed("operator", "write")
    assert not allow.allowed("acl", "read")
    manage = token_authorizer([], "deny", management=True)
    assert manage.allowed("acl", "write") and manage.key_write_prefix("")
    assert token_authorizer([parse_rules('acl = "read"')], "deny").allowed("acl", "read")


def test_mesh_and_peering_fall_back_to_operator() -> None:
    authz = token_authorizer([parse_rules('operator = "write"\npeering = "read"')], "deny")
    assert authz.allowed("mesh", "write")
    assert authz.allowed("peering", "read") and not authz.allowed("peering", "write")


def test_lookup_cost_does_not_grow_with_the_number_of_prefixes() -> None:
    # The prefix walk is over the name's length, not the rule count: 20 000 rules stay cheap.
    policy = Rules(tuple(Rule("key", f"p{i}/", True, "read") for i in range(20_000)))
    authz = PolicyAuthorizer([policy])
    assert authz.decide("key", "read", "p19999/x").value == "allow"
    assert authz.decide("key", "read", "q").value == "default"
