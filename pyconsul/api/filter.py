"""Consul's `?filter=` expression language (hashicorp/go-bexpr v0.1.2, the version Consul vendors).

The parser (PEG engine and grammar) is in filter_grammar.py; this module holds the schemas of
Consul's reply types and the evaluation. `compile_filter(expr, schema)` parses once and returns a predicate over one JSON-shaped element of
an endpoint's reply (a dict as the endpoint encodes it). Bad input raises `FilterError` whose text
is the 400 body Consul sends, e.g.::

    Failed to create boolean expression evaluator: 1:14 (13): no match found, expected: ".", "[",
    [ \\t\\r\\n], [a-zA-Z0-9_] or EOF

Syntax errors read as bexpr's: the grammar below is bexpr's PEG rule for rule, run by a small
engine that reports the farthest failure and what was expected there the way pigeon (bexpr's parser
generator) does, and errors raised inside a rule under that rule's name. Regular-expression errors
are Python's, reworded to Go's for the common cases.

Rules a caller keeps / can rely on:
- With a `schema` (one of the `Struct` constants below, e.g. `CHECK_SERVICE_NODE` for
  `/v1/health/service/:name`), selectors, operators and values are validated against it exactly as
  Consul validates them against its Go struct: `Selector "Service.Foo" is not valid`,
  `Invalid match operator "Is Empty" for selector "Service.Address"`, `Failed to coerce value
  "x" for selector "Service.Port": ...`. A struct field absent from the JSON counts as its zero
  value ("" / 0 / false / empty), as a Go struct field would.
- Without a schema nothing can be validated: a selector that is not in an element behaves like a
  missing map key in bexpr (`==`, `in`, `is not empty`, `matches` are false; their negations true;
  bexpr v0.1.2 let `matches` on a missing key be true, which later bexpr fixed and we follow), values
  are compared by the JSON type found (numbers and booleans parse the literal as Go does), and
  `is empty` also applies to strings.
- Lists inside a selector path are "any" matches, as in bexpr: `Checks.Status == "critical"` is true
  when any check is critical.
- An empty expression means "no filter" (Consul skips filtering for `?filter=`).
- The predicate never raises; compiled predicates are cached per (expression, schema). Chains of
  `and`/`or` may be any length; groups nested past about 60 levels are refused with a FilterError.
- `matches` uses Python's `re` with `search` semantics (Go's `regexp.Match`); RE2-only syntax is
  mostly shared, Perl-only constructs RE2 rejects (look-around, back-references) are rejected too.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import re2

# FilterError is part of this module's API (re-exported from the parser module).
from pyconsul.api.filter_grammar import (
    _NEGATED,
    _OP_NAMES,
    _PREFIX,
    EMPTY,
    EQ,
    IN,
    MATCHES,
    NE,
    NOT_EMPTY,
    NOT_IN,
    NOT_MATCHES,
    FilterError,
    _go_quote,
    _Match,
    _parse,
)
from pyconsul.gocompat.strconv import parse_bool as go_parse_bool

__all__ = [
    "FilterError", "compile_filter", "Prim", "ListOf", "MapOf", "Struct", "STRING", "INT", "BOOL",
    "NODE", "NODE_SERVICE", "SERVICE_NODE", "HEALTH_CHECK", "CHECK_SERVICE_NODE", "SCHEMAS",
]

Predicate = Callable[[Any], bool]


# ---------------------------------------------------------------------------------------------
# Schemas: the Go types Consul filters, as bexpr sees them
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Prim:
    kind: str  # "string" | "int" | "bool"


@dataclass(frozen=True, eq=False)
class ListOf:
    elem: Schema


@dataclass(frozen=True, eq=False)
class MapOf:
    value: Schema


@dataclass(frozen=True, eq=False)
class Struct:
    fields: Mapping[str, Schema] = field(default_factory=dict)


Schema = Prim | ListOf | MapOf | Struct
STRING, INT, BOOL = Prim("string"), Prim("int"), Prim("bool")


def _struct(**fields: Schema) -> Struct:
    return Struct(fields)


def _strings(*names: str) -> dict[str, Schema]:
    return {n: STRING for n in names}


_WEIGHTS = _struct(Passing=INT, Warning=INT)
_MESH_GATEWAY = _struct(Mode=STRING)
_UPSTREAM = _struct(**_strings("DestinationType", "DestinationNamespace", "DestinationName", "Datacenter",
                               "LocalBindAddress"), LocalBindPort=INT, MeshGateway=_MESH_GATEWAY)
_PROXY = _struct(**_strings("DestinationServiceName", "DestinationServiceID", "LocalServiceAddress", "Mode"),
                 LocalServicePort=INT, TransparentProxy=_struct(OutboundListenerPort=INT),
                 MeshGateway=_MESH_GATEWAY, Upstreams=ListOf(_UPSTREAM))
_SERVICE_ADDRESS = _struct(Address=STRING, Port=INT)
_CONNECT = _struct(Native=BOOL)

#: /v1/catalog/nodes
NODE = _struct(**_strings("ID", "Node", "Address", "Datacenter"),
               TaggedAddresses=MapOf(STRING), Meta=MapOf(STRING))
#: /v1/catalog/node/:node (each service), /v1/catalog/node-services/:node, /v1/agent/services
NODE_SERVICE = _struct(**_strings("Kind", "ID", "Service", "Address"), Tags=ListOf(STRING),
                       TaggedAddresses=MapOf(_SERVICE_ADDRESS), Meta=MapOf(STRING), Port=INT,
                       Weights=_WEIGHTS, EnableTagOverride=BOOL, Proxy=_PROXY, Connect=_CONNECT)
#: /v1/catalog/service/:name, /v1/catalog/connect/:name
SERVICE_NODE = _struct(**_strings("ID", "Node", "Address", "Datacenter", "ServiceKind", "ServiceID",
                                  "ServiceName", "ServiceAddress"),
                       TaggedAddresses=MapOf(STRING), NodeMeta=MapOf(STRING), ServiceTags=ListOf(STRING),
                       ServiceTaggedAddresses=MapOf(_SERVICE_ADDRESS), ServiceWeights=_WEIGHTS,
                       ServiceMeta=MapOf(STRING), ServicePort=INT, ServiceEnableTagOverride=BOOL,
                       ServiceProxy=_PROXY, ServiceConnect=_CONNECT)
#: /v1/health/node/:node, /v1/health/checks/:service, /v1/health/state/:state, /v1/agent/checks
HEALTH_CHECK = _struct(**_strings("Node", "CheckID", "Name", "Status", "Notes", "Output", "ServiceID",
                                  "ServiceName", "Type", "Interval", "Timeout"),
                       ServiceTags=ListOf(STRING), ExposedPort=INT)  # the struct's fields; the docs list fewer
#: /v1/health/service/:name, /v1/health/connect/:name
CHECK_SERVICE_NODE = _struct(Node=NODE, Service=NODE_SERVICE, Checks=ListOf(HEALTH_CHECK))

#: element type per endpoint, keyed by the two path segments after /v1/
SCHEMAS: dict[str, Struct] = {
    "catalog/nodes": NODE, "catalog/services": SERVICE_NODE,  # /catalog/services filters service instances
    "catalog/service": SERVICE_NODE, "catalog/connect": SERVICE_NODE,
    "catalog/node": NODE_SERVICE, "catalog/node-services": NODE_SERVICE, "agent/services": NODE_SERVICE,
    "health/node": HEALTH_CHECK, "health/checks": HEALTH_CHECK, "health/state": HEALTH_CHECK,
    "agent/checks": HEALTH_CHECK,
    "health/service": CHECK_SERVICE_NODE, "health/connect": CHECK_SERVICE_NODE,
    "health/ingress": CHECK_SERVICE_NODE,
}


@dataclass(frozen=True)
class _FieldConfig:
    ops: frozenset[int]
    coerce: str | None  # primitive kind the value literal is coerced to
    sub: Mapping[str, Schema]  # selectable children ("" is bexpr's <any> map key)


_STRING_OPS = frozenset({EQ, NE, IN, NOT_IN, MATCHES, NOT_MATCHES})


def _config(t: Schema) -> _FieldConfig:
    """bexpr's generateFieldConfigurationInternal for one type."""
    if isinstance(t, Prim):
        return _FieldConfig(_STRING_OPS if t.kind == "string" else frozenset({EQ, NE}), t.kind, {})
    if isinstance(t, ListOf):
        if isinstance(t.elem, Prim):
            return _FieldConfig(frozenset({IN, NOT_IN, EMPTY, NOT_EMPTY}), t.elem.kind, {})
        return _FieldConfig(frozenset({EMPTY, NOT_EMPTY}), None, _config(t.elem).sub)
    if isinstance(t, MapOf):
        return _FieldConfig(frozenset({EMPTY, NOT_EMPTY, IN, NOT_IN}), "string", {"": t.value})
    return _FieldConfig(frozenset(), None, t.fields)


# ---------------------------------------------------------------------------------------------
# Go's strconv parsing (bexpr coerces literals with it)
# ---------------------------------------------------------------------------------------------

_GO_INT = re.compile(r"[+-]?(0[xX](_?[0-9a-fA-F])+|0[bB](_?[01])+|0[oO](_?[0-7])+|0(_?[0-7])*|[1-9](_?[0-9])*)\Z")
_GO_FLOAT = re.compile(r"[+-]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?|inf|infinity|nan)\Z", re.IGNORECASE)


def _parse_int(raw: str) -> int:
    if not _GO_INT.match(raw):
        raise ValueError(f"strconv.ParseInt: parsing {_go_quote(raw)}: invalid syntax")
    body = raw.lstrip("+-").replace("_", "")
    sign = -1 if raw.startswith("-") else 1
    if len(body) > 1 and body[0] == "0" and body[1] in "0123456789":
        v = sign * int(body, 8)  # Go reads a leading 0 as octal
    else:
        v = sign * int(body, 0)
    if not -(1 << 63) <= v < (1 << 63):
        raise ValueError(f"strconv.ParseInt: parsing {_go_quote(raw)}: value out of range")
    return v


def _parse_bool(raw: str) -> bool:
    try:
        return go_parse_bool(raw)
    except ValueError:
        pass  # re-worded below: bexpr quotes the literal as Go's %q does
    raise ValueError(f"strconv.ParseBool: parsing {_go_quote(raw)}: invalid syntax")


def _parse_float(raw: str) -> float:
    if not _GO_FLOAT.match(raw):
        raise ValueError(f"strconv.ParseFloat: parsing {_go_quote(raw)}: invalid syntax")
    return float(raw)


_COERCE: dict[str, Callable[[str], Any]] = {"string": str, "int": _parse_int, "bool": _parse_bool,
                                            "float": _parse_float}


def _try(parse: Callable[[str], Any], raw: str) -> Any:
    try:
        return parse(raw)
    except ValueError:
        return _NO_VALUE


_NO_VALUE = object()

# RE2 rejects these Perl constructs (look-around, back-references); Python would run them.
_REGEX_TOKENS = re.compile(r"\\.|\(\?<?[=!]|\(\?P=", re.DOTALL)


# Python's wording of the common regexp errors, in Go's words
_RE_MESSAGES = (("missing ), unterminated subpattern", "missing closing )"),
                ("unbalanced parenthesis", "unexpected )"),
                ("nothing to repeat", "missing argument to repetition operator"),
                ("unterminated character set", "missing closing ]"),
                ("multiple repeat", "invalid nested repetition operator"),
                ("bad escape", "invalid escape sequence"))


def _compile_regex(raw: str) -> Any:
    """An RE2 matcher (linear time, as Consul's Go regexp): a GET must not backtrack on the event loop."""
    for tok in _REGEX_TOKENS.finditer(raw):
        bad = tok.group(0)
        if bad[0] == "(" or bad[1] in "123456789":
            what = "invalid escape sequence" if bad[0] == "\\" else "invalid or unsupported Perl syntax"
            raise FilterError(f"{_PREFIX}Failed to compile regular expression {_go_quote(raw)}: "
                              f"error parsing regexp: {what}: `{bad}`")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # RE2's \z (end of text) is Python's \Z; escapes are read pairwise so `\\z` stays literal
            # Python's parser only vets the syntax, for Go's wording of the common errors
            re.compile("".join("\\Z" if tok == "\\z" else tok
                                      for tok in re.findall(r"\\.|[^\\]+|\\", raw, re.DOTALL)))
    except (re.error, OverflowError, RecursionError, ValueError) as exc:
        msg = str(getattr(exc, "msg", exc))
        msg = next((go for py, go in _RE_MESSAGES if msg.startswith(py)), msg)
        raise FilterError(f"{_PREFIX}Failed to compile regular expression {_go_quote(raw)}: "
                          f"error parsing regexp: {msg}: `{raw}`") from None
    try:
        return re2.compile(raw, _RE2_OPTIONS)
    except re2.error as exc:
        what, _, arg = _text(exc).partition(": ")
        what = _RE2_MESSAGES.get(what, what)
        raise FilterError(f"{_PREFIX}Failed to compile regular expression {_go_quote(raw)}: "
                          f"error parsing regexp: {what}: `{arg or raw}`") from None


def _text(exc: Exception) -> str:
    arg = exc.args[0] if exc.args else exc
    return arg.decode(errors="replace") if isinstance(arg, bytes) else str(arg)


# RE2's C++ wording where Go's regexp (what Consul answers with) words it differently
_RE2_MESSAGES = {"invalid repetition size": "invalid repeat count",
                 "bad repetition operator": "invalid nested repetition operator",
                 "invalid perl operator": "invalid or unsupported Perl syntax",
                 "missing )": "missing closing )", "missing ]": "missing closing ]"}
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a bad user pattern is a 400, not a line on stderr


# ---------------------------------------------------------------------------------------------
# Compiling the tree to closures
# ---------------------------------------------------------------------------------------------

_FIELD, _KEY, _EACH = 0, 1, 2


def _missing(op: int) -> bool:
    """What a match on a missing map key yields (bexpr's NotPresentDisposition): nothing equals,
    contains or matches it, and it is empty."""
    return op in (NE, NOT_IN, EMPTY, NOT_MATCHES)


def _zero(t: Schema) -> Any:
    if isinstance(t, Prim):
        return {"string": "", "int": 0, "bool": False}.get(t.kind, 0)
    if isinstance(t, Struct):
        return {}
    return None  # nil slice / nil map


def _sel(selector: tuple[str, ...]) -> str:
    return _go_quote(".".join(selector))


def _typed_steps(m: _Match, schema: Struct) -> tuple[list[tuple[int, str, Any]], Schema, _FieldConfig]:
    """Validate a selector against the schema (bexpr's validateRecurse) and plan its walk."""
    steps: list[tuple[int, str, Any]] = []
    t: Schema = schema
    cfg = _config(schema)
    for idx, name in enumerate(m.selector):
        while isinstance(t, ListOf) and not isinstance(t.elem, Prim):
            steps.append((_EACH, "", None))  # selecting into a list of structs: any element
            t = t.elem
        if name in cfg.sub and not isinstance(t, MapOf):
            t = cfg.sub[name]
            steps.append((_FIELD, name, _zero(t)))
        elif "" in cfg.sub:
            t = cfg.sub[""]
            steps.append((_KEY, name, None))
        else:
            raise FilterError(f"{_PREFIX}Selector {_sel(m.selector[:idx + 1])} is not valid")
        cfg = _config(t)
    if m.op not in cfg.ops:
        raise FilterError(f"{_PREFIX}Invalid match operator {_go_quote(_OP_NAMES[m.op])} "
                          f"for selector {_sel(m.selector)}")
    return steps, t, cfg


def _typed_leaf(m: _Match, t: Schema, cfg: _FieldConfig) -> Predicate:
    op = _NEGATED.get(m.op, m.op)
    value: Any = m.value
    if m.value is not None and cfg.coerce is not None:
        try:
            value = _COERCE[cfg.coerce](m.value)
        except ValueError as exc:
            raise FilterError(f"{_PREFIX}Failed to coerce value {_go_quote(m.value)} for selector "
                              f"{_sel(m.selector)}: {exc}") from None
    kind = type(value)

    def same(v: Any) -> bool:  # Go compares like types only; Python's True == 1 must not leak in
        return v == value and type(v) is kind

    leaf: Predicate
    if op == EQ:
        leaf = same
    elif op == IN and isinstance(t, Prim):
        def leaf(v: Any) -> bool:
            return isinstance(v, str) and value in v
    elif op == IN and isinstance(t, MapOf):
        def leaf(v: Any) -> bool:
            return isinstance(v, dict) and value in v
    elif op == IN and kind is str:
        def leaf(v: Any) -> bool:
            return isinstance(v, list) and value in v  # only a str equals a str
    elif op == IN:
        def leaf(v: Any) -> bool:
            return isinstance(v, list) and any(same(x) for x in v)
    elif op == EMPTY:
        def leaf(v: Any) -> bool:
            return not v  # nil, [] and {} are all empty
    else:
        rx = _compile_regex(m.value or "")

        def leaf(v: Any) -> bool:
            return isinstance(v, str) and rx.search(v) is not None
    return _negate(leaf) if m.op in _NEGATED else leaf


def _dynamic_leaf(m: _Match) -> Predicate:
    """Leaf semantics without a schema: act on whatever JSON type is found."""
    op = _NEGATED.get(m.op, m.op)
    raw = m.value or ""
    leaf: Predicate
    if op == EQ:
        as_bool, as_int, as_float = _try(_parse_bool, raw), _try(_parse_int, raw), _try(_parse_float, raw)

        def leaf(v: Any) -> bool:
            if isinstance(v, str):
                return v == raw
            if isinstance(v, bool):
                return v is as_bool
            if isinstance(v, int):
                return as_int is not _NO_VALUE and v == as_int
            if isinstance(v, float):
                return as_float is not _NO_VALUE and v == as_float
            return False
    elif op == IN:
        eq = _dynamic_leaf(_Match(m.selector, EQ, raw))

        def leaf(v: Any) -> bool:
            if isinstance(v, (str, dict)):
                return raw in v
            if isinstance(v, list):
                return raw in v or any(eq(x) for x in v if type(x) is not str)
            return False
    elif op == EMPTY:
        def leaf(v: Any) -> bool:
            return v is None or (isinstance(v, (str, list, dict)) and len(v) == 0)
    else:
        rx = _compile_regex(raw)

        def leaf(v: Any) -> bool:
            return isinstance(v, str) and rx.search(v) is not None
    return _negate(leaf) if m.op in _NEGATED else leaf


def _negate(p: Predicate) -> Predicate:
    return lambda v: not p(v)


def _field_step(name: str, zero: Any, nxt: Predicate) -> Predicate:
    def step(v: Any) -> bool:  # a Go struct field: absent or null reads as its zero value
        x = v.get(name, zero) if isinstance(v, dict) else zero
        return nxt(zero if x is None else x)
    return step


def _key_step(name: str, missing: bool, nxt: Predicate) -> Predicate:
    def step(v: Any) -> bool:  # a map key: absent means bexpr's not-present answer
        if isinstance(v, dict) and name in v:
            return nxt(v[name])
        return missing
    return step


def _each_step(nxt: Predicate) -> Predicate:
    def step(v: Any) -> bool:  # into a list: any element
        if isinstance(v, list):
            for item in v:
                if nxt(item):
                    return True
        return False
    return step


def _dynamic_step(name: str, missing: bool, nxt: Predicate) -> Predicate:
    def step(v: Any) -> bool:
        if isinstance(v, dict):
            return nxt(v[name]) if name in v else missing
        if isinstance(v, list):
            for item in v:
                if step(item):
                    return True
            return False
        return missing
    return step


def _compile_match(m: _Match, schema: Struct | None) -> Predicate:
    """The selector's walk as a chain of small closures ending in the operator's leaf."""
    missing = _missing(m.op)
    pred: Predicate
    if schema is None:
        pred = _dynamic_leaf(m)
        for name in reversed(m.selector):
            pred = _dynamic_step(name, missing, pred)
        return pred
    steps, t, cfg = _typed_steps(m, schema)
    pred = _typed_leaf(m, t, cfg)
    for kind, name, zero in reversed(steps):
        if kind == _FIELD:
            pred = _field_step(name, zero, pred)
        elif kind == _KEY:
            pred = _key_step(name, missing, pred)
        else:
            pred = _each_step(pred)
    return pred


def _compile_node(node: Any, schema: Struct | None) -> Predicate:
    if isinstance(node, _Match):
        return _compile_match(node, schema)
    kind = node[0]
    if kind == "not":
        return _negate(_compile_node(node[1], schema))
    preds = [_compile_node(child, schema) for child in node[1]]
    if kind == "and":
        if len(preds) == 2:
            a, b = preds
            return lambda v: a(v) and b(v)
        return lambda v: all(p(v) for p in preds)
    if len(preds) == 2:
        a, b = preds
        return lambda v: a(v) or b(v)
    return lambda v: any(p(v) for p in preds)


def _always(_v: Any) -> bool:
    return True


@lru_cache(maxsize=512)
def _compile_cached(expr: str, schema: Struct | None) -> Predicate:
    try:
        return _compile_node(_parse(expr), schema)
    except RecursionError:
        raise FilterError(_PREFIX + "expression is nested too deeply") from None


def compile_filter(expr: str, schema: Struct | None = None) -> Predicate:
    """Compile a Consul filter expression into a predicate over one reply element.

    `schema` is the element's type (e.g. `CHECK_SERVICE_NODE` for /v1/health/service); with it,
    selectors are validated as Consul does. Raises `FilterError` (and only that) for bad input.
    """
    if not isinstance(expr, str):
        raise FilterError(_PREFIX + "filter must be a string")
    if expr == "":
        return _always
    return _compile_cached(expr, schema)
