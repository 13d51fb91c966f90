"""Consul's `?filter=` language: docs examples, bexpr's error texts, and model-based properties."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyconsul.api.filter import (
    CHECK_SERVICE_NODE,
    HEALTH_CHECK,
    NODE_SERVICE,
    SERVICE_NODE,
    FilterError,
    compile_filter,
)

PREFIX = "Failed to create boolean expression evaluator: "


def select(expr: str, items: list[Any], schema: Any = None) -> list[Any]:
    pred = compile_filter(expr, schema)
    return [i for i in items if pred(i)]


def error_of(expr: str, schema: Any = None) -> str:
    with pytest.raises(FilterError) as info:
        compile_filter(expr, schema)
    return str(info.value)


# --- the examples of Consul's "Filtering" page ---------------------------------------------

AGENT_SERVICES = {
    "redis1": {"ID": "redis1", "Service": "redis", "Tags": ["primary", "production"],
               "Meta": {"env": "production", "foo": "bar"}, "Port": 1234, "Address": "",
               "Weights": {"Passing": 1, "Warning": 1}, "EnableTagOverride": False},
    "redis2": {"ID": "redis2", "Service": "redis", "Tags": ["secondary", "production"],
               "Meta": {"env": "production", "foo": "bar"}, "Port": 1235, "Address": "",
               "Weights": {"Passing": 1, "Warning": 1}, "EnableTagOverride": False},
    "redis3": {"ID": "redis3", "Service": "redis", "Tags": ["primary", "qa"], "Meta": {"env": "qa"},
               "Port": 1234, "Address": "", "Weights": {"Passing": 1, "Warning": 1},
               "EnableTagOverride": False},
}


def _service_node(node: str, addr: str, meta: dict[str, str], tags: list[str], env: str, idx: int) -> dict[str, Any]:
    return {"ID": f"id-{node}", "Node": node, "Address": addr, "Datacenter": "dc1", "TaggedAddresses": None,
            "NodeMeta": meta, "ServiceKind": "", "ServiceID": "api-internal", "ServiceName": "api-internal",
            "ServiceTags": tags, "ServiceAddress": "", "ServiceWeights": {"Passing": 1, "Warning": 1},
            "ServiceMeta": {"environment": env}, "ServicePort": 9090, "ServiceEnableTagOverride": False,
            "ServiceProxy": {}, "ServiceConnect": {}, "CreateIndex": idx, "ModifyIndex": idx}


CATALOG_SERVICE = [
    _service_node("node-1", "198.18.0.1", {"agent": "true", "arch": "i386", "os": "darwin"}, ["tag"], "qa", 30),
    _service_node("node-2", "198.18.0.2", {"arch": "arm", "os": "linux"}, ["test", "tag"], "production", 29),
    _service_node("node-4", "198.18.0.4", {"arch": "i386", "os": "freebsd"}, [], "qa", 28),
]

HEALTH_NODE = [
    {"Node": "node-1", "CheckID": "node-health", "Name": "Node level check", "Status": "critical",
     "Notes": "", "Output": "", "ServiceID": "", "ServiceName": "", "ServiceTags": []},
    {"Node": "node-1", "CheckID": "svc-web-health", "Name": "Service level check - web", "Status": "warning",
     "Notes": "", "Output": "", "ServiceID": "", "ServiceName": "web", "ServiceTags": []},
]


@pytest.mark.parametrize("schema", [None, NODE_SERVICE])
def test_docs_agent_services_example(schema: Any) -> None:
    pred = compile_filter('Meta.env == "qa"', schema)
    assert [k for k, v in AGENT_SERVICES.items() if pred(v)] == ["redis3"]


@pytest.mark.parametrize("schema", [None, SERVICE_NODE])
def test_docs_catalog_service_example(schema: Any) -> None:
    assert [s["Node"] for s in select('NodeMeta.os == "linux"', CATALOG_SERVICE, schema)] == ["node-2"]


@pytest.mark.parametrize("schema", [None, HEALTH_CHECK])
def test_docs_health_node_example(schema: Any) -> None:
    assert [c["CheckID"] for c in select('ServiceName != ""', HEALTH_NODE, schema)] == ["svc-web-health"]


# --- operators, values and selectors on a /v1/health/service element --------------------------

ENTRY = {
    "Node": {"ID": "40e4a748", "Node": "foobar", "Address": "10.1.10.12", "Datacenter": "dc1",
             "TaggedAddresses": {"lan": "10.1.10.12", "wan": "10.1.10.12"},
             "Meta": {"instance_type": "t2.medium", "k8s-ns": "default"}},
    "Service": {"ID": "redis", "Service": "redis", "Tags": ["primary", "v1"], "Address": "10.1.10.12",
                "TaggedAddresses": {"lan": {"address": "10.1.10.12", "port": 8000}},
                "Meta": {"redis_version": "4.0"}, "Port": 8000, "Weights": {"Passing": 10, "Warning": 1},
                "EnableTagOverride": False},
    "Checks": [
        {"Node": "foobar", "CheckID": "service:redis", "Name": "Service 'redis' check", "Status": "passing",
         "Notes": "", "Output": "", "ServiceID": "redis", "ServiceName": "redis", "ServiceTags": ["primary"]},
        {"Node": "foobar", "CheckID": "serfHealth", "Name": "Serf Health Status", "Status": "critical",
         "Notes": "", "Output": "", "ServiceID": "", "ServiceName": "", "ServiceTags": []},
    ],
}

TRUTH_TABLE = [
    ('Service.Service == "redis"', True),
    ("Service.Service == redis", True),  # bare word
    ("Service.Service == `redis`", True),  # raw string
    ('Service.Service != "redis"', False),
    ('Service.Service=="redis"', True),  # == needs no spaces
    ('"primary" in Service.Tags', True),
    ('"qa" in Service.Tags', False),
    ('"qa" not in Service.Tags', True),
    ('Service.Tags contains "v1"', True),
    ('Service.Tags not contains "v1"', False),
    ('Service.Service contains "edi"', True),  # substring on strings
    ('"edi" in Service.Service', True),
    ("Service.Tags is not empty", True),
    ("Service.Tags is empty", False),
    ("Service.Meta is not empty", True),
    ('"redis_version" in Service.Meta', True),  # in on a map tests its keys
    ('"4.0" in Service.Meta', False),
    ('Service.Meta.redis_version == "4.0"', True),
    ('Service.Meta["redis_version"] == "4.0"', True),
    ('Node.Meta["k8s-ns"] == default', True),  # index form for keys that are no identifier
    ('Node.Meta.missing == "x"', False),  # a missing key equals nothing...
    ('Node.Meta.missing != "x"', True),  # ...so it differs from everything
    ("Node.Meta.missing is empty", True),
    ('Node.Meta.missing matches "."', False),
    ('Node.Meta.missing not matches "."', True),
    ("Service.Port == 8000", True),
    ('Service.Port == "8000"', True),
    ("Service.Port != 8000", False),
    ("Service.Weights.Passing == 10", True),
    ("Service.EnableTagOverride == false", True),
    ("Service.EnableTagOverride == true", False),
    ('Service.Service matches "^re"', True),
    ('Service.Service matches "^di"', False),
    ('Service.Service not matches "^di"', True),
    ('Service.Service matches "di"', True),  # unanchored, like Go's regexp.Match
    ("Service.Address matches `^10\\.1\\.`", True),
    ('Checks.Status == "critical"', True),  # any check
    ('Checks.Status == "warning"', False),
    ('Checks.Status != "passing"', True),  # any check that is not passing
    ('not Checks.Status == "critical"', False),
    ('Checks.ServiceTags contains "primary"', True),
    ("Checks is not empty", True),
    # connectives and precedence: and binds tighter than or, not tighter than both
    ('Service.Service == x or Service.Port == 8000 and Node.Node == foobar', True),
    ('(Service.Service == x or Service.Port == 8000) and Node.Node == nope', False),
    ('Service.Service == x or Service.Port == 8000 and Node.Node == nope', False),
    ('not Service.Service == x and Node.Node == foobar', True),
    ('not (Service.Service == redis and Node.Node == foobar)', False),
    ("not not Service.Port == 8000", True),
    ('( Service.Port == 8000 )', True),
    ('\n\tService.Port == 8000\n', True),
]


# Consul's types forbid these (meta values are strings, and strings have no emptiness check)
TYPED_INVALID = {"Node.Meta.missing is empty": 'Invalid match operator "Is Empty" for selector "Node.Meta.missing"'}


@pytest.mark.parametrize(("expr", "expected"), TRUTH_TABLE)
def test_operators_typed(expr: str, expected: bool) -> None:
    if expr in TYPED_INVALID:
        assert error_of(expr, CHECK_SERVICE_NODE) == PREFIX + TYPED_INVALID[expr]
        return
    assert compile_filter(expr, CHECK_SERVICE_NODE)(ENTRY) is expected


@pytest.mark.parametrize(("expr", "expected"), TRUTH_TABLE)
def test_operators_without_schema(expr: str, expected: bool) -> None:
    assert compile_filter(expr)(ENTRY) is expected


def test_typed_struct_fields_absent_from_json_are_zero_values() -> None:
    sparse = {"Service": {"Service": "web"}, "Node": {}}
    assert compile_filter('Service.Address == ""', CHECK_SERVICE_NODE)(sparse)
    assert compile_filter("Service.Port == 0", CHECK_SERVICE_NODE)(sparse)
    assert compile_filter("Service.Tags is empty", CHECK_SERVICE_NODE)(sparse)
    assert not compile_filter("Checks.Status != passing", CHECK_SERVICE_NODE)(sparse)  # no checks: no match
    # without a schema an absent field is a missing key
    assert not compile_filter('Service.Address == ""')(sparse)
    assert compile_filter('Service.Address != ""')(sparse)


def test_values_numbers_and_booleans_without_schema() -> None:
    item = {"Port": 80, "Weight": -1.5, "On": True, "Name": "80"}
    assert compile_filter("Port == 80")(item)
    assert not compile_filter("Port == 81")(item)
    assert compile_filter("Weight == -1.5")(item)
    assert compile_filter('On == "true"')(item) and compile_filter("On == true")(item)
    assert compile_filter("On == T")(item)  # Go's ParseBool spellings
    assert not compile_filter("On == yes")(item)
    assert compile_filter("Name == 80")(item)  # a string field compares the literal text


def test_raw_strings_keep_backslashes_and_double_quotes_unescape() -> None:
    item = {"P": "a\\nb", "Q": "a\nb"}
    assert compile_filter("P == `a\\nb`")(item)
    assert compile_filter('Q == "a\\nb"')(item)
    assert not compile_filter('P == "a\\nb"')(item)


def test_empty_expression_is_no_filter() -> None:
    assert compile_filter("")({"anything": 1})


# --- error texts: Consul's 400 bodies ------------------------------------------------------


@pytest.mark.parametrize(("expr", "message"), [
    # the first is a Consul user's report verbatim (hashicorp/consul#9441); the second's expected
    # list is the one reported in hashicorp/consul#6467. Errors raised inside a rule sit where the
    # parser stood (after what it consumed) and are named after the rule, as pigeon does.
    ("address == 10.10.10.10 ", '1:17 (16): rule "number": Invalid number literal'),
    ("Node==host-name", '1:11 (10): no match found, expected: ".", "[", [ \\t\\r\\n], [a-zA-Z0-9_] or EOF'),
    ('Service == "abc', '1:16 (15): rule "string": Unterminated string literal'),
    ("(Service == a or b)", '1:15 (14): rule "grouping": Unmatched parentheses'),
    ('Meta[ == a', '1:7 (6): rule "index": Invalid index'),
    ('Meta["a" == b', '1:10 (9): rule "index": Unclosed index expression'),
    ('"a" in 5', '1:8 (7): rule "match": Invalid selector'),
    ('a == "\\q"', '1:6 (5): rule "string": invalid syntax'),
    ("a ==", '1:5 (4): no match found, expected: "-", "0", "\\"", "`", [ \\t\\r\\n], [1-9] or [a-zA-Z]'),
    ("a == b\n  or", '2:5 (11): no match found, expected: [ \\t\\r\\n]'),
])
def test_syntax_errors_read_like_bexpr(expr: str, message: str) -> None:
    assert error_of(expr) == PREFIX + message


@pytest.mark.parametrize(("expr", "message"), [
    ("Service.Foo == 1", 'Selector "Service.Foo" is not valid'),
    ("Foo.Bar == 1", 'Selector "Foo" is not valid'),
    ("Service.Tags.x == 1", 'Selector "Service.Tags.x" is not valid'),
    ("Service.Address is empty", 'Invalid match operator "Is Empty" for selector "Service.Address"'),
    ("Service.Port matches 8", 'Invalid match operator "Matches" for selector "Service.Port"'),
    ("Service.Tags == x", 'Invalid match operator "Equal" for selector "Service.Tags"'),
    ("Service.Port == abc",
     'Failed to coerce value "abc" for selector "Service.Port": strconv.ParseInt: parsing "abc": invalid syntax'),
    ("Service.EnableTagOverride == yes",
     'Failed to coerce value "yes" for selector "Service.EnableTagOverride": '
     'strconv.ParseBool: parsing "yes": invalid syntax'),
    ('Service.Service matches "("',
     'Failed to compile regular expression "(": error parsing regexp: missing closing ): `(`'),
    ('Service.Service matches "a(?=b)"',
     'Failed to compile regular expression "a(?=b)": error parsing regexp: '
     'invalid or unsupported Perl syntax: `(?=`'),
])
def test_validation_errors_against_consuls_types(expr: str, message: str) -> None:
    assert error_of(expr, CHECK_SERVICE_NODE) == PREFIX + message


def test_bad_regex_is_an_error_without_schema_too() -> None:
    assert error_of('Name matches "[a"').startswith(PREFIX + 'Failed to compile regular expression "[a"')


def test_unclosed_groups_parse_in_linear_time() -> None:
    # without memoisation a PEG parser retries every group at every level (exponential time)
    assert error_of("(" * 60 + "a").startswith(PREFIX + "1:62 (61): no match found, expected: ")
    assert error_of("(" * 60 + "a == b") == PREFIX + '1:67 (66): rule "grouping": Unmatched parentheses'


def test_absurd_nesting_is_a_filter_error() -> None:
    assert error_of("(" * 2000 + "a == b" + ")" * 2000) == PREFIX + "expression is nested too deeply"


def test_long_chains_of_terms_work() -> None:
    # generated filters (`ServiceID == a or ServiceID == b or ...`) fill a whole request line
    ids = [f"id-{i}" for i in range(400)]
    pred = compile_filter(" or ".join(f'ServiceID == "{i}"' for i in ids))
    assert pred({"ServiceID": "id-399"}) and not pred({"ServiceID": "id-400"})
    assert compile_filter(" and ".join(["a == b"] * 1500))({"a": "b"})


# --- properties ----------------------------------------------------------------------------

SELECTORS = ["Name", "Tags", "Meta", "Meta.env", "Meta.zone", "Port", "Node.Name", "Checks.Status", "Missing"]
VALUES = ["web", "db", "prod", "passing", "critical", "80", "8080", "a", ""]
OPS = ["==", "!=", "in", "not in", "contains", "not contains", "matches", "not matches",
       "is empty", "is not empty"]


@st.composite
def items(draw: st.DrawFn) -> dict[str, Any]:
    small = st.sampled_from(VALUES)
    item: dict[str, Any] = {
        "Name": draw(small),
        "Tags": draw(st.lists(small, max_size=3)),
        "Meta": draw(st.dictionaries(st.sampled_from(["env", "zone"]), small, max_size=2)),
        "Port": draw(st.sampled_from([80, 8080, 0])),
        "Node": {"Name": draw(small)},
        "Checks": [{"Status": draw(small)} for _ in range(draw(st.integers(0, 2)))],
    }
    return item


Tree = Any  # ("match", sel, op, value) | ("not", t) | ("and"/"or", a, b)


@st.composite
def trees(draw: st.DrawFn, depth: int = 3) -> Tree:
    if depth == 0 or draw(st.booleans()):
        return ("match", draw(st.sampled_from(SELECTORS)), draw(st.sampled_from(OPS)), draw(st.sampled_from(VALUES)))
    kind = draw(st.sampled_from(["not", "and", "or"]))
    if kind == "not":
        return ("not", draw(trees(depth - 1)))
    return (kind, draw(trees(depth - 1)), draw(trees(depth - 1)))


def render(t: Tree, ws: str = " ") -> str:
    if t[0] == "match":
        _, sel, op, val = t
        quoted = '"' + val + '"'
        if op in ("is empty", "is not empty"):
            return f"{sel} {op}"
        if op in ("in", "not in"):
            return f"{quoted} {op} {sel}"
        return f"{sel}{ws}{op}{ws}{quoted}"
    if t[0] == "not":
        return f"not ({render(t[1], ws)})"
    return f"({render(t[1], ws)}){ws}{t[0]}{ws}({render(t[2], ws)})"


def model(t: Tree, item: dict[str, Any]) -> bool:
    """A plain reading of bexpr's rules, as the oracle."""
    if t[0] == "not":
        return not model(t[1], item)
    if t[0] == "and":
        return model(t[1], item) and model(t[2], item)
    if t[0] == "or":
        return model(t[1], item) or model(t[2], item)
    _, sel, op, val = t
    negated = op in ("!=", "not in", "not contains", "not matches", "is not empty")
    base = {"!=": "==", "not in": "in", "not contains": "in", "contains": "in", "not matches": "matches",
            "is not empty": "is empty"}.get(op, op)

    def leaf(v: Any) -> bool:
        if base == "==":
            return v == val if isinstance(v, str) else (isinstance(v, int) and str(v) == val)
        if base == "in":
            if isinstance(v, str):
                return val in v
            if isinstance(v, (list, dict)):
                return val in v
            return False
        if base == "is empty":
            return isinstance(v, (str, list, dict)) and len(v) == 0
        return isinstance(v, str) and val in v  # our regex values are plain words

    def walk(v: Any, parts: list[str]) -> bool:
        if not parts:
            return leaf(v) != negated
        if isinstance(v, list):
            return any(walk(x, parts) for x in v)
        if not isinstance(v, dict) or parts[0] not in v:
            # a missing key: nothing equals, contains or matches it, and it is empty
            return (base == "is empty") != negated
        return walk(v[parts[0]], parts[1:])

    return walk(item, sel.split("."))


@settings(max_examples=300, deadline=None)
@given(trees(), items(), st.sampled_from([" ", "  ", "\t", "\n "]))
def test_filter_agrees_with_model(t: Tree, item: dict[str, Any], ws: str) -> None:
    assert compile_filter(render(t, ws))(item) is model(t, item)


@settings(max_examples=200, deadline=None)
@given(trees(), trees(), items())
def test_connectives(a: Tree, b: Tree, item: dict[str, Any]) -> None:
    ea, eb = render(a), render(b)
    pa, pb = compile_filter(ea)(item), compile_filter(eb)(item)
    assert compile_filter(f"not ({ea})")(item) is (not pa)
    assert compile_filter(f"({ea}) and ({eb})")(item) is (pa and pb)
    assert compile_filter(f"({ea}) or ({eb})")(item) is (pa or pb)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["Name", "Meta.env", "Port", "Tags", "Missing", "Meta.nope"]),
       st.sampled_from([("==", "!="), ("contains", "not contains"), ("matches", "not matches")]),
       st.sampled_from(VALUES), items())
def test_negated_operators_negate_without_lists_in_path(sel: str, ops: tuple[str, str], val: str,
                                                        item: dict[str, Any]) -> None:
    pos, neg = (compile_filter(f'{sel} {op} "{val}"')(item) for op in ops)
    assert neg is (not pos)


_TOKENS = st.sampled_from(['"', "`", "(", ")", "[", "]", ".", "==", "!=", " ", "\n", "not", "and", "or",
                           "in", "is", "empty", "contains", "matches", "-", "0", "12", "1.5", "a", "Service",
                           "\\", "\\x", "\\u12", "é", "\x00"])


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(max_size=40), st.lists(_TOKENS, max_size=14).map("".join)),
       st.sampled_from([None, CHECK_SERVICE_NODE, SERVICE_NODE]))
def test_parser_raises_only_filter_error(text: str, schema: Any) -> None:
    try:
        pred = compile_filter(text, schema)
    except FilterError as exc:
        assert str(exc).startswith(PREFIX)
        return
    for sample in (ENTRY, CATALOG_SERVICE[0], {}, None, [], "x", {"Service": None, "Checks": [None, 1]}):
        assert pred(sample) in (True, False)


# --- with a schema and without one, a fully populated element filters the same -----------------

_KEYS = ["env", "lan", "zone"]
_WORDS = ["web", "prod", "80", "true", ""]


def _data(t: Any) -> st.SearchStrategy[Any]:
    from pyconsul.api.filter import ListOf, MapOf, Prim

    if isinstance(t, Prim):
        return {"string": st.sampled_from(_WORDS), "int": st.sampled_from([0, 80, 8080]),
                "bool": st.booleans()}[t.kind]
    if isinstance(t, ListOf):
        return st.lists(_data(t.elem), max_size=2)
    if isinstance(t, MapOf):
        return st.dictionaries(st.sampled_from(_KEYS), _data(t.value), max_size=2) | st.none()
    return st.fixed_dictionaries({name: _data(ft) for name, ft in t.fields.items()})


def _selectors(t: Any, prefix: str = "") -> list[tuple[str, Any]]:
    from pyconsul.api.filter import ListOf, MapOf, Prim

    out: list[tuple[str, Any]] = [(prefix, t)] if prefix else []
    inner = t.elem if isinstance(t, ListOf) and not isinstance(t.elem, Prim) else t
    if isinstance(inner, MapOf):
        out += _selectors(inner.value, f"{prefix}.{_KEYS[0]}")
    elif hasattr(inner, "fields"):
        for name, ft in inner.fields.items():
            out += _selectors(ft, f"{prefix}.{name}" if prefix else name)
    return out


def _ops_for(t: Any) -> list[str]:
    from pyconsul.api.filter import ListOf, MapOf, Prim

    if isinstance(t, Prim):
        return ["==", "!=", "contains", "not contains", "matches", "not matches"] if t.kind == "string" else ["==", "!="]
    if isinstance(t, (MapOf,)) or (isinstance(t, ListOf) and isinstance(t.elem, Prim)):
        return ["contains", "not contains", "is empty", "is not empty"]
    if isinstance(t, ListOf):
        return ["is empty", "is not empty"]
    return []


_TYPED_SELECTORS = [(s, t) for s, t in _selectors(CHECK_SERVICE_NODE) if _ops_for(t)]


@settings(max_examples=300, deadline=None)
@given(_data(CHECK_SERVICE_NODE), st.sampled_from(_TYPED_SELECTORS), st.data())
def test_schema_and_schemaless_agree_on_full_elements(item: Any, sel: tuple[str, Any], data: st.DataObject) -> None:
    name, t = sel
    op = data.draw(st.sampled_from(_ops_for(t)))
    expr = f"{name} {op}" if "empty" in op else f'{name} {op} "{data.draw(st.sampled_from(_WORDS))}"'
    try:
        typed = compile_filter(expr, CHECK_SERVICE_NODE)
    except FilterError:
        return  # e.g. a word that is no int for an int field: Consul refuses it up front
    assert typed(item) is compile_filter(expr)(item), expr


# --- end to end: the docs' examples against a real agent ------------------------------------------


def _get(agent: Any, path: str, expr: str) -> Any:
    from urllib.parse import quote

    status, _, body = agent.request("GET", f"{path}?filter={quote(expr)}")
    assert status == 200, body
    return json.loads(body)


def test_docs_examples_through_a_real_agent(shared_agent: Any) -> None:
    agent = shared_agent
    for name, svc in AGENT_SERVICES.items():
        reg = {"ID": name, "Name": svc["Service"], "Tags": svc["Tags"], "Meta": svc["Meta"], "Port": svc["Port"]}
        assert agent.request("PUT", "/v1/agent/service/register", json.dumps(reg).encode())[0] == 200
    got = _get(agent, "/v1/agent/services", 'Meta.env == "qa"')
    assert sorted(got) == ["redis3"]

    for sn in CATALOG_SERVICE:
        reg = {"Node": sn["Node"], "Address": sn["Address"], "NodeMeta": sn["NodeMeta"],
               "Service": {"ID": sn["ServiceID"], "Service": sn["ServiceName"], "Tags": sn["ServiceTags"],
                           "Meta": sn["ServiceMeta"], "Port": sn["ServicePort"]}}
        assert agent.request("PUT", "/v1/catalog/register", json.dumps(reg).encode())[0] == 200
    got = _get(agent, "/v1/catalog/service/api-internal", 'NodeMeta.os == "linux"')
    assert [s["Node"] for s in got] == ["node-2"]
    got = _get(agent, "/v1/catalog/service/api-internal", '"test" in ServiceTags or ServiceMeta.environment == qa')
    assert sorted(s["Node"] for s in got) == ["node-1", "node-2", "node-4"]

    for check in HEALTH_NODE:
        reg = {"Node": "node-1", "Address": "198.18.0.1",
               "Check": {k: check[k] for k in ("CheckID", "Name", "Status", "ServiceName")}}
        if check["ServiceName"]:
            reg["Service"] = {"ID": "web-svc", "Service": check["ServiceName"]}
            reg["Check"]["ServiceID"] = "web-svc"
        assert agent.request("PUT", "/v1/catalog/register", json.dumps(reg).encode())[0] == 200
    got = _get(agent, "/v1/health/node/node-1", 'ServiceName != ""')
    assert [c["CheckID"] for c in got] == ["svc-web-health"]
    got = _get(agent, "/v1/health/service/web", 'Checks.Status == warning and Node.Node == "node-1"')
    assert [e["Service"]["ID"] for e in got] == ["web-svc"]


def test_bad_filter_through_a_real_agent_is_consuls_400(shared_agent: Any) -> None:
    from urllib.parse import quote

    status, _, body = shared_agent.request("GET", "/v1/catalog/nodes?filter=" + quote("Node==host-name"))
    assert status == 400
    assert body.decode() == PREFIX + (
        '1:11 (10): no match found, expected: ".", "[", [ \\t\\r\\n], [a-zA-Z0-9_] or EOF')


def _parse_outcome(expr: str) -> tuple[str, str]:
    from pyconsul.api import filter_grammar as f

    try:
        return "ok", repr(f._parse(expr))
    except FilterError as exc:
        return "error", str(exc)


@settings(max_examples=300, deadline=None)
@given(st.lists(_TOKENS | st.sampled_from([" and ", " or ", "a == b", " is empty", " not in ", '["k"]']),
                max_size=9).map("".join))
def test_memoised_parse_reports_what_a_plain_peg_run_reports(text: str) -> None:
    """The parser memoises rules for speed; a plain (pigeon-like) run must give the same tree or error."""
    from pyconsul.api import filter_grammar as f

    memoised = _parse_outcome(text)
    original = f._Rule.match

    def plain(self: Any, state: Any, i: int) -> Any:
        state.rstack.append(self)
        try:
            return self.expr.match(state, i)
        finally:
            state.rstack.pop()

    f._Rule.match = plain  # type: ignore[method-assign]
    try:
        assert _parse_outcome(text) == memoised
    finally:
        f._Rule.match = original  # type: ignore[method-assign]
