"""Recursive-descent parser for Go text/template, producing `nodes` trees.

As Go does, it rejects unknown functions and undefined variables at parse time, and turns
`{{else if x}}` / `{{else with x}}` into a nested branch that shares the outer `{{end}}`.
"""

from __future__ import annotations

from collections.abc import Collection

from pytemplate.gotmpl import nodes as n
from pytemplate.gotmpl.errors import TemplateError, position
from pytemplate.gotmpl.lexer import Tok, Token, lex


def parse_number(text: str) -> int | float:
    """A Go numeric constant: integers stay int; anything with '.', exponent is float."""
    clean = text.replace("_", "")
    if clean.endswith("i"):
        raise ValueError("complex constants are not supported")
    sign = -1 if clean.startswith("-") else 1
    body = clean.lstrip("+-")
    lower = body.lower()
    if lower.startswith("0x"):
        if "." in lower or "p" in lower:
            return sign * float.fromhex(body)
        return sign * int(body, 16)
    if lower.startswith(("0b", "0o")):
        return sign * int(body, 0)
    if any(c in lower for c in ".e"):
        return sign * float(body)
    if len(body) > 1 and body.startswith("0"):
        return sign * int(body, 8)
    return sign * int(body)


class Parser:
    def __init__(self, name: str, text: str, funcs: Collection[str],
                 left: str = "{{", right: str = "}}") -> None:
        self.name = name
        self.text = text
        self.funcs = funcs
        self.tokens = lex(name, text, left, right)
        self.pos = 0
        self.vars: list[str] = ["$"]
        self.defines: dict[str, n.ListNode] = {}
        self.range_depth = 0

    # --- helpers --------------------------------------------------------------------------
    def error(self, tok: Token | int, message: str) -> TemplateError:
        offset = tok if isinstance(tok, int) else tok.offset
        line, col = position(self.text, offset)
        return TemplateError(self.name, line, col, message)

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def next(self) -> Token:
        tok = self.peek()
        self.pos += 1
        return tok

    def expect(self, kind: Tok, context: str) -> Token:
        tok = self.next()
        if tok.kind is not kind:
            raise self.error(tok, f"unexpected {describe(tok)} in {context}")
        return tok

    # --- structure ------------------------------------------------------------------------
    def parse(self) -> n.ListNode:
        body, stop = self.parse_list()
        if stop is not None:
            raise self.error(stop, f"unexpected {{{{{stop.value}}}}}")
        return body

    def parse_list(self) -> tuple[n.ListNode, Token | None]:
        """Items until EOF, or until `{{end}}` / `{{else`, whose keyword token is returned."""
        out = n.ListNode(self.peek().offset)
        while True:
            tok = self.next()
            if tok.kind is Tok.EOF:
                self.pos -= 1
                return out, None
            if tok.kind is Tok.TEXT:
                out.nodes.append(n.Text(tok.offset, tok.value))
                continue
            # tok is LEFT
            head = self.peek()
            if head.kind is Tok.KEYWORD:
                if head.value in ("end", "else"):
                    self.next()
                    return out, head
                node = self.parse_keyword(self.next())
                if node is not None:
                    out.nodes.append(node)
                continue
            pipe = self.parse_pipeline("command", decl_ok=True)
            self.expect(Tok.RIGHT, "command")
            if pipe.decl:
                # A bare declaration outputs nothing but stays in scope.
                out.nodes.append(n.Action(tok.offset, pipe))
            else:
                out.nodes.append(n.Action(tok.offset, pipe))

    def parse_keyword(self, kw: Token) -> n.Node | None:
        if kw.value in ("if", "with", "range"):
            return self.parse_branch(kw)
        if kw.value == "define":
            name = self.expect(Tok.STRING, "define clause")
            self.expect(Tok.RIGHT, "define clause")
            saved_vars, self.vars = self.vars, ["$"]
            body, stop = self.parse_list()
            self.vars = saved_vars
            if stop is None or stop.value != "end":
                raise self.error(kw, "unexpected EOF in define clause")
            self.expect(Tok.RIGHT, "end")
            self.defines[name.value] = body
            return None
        if kw.value in ("template", "block"):
            name = self.expect(Tok.STRING, f"{kw.value} clause")
            pipe = None
            if self.peek().kind is not Tok.RIGHT:
                pipe = self.parse_pipeline(f"{kw.value} clause", decl_ok=False)
            self.expect(Tok.RIGHT, f"{kw.value} clause")
            if kw.value == "block":
                saved_vars, self.vars = self.vars, ["$"]
                body, stop = self.parse_list()
                self.vars = saved_vars
                if stop is None or stop.value != "end":
                    raise self.error(kw, "unexpected EOF in block clause")
                self.expect(Tok.RIGHT, "end")
                self.defines[name.value] = body
            return n.TemplateCall(kw.offset, name.value, pipe)
        if kw.value in ("break", "continue"):
            if self.range_depth == 0:
                raise self.error(kw, f"{{{{{kw.value}}}}} outside {{{{range}}}}")
            self.expect(Tok.RIGHT, kw.value)
            return n.Break(kw.offset) if kw.value == "break" else n.Continue(kw.offset)
        raise self.error(kw, f'unexpected keyword "{kw.value}"')

    def parse_branch(self, kw: Token) -> n.Branch:
        mark = len(self.vars)
        pipe = self.parse_pipeline(kw.value, decl_ok=True, range_decl=kw.value == "range")
        self.expect(Tok.RIGHT, kw.value)
        if kw.value == "range":
            self.range_depth += 1
        body, stop = self.parse_list()
        if kw.value == "range":
            self.range_depth -= 1
        if stop is None:
            raise self.error(kw, f"unexpected EOF in {kw.value}")
        else_body: n.ListNode | None = None
        if stop.value == "else":
            nxt = self.peek()
            if nxt.kind is Tok.KEYWORD and nxt.value in ("if", "with") and kw.value != "range":
                # `{{else if x}}` nests a branch that consumes the shared {{end}}.
                self.next()
                nested = self.parse_branch(nxt)
                else_body = n.ListNode(nxt.offset, [nested])
            else:
                self.expect(Tok.RIGHT, "else")
                else_body, stop2 = self.parse_list()
                if stop2 is None or stop2.value != "end":
                    where = stop2 if stop2 is not None else kw
                    raise self.error(where, f"expected end; found {describe(stop2) if stop2 else 'EOF'}")
                self.expect(Tok.RIGHT, "end")
        else:
            self.expect(Tok.RIGHT, "end")
        del self.vars[mark:]
        return n.Branch(kw.offset, kw.value, pipe, body, else_body)

    # --- pipelines ------------------------------------------------------------------------
    def parse_pipeline(self, context: str, decl_ok: bool, range_decl: bool = False) -> n.Pipeline:
        start = self.peek()
        decl: list[str] = []
        is_assign = False
        if decl_ok and start.kind is Tok.VARIABLE:
            a, b = self.peek(1), self.peek(2)
            if a.kind in (Tok.DECLARE, Tok.ASSIGN):
                decl, is_assign = [start.value], a.kind is Tok.ASSIGN
                self.pos += 2
            elif range_decl and a.kind is Tok.COMMA and b.kind is Tok.VARIABLE:
                op = self.peek(3)
                if op.kind in (Tok.DECLARE, Tok.ASSIGN):
                    decl, is_assign = [start.value, b.value], op.kind is Tok.ASSIGN
                    self.pos += 4
                else:
                    raise self.error(op, f"unexpected {describe(op)} in {context}")
        for name in decl:
            if is_assign:
                if name not in self.vars:
                    raise self.error(start, f'undefined variable "{name}"')
            else:
                self.vars.append(name)
        commands: list[n.Command] = []
        while True:
            cmd = self.parse_command(context)
            commands.append(cmd)
            if self.peek().kind is Tok.PIPE:
                self.next()
                continue
            break
        # As Go: only the first stage may start with a constant or dot (`x | 2` is meaningless).
        for stage, cmd in enumerate(commands[1:], start=2):
            if isinstance(cmd.args[0], (n.Literal, n.Dot)):
                raise self.error(cmd.offset, f"non executable command in pipeline stage {stage}")
        return n.Pipeline(start.offset, decl, is_assign, commands)

    def parse_command(self, context: str) -> n.Command:
        start = self.peek()
        args: list[n.Node] = []
        while self.peek().kind not in (Tok.PIPE, Tok.RIGHT, Tok.RPAREN, Tok.EOF):
            tok = self.peek()
            if args and not tok.space_before and tok.kind is not Tok.FIELD:
                raise self.error(tok, f"missing space before {describe(tok)}")
            args.append(self.parse_operand(context))
        if not args:
            raise self.error(start, "missing value for command")
        return n.Command(start.offset, args)

    def parse_operand(self, context: str) -> n.Node:
        term = self.parse_term(context)
        names: list[str] = []
        while self.peek().kind is Tok.FIELD and not self.peek().space_before:
            names.append(self.next().value)
        if not names:
            return term
        if isinstance(term, n.FieldChain):
            term.names.extend(names)
            return term
        if isinstance(term, n.Literal):
            raise self.error(term.offset, "unexpected . after term")
        return n.FieldChain(term.offset, term, names)

    def parse_term(self, context: str) -> n.Node:
        tok = self.next()
        k = tok.kind
        if k is Tok.DOT:
            return n.Dot(tok.offset)
        if k is Tok.FIELD:
            return n.FieldChain(tok.offset, None, [tok.value])
        if k is Tok.VARIABLE:
            if tok.value not in self.vars:
                raise self.error(tok, f'undefined variable "{tok.value}"')
            return n.Variable(tok.offset, tok.value)
        if k is Tok.IDENT:
            if tok.value not in self.funcs:
                raise self.error(tok, f'function "{tok.value}" not defined')
            return n.Identifier(tok.offset, tok.value)
        if k is Tok.STRING:
            return n.Literal(tok.offset, tok.value)
        if k is Tok.CHAR:
            return n.Literal(tok.offset, ord(tok.value))
        if k is Tok.NUMBER:
            try:
                return n.Literal(tok.offset, parse_number(tok.value))
            except ValueError:
                raise self.error(tok, f'bad number syntax: "{tok.value}"') from None
        if k is Tok.BOOL:
            return n.Literal(tok.offset, tok.value == "true")
        if k is Tok.NIL:
            return n.Literal(tok.offset, None)
        if k is Tok.LPAREN:
            pipe = self.parse_pipeline("parenthesized pipeline", decl_ok=True)
            self.expect(Tok.RPAREN, "parenthesized pipeline")
            return n.SubPipeline(tok.offset, pipe)
        raise self.error(tok, f"unexpected {describe(tok)} in {context}")


def describe(tok: Token | None) -> str:
    if tok is None:
        return "EOF"
    if tok.kind is Tok.EOF:
        return "EOF"
    if tok.kind is Tok.KEYWORD:
        return f"<{tok.value}>"
    if tok.kind in (Tok.RIGHT, Tok.LEFT, Tok.PIPE, Tok.LPAREN, Tok.RPAREN, Tok.COMMA,
                    Tok.DECLARE, Tok.ASSIGN, Tok.DOT):
        return f'"{tok.value}"'
    return f'{tok.kind.value} "{tok.value}"'


def parse(name: str, text: str, funcs: Collection[str], left: str = "{{",
          right: str = "}}") -> tuple[n.ListNode, dict[str, n.ListNode]]:
    """Parse `text`; returns the main tree and the `{{define}}`d sub-templates."""
    p = Parser(name, text, funcs, left, right)
    tree = p.parse()
    return tree, p.defines
