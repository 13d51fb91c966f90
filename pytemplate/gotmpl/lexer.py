"""Lexer for Go text/template syntax.

Text outside actions is one TEXT token; inside `{{ }}` come identifiers, fields, variables,
literals and punctuation. `{{- ` and ` -}}` trim the neighbouring whitespace as Go does, and
`{{/* */}}` comments vanish. Every token carries its source offset so errors can name the line
and column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from pytemplate.gotmpl.errors import TemplateError, position


class Tok(Enum):
    TEXT = "text"
    LEFT = "{{"
    RIGHT = "}}"
    IDENT = "identifier"
    FIELD = "field"
    DOT = "."
    VARIABLE = "variable"
    STRING = "string"
    CHAR = "character"
    NUMBER = "number"
    BOOL = "bool"
    NIL = "nil"
    PIPE = "|"
    LPAREN = "("
    RPAREN = ")"
    DECLARE = ":="
    ASSIGN = "="
    COMMA = ","
    KEYWORD = "keyword"
    EOF = "EOF"


KEYWORDS = frozenset(
    {"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"}
)

_SPACE = " \t\r\n"
_NUMBER = re.compile(
    r"[+-]?(?:0[xX][0-9a-fA-F_]+(?:\.[0-9a-fA-F_]*)?(?:[pP][+-]?\d+)?|0[bB][01_]+|0[oO][0-7_]+|"
    r"(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?)i?"
)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_GO_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
               "\\": "\\", "'": "'", '"': '"'}


@dataclass(frozen=True)
class Token:
    kind: Tok
    value: str
    offset: int
    space_before: bool = False


class Lexer:
    def __init__(self, name: str, text: str, left: str = "{{", right: str = "}}") -> None:
        self.name = name
        self.text = text
        self.left = left or "{{"
        self.right = right or "}}"
        self.tokens: list[Token] = []

    def error(self, offset: int, message: str) -> TemplateError:
        line, col = position(self.text, offset)
        return TemplateError(self.name, line, col, message)

    def run(self) -> list[Token]:
        text, pos = self.text, 0
        trim_next = False
        while pos < len(text):
            start = text.find(self.left, pos)
            if start < 0:
                self._emit_text(pos, len(text), trim_next, False)
                pos = len(text)
                break
            after = start + len(self.left)
            trim_left = text.startswith("-", after) and after + 1 < len(text) and text[after + 1] in _SPACE
            self._emit_text(pos, start, trim_next, trim_left)
            inner = after + 2 if trim_left else after
            pos, trim_next = self._lex_action(start, inner)
        self.tokens.append(Token(Tok.EOF, "", len(text)))
        return self.tokens

    def _emit_text(self, start: int, end: int, trim_start: bool, trim_end: bool) -> None:
        chunk = self.text[start:end]
        if trim_start:
            stripped = chunk.lstrip(_SPACE)
            start += len(chunk) - len(stripped)
            chunk = stripped
        if trim_end:
            chunk = chunk.rstrip(_SPACE)
        if chunk:
            self.tokens.append(Token(Tok.TEXT, chunk, start))

    def _at_right(self, pos: int) -> tuple[bool, bool, int]:
        """(is the right delimiter here, with trim marker, offset after it)."""
        text = self.text
        if text.startswith("-" + self.right, pos) and pos > 0 and text[pos - 1] in _SPACE:
            return True, True, pos + 1 + len(self.right)
        if text.startswith(self.right, pos):
            return True, False, pos + len(self.right)
        return False, False, pos

    def _lex_action(self, start: int, pos: int) -> tuple[int, bool]:
        text = self.text
        # A comment must directly follow the delimiter (and the optional trim marker).
        if text.startswith("/*", pos):
            close = text.find("*/", pos + 2)
            if close < 0:
                raise self.error(start, "unclosed comment")
            after = close + 2
            while after < len(text) and text[after] in _SPACE:
                after += 1
            is_right, trim, end = self._at_right(after)
            if not is_right:
                raise self.error(start, "comment ends before closing delimiter")
            return end, trim
        self.tokens.append(Token(Tok.LEFT, self.left, start))
        space = False
        paren_depth = 0
        while True:
            if pos >= len(text):
                raise self.error(start, "unclosed action")
            is_right, trim, end = self._at_right(pos)
            if is_right:
                if paren_depth:
                    raise self.error(pos, "unclosed left paren")
                self.tokens.append(Token(Tok.RIGHT, self.right, pos))
                return end, trim
            ch = text[pos]
            if ch in _SPACE:
                pos += 1
                space = True
                continue
            tok, pos = self._lex_item(pos, space)
            if tok.kind is Tok.LPAREN:
                paren_depth += 1
            elif tok.kind is Tok.RPAREN:
                paren_depth -= 1
                if paren_depth < 0:
                    raise self.error(tok.offset, "unexpected right paren")
            self.tokens.append(tok)
            space = False

    def _lex_item(self, pos: int, space: bool) -> tuple[Token, int]:
        text = self.text
        ch = text[pos]
        two = text[pos:pos + 2]
        if two == ":=":
            return Token(Tok.DECLARE, ":=", pos, space), pos + 2
        simple = {"|": Tok.PIPE, "(": Tok.LPAREN, ")": Tok.RPAREN, "=": Tok.ASSIGN, ",": Tok.COMMA}
        if ch in simple:
            return Token(simple[ch], ch, pos, space), pos + 1
        if ch == '"':
            return self._lex_quote(pos, space)
        if ch == "`":
            close = text.find("`", pos + 1)
            if close < 0:
                raise self.error(pos, "unterminated raw quoted string")
            return Token(Tok.STRING, text[pos + 1:close], pos, space), close + 1
        if ch == "'":
            return self._lex_char(pos, space)
        if ch == "$":
            m = _IDENT.match(text, pos + 1)
            end = m.end() if m else pos + 1
            return Token(Tok.VARIABLE, text[pos:end], pos, space), end
        if ch == ".":
            if pos + 1 < len(text) and text[pos + 1].isdigit():
                return self._lex_number(pos, space)
            m = _IDENT.match(text, pos + 1)
            if m:
                return Token(Tok.FIELD, m.group(0), pos, space), m.end()
            return Token(Tok.DOT, ".", pos, space), pos + 1
        if ch.isdigit() or (ch in "+-" and pos + 1 < len(text) and (text[pos + 1].isdigit() or text[pos + 1] == ".")):
            return self._lex_number(pos, space)
        m = _IDENT.match(text, pos)
        if m:
            word = m.group(0)
            if word in ("true", "false"):
                kind = Tok.BOOL
            elif word == "nil":
                kind = Tok.NIL
            elif word in KEYWORDS:
                kind = Tok.KEYWORD
            else:
                kind = Tok.IDENT
            return Token(kind, word, pos, space), m.end()
        raise self.error(pos, f"unrecognized character in action: {ch!r}")

    def _lex_number(self, pos: int, space: bool) -> tuple[Token, int]:
        m = _NUMBER.match(self.text, pos)
        if not m or not m.group(0):
            raise self.error(pos, "bad number syntax")
        end = m.end()
        if end < len(self.text) and (self.text[end].isalnum() or self.text[end] == "_"):
            raise self.error(pos, f'bad number syntax: "{self.text[pos:end + 1]}"')
        return Token(Tok.NUMBER, m.group(0), pos, space), end

    def _lex_quote(self, pos: int, space: bool) -> tuple[Token, int]:
        text, i, out = self.text, pos + 1, []
        while True:
            if i >= len(text) or text[i] == "\n":
                raise self.error(pos, "unterminated quoted string")
            ch = text[i]
            if ch == '"':
                return Token(Tok.STRING, "".join(out), pos, space), i + 1
            if ch == "\\":
                value, i = self._escape(i)
                out.append(value)
                continue
            out.append(ch)
            i += 1

    def _lex_char(self, pos: int, space: bool) -> tuple[Token, int]:
        text = self.text
        if text.startswith("\\", pos + 1):
            value, i = self._escape(pos + 1)
        else:
            if pos + 1 >= len(text):
                raise self.error(pos, "unterminated character constant")
            value, i = text[pos + 1], pos + 2
        if not text.startswith("'", i):
            raise self.error(pos, "unterminated character constant")
        return Token(Tok.CHAR, value, pos, space), i + 1

    def _escape(self, i: int) -> tuple[str, int]:
        """Decode a Go escape sequence starting at the backslash at `i`."""
        text = self.text
        code = text[i + 1:i + 2]
        if code in _GO_ESCAPES:
            return _GO_ESCAPES[code], i + 2
        widths = {"x": 2, "u": 4, "U": 8}
        if code in widths:
            digits = text[i + 2:i + 2 + widths[code]]
            if len(digits) == widths[code] and all(c in "0123456789abcdefABCDEF" for c in digits):
                return chr(int(digits, 16)), i + 2 + widths[code]
        if code and code in "01234567":
            digits = text[i + 1:i + 4]
            if len(digits) == 3 and all(c in "01234567" for c in digits):
                return chr(int(digits, 8)), i + 4
        raise self.error(i, f"invalid escape sequence \\{code}")


def lex(name: str, text: str, left: str = "{{", right: str = "}}") -> list[Token]:
    return Lexer(name, text, left, right).run()
