"""The small part of HCL that ACL rules are written in, parsed into plain items.

Rules are tiny documents (`key_prefix "foo/" { policy = "write" }`, `operator = "read"`), so a
hand-written parser with hard limits is safer than a general HCL library: it never recurses
deeper than MAX_DEPTH, never reads past MAX_TEXT bytes, and names the line of every error.

Grammar (HCL1 as Consul reads rules):
    body  := (item [","])*
    item  := name label* "{" body "}"      -- a block: `service "web" { ... }`
           | name "=" value                -- an attribute: `policy = "read"`
    name  := IDENT | STRING
    label := STRING | IDENT
    value := STRING | IDENT (true/false) | NUMBER | "{" body "}"
Comments: `#` and `//` to the end of the line, `/* ... */`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

MAX_TEXT = 256 * 1024
MAX_DEPTH = 8
MAX_ITEMS = 8192


class HCLError(ValueError):
    pass


@dataclass(frozen=True)
class Item:
    """One attribute (`value` is a str) or block (`value` is a tuple of items)."""

    name: str
    labels: tuple[str, ...]
    value: str | tuple[Item, ...]
    line: int


_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r\n]+)
  | (?P<comment>\#[^\n]*|//[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<ident>[A-Za-z_][A-Za-z0-9_\-.]*)
  | (?P<number>-?[0-9]+(?:\.[0-9]+)?)
  | (?P<punct>[{}=,\[\]])
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    line: int


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos, line = 0, 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise HCLError(f"line {line}: unexpected character {text[pos]!r}")
        kind = m.lastgroup or ""
        chunk = m.group()
        if kind == "string":
            try:
                # HCL strings use JSON's escapes; json.loads also rejects bad ones.
                out.append(_Tok("string", json.loads(chunk), line))
            except ValueError as exc:
                raise HCLError(f"line {line}: invalid string {chunk}: {exc}") from None
        elif kind in ("ident", "number", "punct"):
            out.append(_Tok(kind, chunk, line))
        line += chunk.count("\n")
        pos = m.end()
    return out


class _Parser:
    def __init__(self, toks: list[_Tok]) -> None:
        self.toks = toks
        self.pos = 0
        self.items = 0

    def peek(self) -> _Tok | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def take(self) -> _Tok:
        tok = self.peek()
        if tok is None:
            last = self.toks[-1].line if self.toks else 1
            raise HCLError(f"line {last}: unexpected end of rules")
        self.pos += 1
        return tok

    def expect(self, text: str) -> None:
        tok = self.take()
        if tok.kind != "punct" or tok.text != text:
            raise HCLError(f"line {tok.line}: expected {text!r}, found {tok.text!r}")

    def body(self, depth: int, closing: bool) -> tuple[Item, ...]:
        if depth > MAX_DEPTH:
            raise HCLError(f"rules nest deeper than {MAX_DEPTH} levels")
        items: list[Item] = []
        while True:
            tok = self.peek()
            if tok is None:
                if closing:
                    self.take()  # raises "unexpected end"
                return tuple(items)
            if tok.kind == "punct" and tok.text == "}":
                if not closing:
                    raise HCLError(f"line {tok.line}: unexpected '}}'")
                self.take()
                return tuple(items)
            if tok.kind == "punct" and tok.text == ",":
                self.take()
                continue
            items.append(self.item(depth))
            self.items += 1
            if self.items > MAX_ITEMS:
                raise HCLError(f"rules hold more than {MAX_ITEMS} items")

    def item(self, depth: int) -> Item:
        head = self.take()
        if head.kind not in ("ident", "string"):
            raise HCLError(f"line {head.line}: expected a name, found {head.text!r}")
        labels: list[str] = []
        while True:
            tok = self.take()
            if tok.kind == "punct" and tok.text == "=":
                return Item(head.text, tuple(labels), self.value(depth), head.line)
            if tok.kind == "punct" and tok.text == "{":
                return Item(head.text, tuple(labels), self.body(depth + 1, True), head.line)
            if tok.kind in ("string", "ident"):
                labels.append(tok.text)
                continue
            raise HCLError(f"line {tok.line}: unexpected {tok.text!r} after {head.text!r}")

    def value(self, depth: int) -> str | tuple[Item, ...]:
        tok = self.take()
        if tok.kind in ("string", "ident", "number"):
            return tok.text
        if tok.kind == "punct" and tok.text == "{":
            return self.body(depth + 1, True)
        raise HCLError(f"line {tok.line}: expected a value, found {tok.text!r}")


def parse(text: str) -> tuple[Item, ...]:
    """Items of an HCL document; raises HCLError naming the line of the first problem."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_TEXT:
        raise HCLError(f"rules are longer than {MAX_TEXT} bytes")
    return _Parser(_tokens(text)).body(0, False)
