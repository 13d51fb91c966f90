"""The filter language's parser: a PEG engine with pigeon's error reporting and go-bexpr's
grammar rule for rule (split from filter.py, which holds the schemas and evaluation)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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
