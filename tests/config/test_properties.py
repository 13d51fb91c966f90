"""Property tests: duration strings, and Consul's merge rules across config files in a directory."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from pyconsul.config.errors import ConfigError
from pyconsul.config.loader import load_agent_config, load_config_sources
from pyconsul.config.merge import merge

UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}

duration_parts = st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(sorted(UNITS))), min_size=1, max_size=4)


@settings(deadline=None)  # each example parses HCL and builds a config: slow on a busy CI box
@given(duration_parts)
def test_duration_strings_are_accepted_with_their_value(parts: list[tuple[int, str]]) -> None:
    text = "".join(f"{n}{u}" for n, u in parts)
    expected = sum(n * UNITS[u] for n, u in parts)
    rc = load_agent_config(["-dev", "-retry-interval", text, "-hcl", f'check_update_interval = "{text}"'])
    assert abs(rc.retry_interval - expected) <= 1e-9 * max(1.0, expected)
    assert abs(rc.check_update_interval - expected) <= 1e-9 * max(1.0, expected)


@settings(deadline=None)
@given(st.text(alphabet="0123456789smhx. -", min_size=1, max_size=8))
def test_bad_duration_strings_are_a_config_error_never_a_crash(text: str) -> None:
    try:
        load_agent_config(["-dev", "-hcl", f'retry_interval = "{text}"'])
    except ConfigError as exc:
        assert "retry_interval" in str(exc)


# One config file's worth of settings, with the kinds of keys that merge differently.
file_conf = st.fixed_dictionaries(
    {},
    optional={
        "node_name": st.text(alphabet="abcdef", min_size=1, max_size=5),
        "retry_join": st.lists(st.text(alphabet="0123456789.", min_size=1, max_size=7), max_size=3),
        "node_meta": st.dictionaries(st.sampled_from(["a", "b", "c"]), st.text(alphabet="xyz", max_size=3), max_size=3),
        "ports": st.fixed_dictionaries({}, optional={"dns": st.integers(1, 65535), "http": st.integers(1, 65535)}),
        "services": st.lists(st.fixed_dictionaries({"name": st.sampled_from(["web", "db", "cache"])}), max_size=2),
    },
)


@settings(max_examples=60, deadline=None)
@given(st.lists(file_conf, min_size=1, max_size=5))
def test_directory_merge_follows_consul_rules(confs: list[dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for i, conf in enumerate(confs):
            Path(tmp, f"{i:02d}.json").write_text(json.dumps(conf))
        merged = load_config_sources([], [tmp], [])
    # scalars: the last file that sets one wins
    names = [c["node_name"] for c in confs if "node_name" in c]
    assert merged.get("node_name") == (names[-1] if names else None)
    # lists: every file's entries, in lexical file order
    assert merged.get("retry_join", []) == [x for c in confs for x in c.get("retry_join", [])]
    assert merged.get("services", []) == [s for c in confs for s in c.get("services", [])]
    # maps and structs: merged key by key, later keys win
    meta: dict[str, str] = {}
    ports: dict[str, int] = {}
    for c in confs:
        meta.update(c.get("node_meta", {}))
        ports.update(c.get("ports", {}))
    assert merged.get("node_meta", {}) == meta
    assert merged.get("ports", {}) == ports


json_tree = st.recursive(
    st.integers() | st.text(max_size=3) | st.booleans(),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.sampled_from("abc"), kids, max_size=3),
    max_leaves=10,
)


@settings(deadline=None)
@given(json_tree, json_tree)
def test_merge_with_nothing_changes_nothing_and_never_mutates(a: Any, b: Any) -> None:
    before_a, before_b = json.dumps(a), json.dumps(b)
    assert merge(a, None) == a
    assert merge({}, {"k": a}) == {"k": a}
    merge({"k": a}, {"k": b})
    assert (json.dumps(a), json.dumps(b)) == (before_a, before_b)


KNOWN_KEYS = [
    "node_name", "datacenter", "data_dir", "server", "bootstrap", "bootstrap_expect", "bind_addr", "client_addr",
    "ports", "addresses", "retry_join", "retry_interval", "recursors", "encrypt", "log_level", "node_id",
    "dns_config", "services", "service", "checks", "check", "acl", "auto_encrypt", "node_meta", "ui", "ui_config",
    "performance", "domain", "telemetry", "limits", "Bogus",
]
json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True) | st.text(max_size=6),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(
        st.sampled_from(["name", "port", "http", "interval", "ttl", "args", "enabled", "tls", "dns", "x"]), kids,
        max_size=3),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(KNOWN_KEYS), json_value, max_size=5))
@example({"services": True, "service": [None, None]})  # a mistyped plural beside a block list
def test_any_json_config_is_valid_or_a_config_error(conf: dict[str, Any]) -> None:
    from pyconsul.config.loader import validate_paths

    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "c.json").write_text(json.dumps({"data_dir": "/d", **conf}))
        try:
            validate_paths([tmp])
        except ConfigError:
            pass
