"""Refusals carry Consul's text; filters never return a row the token cannot read."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyconsul.acl import builtins
from pyconsul.acl.authorizer import token_authorizer
from pyconsul.acl.enforce import (
    FILTERED_HEADER,
    filter_checks,
    filter_health_entries,
    filter_keys,
    filter_kv_entries,
    filter_nodes,
    filter_service_names,
    filtered_headers,
    require,
    require_key_write_prefix,
)
from pyconsul.acl.errors import PermissionDenied
from pyconsul.acl.resolver import Identity
from pyconsul.acl.rules import parse_rules


def _identity(rules: str, accessor: str = "acc-1", default: str = "deny") -> Identity:
    return Identity(accessor, token_authorizer([parse_rules(rules)], default),
                    anonymous=accessor == builtins.ANONYMOUS_ACCESSOR_ID)


def test_refusal_texts() -> None:
    who = _identity('key_prefix "pub/" { policy = "read" }')
    with pytest.raises(PermissionDenied) as denied:
        require(who, "key", "write", "pub/x")
    assert str(denied.value) == "Permission denied: token with AccessorID 'acc-1' lacks permission 'key:write' on \"pub/x\""
    with pytest.raises(PermissionDenied) as denied:
        require(who, "operator", "read")
    assert str(denied.value) == "Permission denied: token with AccessorID 'acc-1' lacks permission 'operator:read'"
    require(who, "key", "read", "pub/x")
    with pytest.raises(PermissionDenied):
        require_key_write_prefix(_identity('key_prefix "" { policy = "write" }\nkey "a/locked" { policy = "read" }'), "a/")


def test_lists_drop_unreadable_rows_and_say_so_only_to_a_real_token() -> None:
    who = _identity('node_prefix "web-" { policy = "read" }\nservice "api" { policy = "read" }')
    nodes, dropped = filter_nodes(who, [{"Node": "web-1"}, {"Node": "db-1"}])
    assert nodes == [{"Node": "web-1"}] and dropped
    assert filtered_headers(who, dropped) == {FILTERED_HEADER: "true"}
    anon = _identity("", builtins.ANONYMOUS_ACCESSOR_ID)
    assert filtered_headers(anon, filter_nodes(anon, [{"Node": "web-1"}])[1]) == {}
    services, _ = filter_service_names(who, {"api": ["v1"], "secret": []})
    assert services == {"api": ["v1"]}
    entries, _ = filter_health_entries(who, [
        {"Node": {"Node": "web-1"}, "Service": {"Service": "api"},
         "Checks": [{"Node": "web-1", "ServiceName": "api"}, {"Node": "web-1", "ServiceName": "other"}, {"Node": "web-1"}]},
        {"Node": {"Node": "db-1"}, "Service": {"Service": "api"}, "Checks": []},
    ])
    assert [len(e["Checks"]) for e in entries] == [2]


_keys = st.lists(st.text(st.sampled_from("ab/"), max_size=4), max_size=8)


@settings(max_examples=200, deadline=None)
@given(_keys, _keys, _keys, st.sampled_from(("allow", "deny")))
def test_filters_keep_exactly_the_readable_rows(readable: list[str], denied: list[str], keys: list[str], default: str) -> None:
    rules = "\n".join([f'key_prefix "{p}" {{ policy = "read" }}' for p in readable]
                      + [f'key "{k}" {{ policy = "deny" }}' for k in denied])
    who = _identity(rules, default=default)
    kept, dropped = filter_keys(who, keys)
    assert kept == [k for k in keys if who.authorizer.allowed("key", "read", k)]
    assert dropped == (len(kept) != len(keys))
    rows, _ = filter_kv_entries(who, [{"Key": k, "Value": "c2VjcmV0"} for k in keys])
    assert all(who.authorizer.allowed("key", "read", r["Key"]) for r in rows)
    checks, _ = filter_checks(who, [{"Node": k, "ServiceName": ""} for k in keys])
    assert all(who.authorizer.allowed("node", "read", c["Node"]) for c in checks)
