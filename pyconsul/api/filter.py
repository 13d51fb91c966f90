"""Consul's `?filter=` expression language (hashicorp/go-bexpr v0.1.2, the version Consul vendors).

`compile_filter(expr, schema)` parses once and returns a predicate over one JSON-shaped element of
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

__all__ = [
    "FilterError", "compile_filter", "Prim", "ListOf", "MapOf", "Struct", "STRING", "INT", "BOOL",
    "NODE", "NODE_SERVICE", "SERVICE_NODE", "HEALTH_CHECK", "CHECK_SERVICE_NODE", "SCHEMAS",
]

Predicate = Callable[[Any], bool]
_PREFIX = "Failed to create boolean expression evaluator: "


class FilterError(ValueError):
    """A bad filter expression; `str(err)` is Consul's 400 response body."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


# ---------------------------------------------------------------------------------------------
# A PEG engine with pigeon's error reporting (farthest failure, expected set, rule-named errors)
# ---------------------------------------------------------------------------------------------

_FAIL = None  # a failed match; a success is (value, end)


class _State:
    __slots__ = ("s", "n", "fail_pos", "expected", "invert", "errors", "rstack", "memo")

    def __init__(self, s: str) -> None:
        self.s = s
        self.n = len(s)
        self.fail_pos = -1
        self.expected: set[str] = set()  # only the set matters: the report sorts and dedupes
        self.invert = False
        self.errors: dict[str, None] = {}  # in order of first occurrence, without repeats
        self.rstack: list[_Rule] = []
        self.memo: dict[tuple[int, int, bool], tuple[Any, int, frozenset[str]]] = {}

    def note(self, matched: bool, pos: int, want: str) -> None:
        # pigeon's failAt: remember what was wanted at the farthest failing position
        if matched != self.invert or pos < self.fail_pos:
            return
        if pos > self.fail_pos:
            self.fail_pos = pos
            self.expected = set()
        self.expected.add("!" + want if self.invert else want)

    def error(self, pos: int, message: str) -> None:
        rule = self.rstack[-1].display if self.rstack else ""
        self.errors[f"{_position(self.s, pos)}: rule {rule}: {message}" if rule
                    else f"{_position(self.s, pos)}: {message}"] = None


def _position(s: str, i: int) -> str:
    """pigeon's `line:col (byte offset)` of index `i`."""
    line = 1 + s.count("\n", 0, i)
    last_nl = s.rfind("\n", 0, i)
    col = i - last_nl  # runes since the line start, 1-based
    if i < len(s) and s[i] == "\n":
        line, col = line + 1, 0  # pigeon puts a newline itself at column 0 of the next line
    return f"{line}:{col} ({len(s[:i].encode('utf-8', 'surrogatepass'))})"


class _Expr:
    def match(self, st: _State, i: int) -> tuple[Any, int] | None:
        raise NotImplementedError


class _Lit(_Expr):
    def __init__(self, text: str) -> None:
        self.text = text
        self.want = _go_quote(text)

    def match(self, st: _State, i: int) -> tuple[Any, int] | None:
        if st.s.startswith(self.text, i):
            st.note(True, i, self.want)
            return self.text, i + len(self.text)
        st.note(False, i, self.want)
        return _FAIL


class _Cls(_Expr):
    def __init__(self, want: str, chars: str) -> None:
        self.want = want
        self.chars = frozenset(chars)

    def match(self, st: _State, i: int) -> tuple[Any, int] | None:
        if i < st.n and st.s[i] in self.chars:
            st.note(True, i, self.want)
            return st.s[i], i + 1
        st.note(False, i, self.want)
        return _FAIL


class _AnyChar(_Expr):
    def match(self, st: _State, i: int) -> tuple[Any, int] | None:
        if i < st.n:
            st.note(True, i, ".")
            return st.s[i], i + 1
        st.note(False, i, ".")
        return _FAIL


class _Seq(_Expr):
    def __init__(self, *items: _Expr) -> None:
        self.items = items

    def match(self, st: _State, i: int) -> tuple[Any, int] | None:
        vals = []
        for item in self.items:
            r = item.match(st, i)
            if r is None:
                return _FAIL
            vals.append(r[0])
            i = r[1]
        return vals, i


class _Alt(_Expr):
    def __init__(self, *alts: _Expr) -> None:
        self.alts = alts

    def match(self, st: _State, i: int) -> tuple[Any, int] | None:
        for alt in self.alts:
            r = alt.match(st, i)
            if r is not None:
                return r
        return _FAIL


class _Opt(_Expr):
    def __init__(self, e: _Expr) -> None:
        self.e = e

    def match(self, st: _State, i: int) -> tuple[Any, int] | None:
        r = self.e.match(st, i)
        return (None, i) if r is None else r


class _Star(_Expr):
    def __init__(self, e: _Expr, at_least: int = 0) -> None:
        self.e = e
        self.at_least = at_least

    def match(self, st: _State, i: int) -> tuple[Any, int] | None:
        vals = []
        while True:
            r = self.e.match(st, i)
            if r is None:
                break
            vals.append(r[0])
            i = r[1]
        return (vals, i) if len(vals) >= self.at_least else _FAIL


class _Not(_Expr):
    def __init__(self, e: _Expr) -> None:
        self.e = e

    def match(self, st: _State, i: int) -> tuple[Any, int] | None:
        st.invert = not st.invert
        r = self.e.match(st, i)
        st.invert = not st.invert
        return (None, i) if r is None else _FAIL


class _And(_Expr):
    def __init__(self, e: _Expr) -> None:
        self.e = e

    def match(self, st: _State, i: int) -> tuple[Any, int] | None:
        return _FAIL if self.e.match(st, i) is None else (None, i)


class _ActionError(Exception):
    pass


class _Act(_Expr):
    """Run `fn(values, text)` on success; an `_ActionError` is recorded at the start (pigeon)."""

    def __init__(self, e: _Expr, fn: Callable[[Any, str], Any]) -> None:
        self.e = e
        self.fn = fn

    def match(self, st: _State, i: int) -> tuple[Any, int] | None:
        r = self.e.match(st, i)
        if r is None:
            return _FAIL
        try:
            return self.fn(r[0], st.s[i:r[1]]), r[1]
        except _ActionError as exc:
            st.error(i, str(exc))
            return None, r[1]


class _Raise(_Expr):
    """`&{ return false, errors.New(msg) }`: record an error here and fail."""

    def __init__(self, message: str) -> None:
        self.message = message

    def match(self, st: _State, i: int) -> tuple[Any, int] | None:
        st.error(i, self.message)
        return _FAIL


class _Rule(_Expr):
    """A named rule, memoised per (position, inversion) so nested groups cost linear time. The
    expectations a parse produced are stored with it and merged again on a hit, so the report is
    the one pigeon's unmemoised run gives (errors need no replay: they only ever accumulate)."""

    _ids = 0

    def __init__(self, name: str, display: str = "") -> None:
        self.name = name
        self.display = f'"{display}"' if display else name
        self.expr: _Expr | None = None
        _Rule._ids += 1
        self.id = _Rule._ids

    def match(self, st: _State, i: int) -> tuple[Any, int] | None:
        key = (self.id, i, st.invert)
        hit = st.memo.get(key)
        if hit is None:
            saved_pos, saved_exp = st.fail_pos, st.expected
            st.fail_pos, st.expected = -1, set()
            st.rstack.append(self)
            assert self.expr is not None
            r = self.expr.match(st, i)
            st.rstack.pop()
            hit = (r, st.fail_pos, frozenset(st.expected))
            st.memo[key] = hit
            st.fail_pos, st.expected = saved_pos, saved_exp
        r, pos, expected = hit
        if pos >= 0 and pos >= st.fail_pos:
            if pos > st.fail_pos:
                st.fail_pos, st.expected = pos, set(expected)
            else:
                st.expected |= expected
        return r


def _go_quote(s: str) -> str:
    """Go's strconv.Quote, for literals and selectors in messages."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif 0xDC80 <= o <= 0xDCFF:
            out.append(f"\\x{o - 0xDC00:02x}")  # a raw byte from a \\x escape
        elif 0xD800 <= o <= 0xDFFF:
            out.append("\\ufffd")
        elif not ch.isprintable() and o > 0x7F:
            out.append(f"\\u{o:04x}" if o <= 0xFFFF else f"\\U{o:08x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


# ---------------------------------------------------------------------------------------------
# The grammar (go-bexpr v0.1.2 grammar.peg, rule for rule)
# ---------------------------------------------------------------------------------------------

EQ, NE, IN, NOT_IN, EMPTY, NOT_EMPTY, MATCHES, NOT_MATCHES = range(8)
_OP_NAMES = ("Equal", "Not Equal", "In", "Not In", "Is Empty", "Is Not Empty", "Matches", "Not Matches")
_NEGATED = {NE: EQ, NOT_IN: IN, NOT_EMPTY: EMPTY, NOT_MATCHES: MATCHES}


@dataclass(frozen=True, slots=True)
class _Match:
    selector: tuple[str, ...]
    op: int
    value: str | None


def _unquote(_vals: Any, text: str) -> str:
    """Go's strconv.Unquote for a "double" or `raw` literal."""
    if text[0] == "`":
        return text[1:-1].replace("\r", "")
    body = text[1:-1]
    if "\n" in body:
        raise _ActionError("invalid syntax")
    out: list[str] = []
    i, n = 0, len(body)
    while i < n:
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        if i + 1 >= n:
            raise _ActionError("invalid syntax")
        c = body[i + 1]
        i += 2
        if c in _SIMPLE_UNESCAPES:
            out.append(_SIMPLE_UNESCAPES[c])
        elif c in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[c]
            digits = body[i:i + width]
            if len(digits) != width or any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise _ActionError("invalid syntax")
            v = int(digits, 16)
            i += width
            if c == "x":
                out.append(bytes([v]).decode("utf-8", "surrogateescape"))
            elif v > 0x10FFFF or 0xD800 <= v <= 0xDFFF:
                raise _ActionError("invalid syntax")
            else:
                out.append(chr(v))
        elif c in "01234567":
            digits = body[i - 1:i + 2]
            if len(digits) != 3 or any(d not in "01234567" for d in digits) or int(digits, 8) > 255:
                raise _ActionError("invalid syntax")
            out.append(bytes([int(digits, 8)]).decode("utf-8", "surrogateescape"))
            i += 2
        else:
            raise _ActionError("invalid syntax")
    return "".join(out)


_SIMPLE_UNESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
                     "\\": "\\", '"': '"'}


def _build_grammar() -> _Rule:
    R = {name: _Rule(name, display) for name, display in [
        ("Input", ""), ("OrExpression", ""), ("AndExpression", ""), ("NotExpression", ""),
        ("ParenthesizedExpression", "grouping"), ("MatchExpression", "match"),
        ("MatchSelectorOpValue", "match"), ("MatchSelectorOp", "match"),
        ("MatchValueOpSelector", "match"), ("MatchEqual", ""), ("MatchNotEqual", ""),
        ("MatchIsEmpty", ""), ("MatchIsNotEmpty", ""), ("MatchIn", ""), ("MatchNotIn", ""),
        ("MatchContains", ""), ("MatchNotContains", ""), ("MatchMatches", ""),
        ("MatchNotMatches", ""), ("Selector", "selector"), ("Identifier", ""),
        ("SelectorOrIndex", ""), ("IndexExpression", "index"), ("Value", "value"),
        ("NumberLiteral", "number"), ("AfterNumbers", ""), ("IntegerOrFloat", ""),
        ("StringLiteral", "string"), ("RawStringChar", ""), ("DoubleStringChar", ""),
        ("_", "whitespace"), ("EOF", ""),
    ]}
    L = _Lit
    ws, ows = R["_"], _Opt(R["_"])
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    digits = "0123456789"

    def chain(kind: str) -> Callable[[Any, str], Any]:
        def build(v: Any, _t: str) -> Any:
            parts = [v[0], *(seq[3] for seq in v[1])]
            return parts[0] if len(parts) == 1 else (kind, tuple(parts))
        return build

    def negate(v: Any, _t: str) -> Any:
        inner = v[2]
        return inner[1] if isinstance(inner, tuple) and inner[0] == "not" else ("not", inner)

    R["Input"].expr = _Alt(
        _Act(_Seq(ows, L("("), ows, R["OrExpression"], ows, L(")"), ows, R["EOF"]), lambda v, t: v[3]),
        _Act(_Seq(ows, R["OrExpression"], ows, R["EOF"]), lambda v, t: v[1]),
    )
    # bexpr writes these right-recursively (`A _ "or" _ Or / A`); as a loop they accept the same
    # text and try the same things at the same places (so errors read the same), without a level
    # of recursion per term
    R["OrExpression"].expr = _Act(
        _Seq(R["AndExpression"], _Star(_Seq(ws, L("or"), ws, R["AndExpression"]))), chain("or"))
    R["AndExpression"].expr = _Act(
        _Seq(R["NotExpression"], _Star(_Seq(ws, L("and"), ws, R["NotExpression"]))), chain("and"))
    R["NotExpression"].expr = _Alt(
        _Act(_Seq(L("not"), ws, R["NotExpression"]), negate),
        R["ParenthesizedExpression"],
    )
    R["ParenthesizedExpression"].expr = _Alt(
        _Act(_Seq(L("("), ows, R["OrExpression"], ows, L(")")), lambda v, t: v[2]),
        R["MatchExpression"],
        _Seq(L("("), ows, R["OrExpression"], ows, _Not(L(")")), _Raise("Unmatched parentheses")),
    )
    R["MatchExpression"].expr = _Alt(R["MatchSelectorOpValue"], R["MatchSelectorOp"], R["MatchValueOpSelector"])
    R["MatchSelectorOpValue"].expr = _Act(
        _Seq(R["Selector"], _Alt(R["MatchEqual"], R["MatchNotEqual"], R["MatchContains"],
                                 R["MatchNotContains"], R["MatchMatches"], R["MatchNotMatches"]), R["Value"]),
        lambda v, t: _Match(v[0], v[1], v[2]),
    )
    R["MatchSelectorOp"].expr = _Act(
        _Seq(R["Selector"], _Alt(R["MatchIsEmpty"], R["MatchIsNotEmpty"])),
        lambda v, t: _Match(v[0], v[1], None),
    )
    in_ops = _Alt(R["MatchIn"], R["MatchNotIn"])
    R["MatchValueOpSelector"].expr = _Alt(
        _Act(_Seq(R["Value"], in_ops, R["Selector"]), lambda v, t: _Match(v[2], v[1], v[0])),
        _Seq(R["Value"], in_ops, _Not(R["Selector"]), _Raise("Invalid selector")),
    )

    def op(seq: _Expr, code: int) -> _Expr:
        return _Act(seq, lambda v, t: code)

    R["MatchEqual"].expr = op(_Seq(ows, L("=="), ows), EQ)
    R["MatchNotEqual"].expr = op(_Seq(ows, L("!="), ows), NE)
    R["MatchIsEmpty"].expr = op(_Seq(ws, L("is"), ws, L("empty")), EMPTY)
    R["MatchIsNotEmpty"].expr = op(_Seq(ws, L("is"), ws, L("not"), ws, L("empty")), NOT_EMPTY)
    R["MatchIn"].expr = op(_Seq(ws, L("in"), ws), IN)
    R["MatchNotIn"].expr = op(_Seq(ws, L("not"), ws, L("in"), ws), NOT_IN)
    R["MatchContains"].expr = op(_Seq(ws, L("contains"), ws), IN)
    R["MatchNotContains"].expr = op(_Seq(ws, L("not"), ws, L("contains"), ws), NOT_IN)
    R["MatchMatches"].expr = op(_Seq(ws, L("matches"), ws), MATCHES)
    R["MatchNotMatches"].expr = op(_Seq(ws, L("not"), ws, L("matches"), ws), NOT_MATCHES)

    R["Selector"].expr = _Act(_Seq(R["Identifier"], _Star(R["SelectorOrIndex"])),
                              lambda v, t: (v[0], *v[1]))
    R["Identifier"].expr = _Act(_Seq(_Cls("[a-zA-Z]", letters), _Star(_Cls("[a-zA-Z0-9_]", letters + digits + "_"))),
                                lambda v, t: t)
    R["SelectorOrIndex"].expr = _Alt(_Act(_Seq(L("."), R["Identifier"]), lambda v, t: v[1]), R["IndexExpression"])
    R["IndexExpression"].expr = _Alt(
        _Act(_Seq(L("["), ows, R["StringLiteral"], ows, L("]")), lambda v, t: v[2]),
        _Seq(L("["), ows, _Not(R["StringLiteral"]), _Raise("Invalid index")),
        _Seq(L("["), ows, R["StringLiteral"], ows, _Not(L("]")), _Raise("Unclosed index expression")),
    )
    R["Value"].expr = _Alt(
        _Act(R["Selector"], lambda v, t: ".".join(v)),
        R["NumberLiteral"],
        R["StringLiteral"],
    )
    number = _Seq(_Opt(L("-")), R["IntegerOrFloat"])
    R["NumberLiteral"].expr = _Alt(
        _Act(_Seq(number, R["AfterNumbers"]), lambda v, t: t),
        _Seq(number, _Not(R["AfterNumbers"]), _Raise("Invalid number literal")),
    )
    R["AfterNumbers"].expr = _And(_Alt(ws, R["EOF"], L(")")))
    R["IntegerOrFloat"].expr = _Seq(
        _Alt(L("0"), _Seq(_Cls("[1-9]", "123456789"), _Star(_Cls("[0-9]", digits)))),
        _Opt(_Seq(L("."), _Star(_Cls("[0-9]", digits), at_least=1))),
    )
    raw_chars, dq_chars = _Star(R["RawStringChar"]), _Star(R["DoubleStringChar"])
    R["StringLiteral"].expr = _Alt(
        _Act(_Alt(_Seq(L("`"), raw_chars, L("`")), _Seq(L('"'), dq_chars, L('"'))), _unquote),
        _Seq(_Alt(_Seq(L("`"), raw_chars), _Seq(L('"'), dq_chars)), R["EOF"], _Raise("Unterminated string literal")),
    )
    R["RawStringChar"].expr = _Seq(_Not(L("`")), _AnyChar())
    R["DoubleStringChar"].expr = _Seq(_Not(L('"')), _AnyChar())
    R["_"].expr = _Star(_Cls("[ \\t\\r\\n]", " \t\r\n"), at_least=1)
    R["EOF"].expr = _Not(_AnyChar())
    return R["Input"]


_GRAMMAR = _build_grammar()


def _parse(expr: str) -> Any:
    st = _State(expr)
    r = _GRAMMAR.match(st, 0)
    if st.errors:
        raise FilterError(_PREFIX + "\n".join(st.errors))
    if r is None:
        wanted = set(st.expected)
        eof = "!." in wanted
        wanted.discard("!.")
        expected = sorted(wanted, key=lambda w: w.encode("utf-8", "surrogatepass"))
        if eof:
            expected.append("EOF")
        listed = expected[0] if len(expected) == 1 else ", ".join(expected[:-1]) + " or " + expected[-1]
        raise FilterError(f"{_PREFIX}{_position(expr, max(st.fail_pos, 0))}: no match found, expected: {listed}")
    return r[0]


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
_GO_BOOLS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
             "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}


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
    if raw in _GO_BOOLS:
        return _GO_BOOLS[raw]
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


def _compile_regex(raw: str) -> re.Pattern[str]:
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
            return re.compile("".join("\\Z" if tok == "\\z" else tok
                                      for tok in re.findall(r"\\.|[^\\]+|\\", raw, re.DOTALL)))
    except (re.error, OverflowError, RecursionError, ValueError) as exc:
        msg = str(getattr(exc, "msg", exc))
        msg = next((go for py, go in _RE_MESSAGES if msg.startswith(py)), msg)
        raise FilterError(f"{_PREFIX}Failed to compile regular expression {_go_quote(raw)}: "
                          f"error parsing regexp: {msg}: `{raw}`") from None


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
