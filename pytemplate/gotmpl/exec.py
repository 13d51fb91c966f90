"""Executes a parsed Go template against Python data.

`GoTemplate` parses once; `execute(data, funcs)` is a pure function of the data and the
function table handed in (consul-template binds its data functions per render). Errors name
the file, line and column of the action that failed.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pytemplate.gotmpl import nodes as n
from pytemplate.gotmpl.builtins import BUILTINS, LAZY
from pytemplate.gotmpl.errors import TemplateError, position
from pytemplate.gotmpl.parser import parse
from pytemplate.gotmpl.values import MISSING, ValueError_, sorted_items, sprint_value, truth, type_name

_NO_FINAL: Any = object()
_SIGS: dict[Any, inspect.Signature | None] = {}
MAX_DEPTH = 100_000


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class GoTemplate:
    def __init__(self, name: str, text: str, func_names: Iterable[str] = (),
                 left: str = "{{", right: str = "}}", missing_key_error: bool = False) -> None:
        self.name = name
        self.text = text
        self.missing_key_error = missing_key_error
        known = set(BUILTINS) | LAZY | set(func_names)
        self.tree, self.defines = parse(name, text, known, left, right)

    def execute(self, data: Any, funcs: Mapping[str, Callable[..., Any]] | None = None) -> str:
        state = _State(self, {**BUILTINS, **(funcs or {})})
        if data is None:
            data = MISSING  # Go: executing with nil data makes dot the invalid value
        state.vars = [("$", data)]
        state.walk(data, self.tree)
        return "".join(state.out)


def node_str(node: n.Node | None) -> str:
    """Source-like text for an error message (Go's `at <...>`)."""
    if node is None:
        return ""
    if isinstance(node, n.Literal):
        v = node.value
        if isinstance(v, str):
            return '"' + v + '"'
        return "nil" if v is None else sprint_value(v)
    if isinstance(node, n.Dot):
        return "."
    if isinstance(node, n.Variable):
        return node.name
    if isinstance(node, n.Identifier):
        return node.name
    if isinstance(node, n.FieldChain):
        head = "" if node.receiver is None else node_str(node.receiver)
        return head + "".join("." + x for x in node.names)
    if isinstance(node, n.SubPipeline):
        return "(" + node_str(node.pipe) + ")"
    if isinstance(node, n.Command):
        return " ".join(node_str(a) for a in node.args)
    if isinstance(node, n.Pipeline):
        decl = ""
        if node.decl:
            decl = ", ".join(node.decl) + (" = " if node.is_assign else " := ")
        return decl + " | ".join(node_str(c) for c in node.commands)
    return type(node).__name__


class _State:
    def __init__(self, tmpl: GoTemplate, funcs: dict[str, Callable[..., Any]]) -> None:
        self.tmpl = tmpl
        self.funcs = funcs
        self.vars: list[tuple[str, Any]] = []
        self.out: list[str] = []
        self.depth = 0

    # --- errors -------------------------------------------------------------------------
    def fail(self, node: n.Node, message: str) -> TemplateError:
        line, col = position(self.tmpl.text, node.offset)
        return TemplateError(self.tmpl.name, line, col,
                             f'executing "{self.tmpl.name}" at <{node_str(node)}>: {message}')

    # --- variables ----------------------------------------------------------------------
    def lookup(self, node: n.Variable) -> Any:
        for name, value in reversed(self.vars):
            if name == node.name:
                return value
        raise self.fail(node, f"undefined variable: {node.name}")

    def assign(self, node: n.Node, name: str, value: Any) -> None:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                self.vars[i] = (name, value)
                return
        raise self.fail(node, f"undefined variable: {name}")

    # --- statements ---------------------------------------------------------------------
    def walk(self, dot: Any, node: n.Node) -> None:
        if isinstance(node, n.ListNode):
            for child in node.nodes:
                self.walk(dot, child)
        elif isinstance(node, n.Text):
            self.out.append(node.text)
        elif isinstance(node, n.Action):
            value = self.eval_pipeline(dot, node.pipe)
            if not node.pipe.decl:
                self.out.append(self.printable(node, value))
        elif isinstance(node, n.Branch):
            self.walk_branch(dot, node)
        elif isinstance(node, n.TemplateCall):
            self.walk_template(dot, node)
        elif isinstance(node, n.Break):
            raise _Break()
        elif isinstance(node, n.Continue):
            raise _Continue()
        else:  # pragma: no cover - the parser makes no other nodes
            raise self.fail(node, f"unknown node {type(node).__name__}")

    def printable(self, node: n.Node, value: Any) -> str:
        if callable(value) and not dataclasses.is_dataclass(value):
            raise self.fail(node, "can't print function value")
        return sprint_value(value)

    def walk_branch(self, dot: Any, node: n.Branch) -> None:
        mark = len(self.vars)
        try:
            if node.kind == "range":
                self.walk_range(dot, node)
                return
            value = self.eval_pipeline(dot, node.pipe)
            if truth(value):
                self.walk(value if node.kind == "with" else dot, node.body)
            elif node.else_body is not None:
                self.walk(dot, node.else_body)
        finally:
            del self.vars[mark:]

    def walk_range(self, dot: Any, node: n.Branch) -> None:
        pipe = node.pipe
        value = self.eval_pipeline_value(dot, pipe)
        items: Iterable[tuple[Any, Any]]
        if value is None or value is MISSING:
            items = []
        elif isinstance(value, dict):
            items = sorted_items(value)
        elif isinstance(value, (list, tuple)):
            items = enumerate(value)
        elif isinstance(value, bool):
            raise self.fail(node, f"range can't iterate over {sprint_value(value)}")
        elif isinstance(value, int):
            if len(pipe.decl) > 1:
                raise self.fail(node, "can't use $index, $element with range over integer")
            items = ((i, i) for i in range(value))
        elif isinstance(value, str) or not isinstance(value, Iterable):
            raise self.fail(node, f"range can't iterate over {sprint_value(value)}")
        else:
            items = enumerate(value)
        ran = False
        mark = len(self.vars)
        for key, elem in items:
            ran = True
            del self.vars[mark:]
            if len(pipe.decl) == 1:
                self.set_var(node, pipe, pipe.decl[0], elem)
            elif len(pipe.decl) == 2:
                self.set_var(node, pipe, pipe.decl[0], key)
                self.set_var(node, pipe, pipe.decl[1], elem)
            try:
                self.walk(elem, node.body)
            except _Continue:
                continue
            except _Break:
                break
        del self.vars[mark:]
        if not ran and node.else_body is not None:
            self.walk(dot, node.else_body)

    def set_var(self, node: n.Node, pipe: n.Pipeline, name: str, value: Any) -> None:
        if pipe.is_assign:
            self.assign(node, name, value)
        else:
            self.vars.append((name, value))

    def walk_template(self, dot: Any, node: n.TemplateCall) -> None:
        body = self.tmpl.defines.get(node.name)
        if body is None:
            raise self.fail(node, f'no such template "{node.name}"')
        value = self.eval_pipeline(dot, node.pipe) if node.pipe is not None else None
        self.depth += 1
        if self.depth > 1000:
            raise self.fail(node, "exceeded maximum template depth (1000)")
        saved, self.vars = self.vars, [("$", value)]
        try:
            self.walk(value, body)
        finally:
            self.vars = saved
            self.depth -= 1

    # --- pipelines ----------------------------------------------------------------------
    def eval_pipeline_value(self, dot: Any, pipe: n.Pipeline) -> Any:
        """The value of a pipeline, without declaring its variables (range does that)."""
        value: Any = _NO_FINAL
        for cmd in pipe.commands:
            value = self.eval_command(dot, cmd, value)
        return value

    def eval_pipeline(self, dot: Any, pipe: n.Pipeline) -> Any:
        value = self.eval_pipeline_value(dot, pipe)
        for name in pipe.decl:
            if pipe.is_assign:
                self.assign(pipe, name, value)
            else:
                self.vars.append((name, value))
        return value

    def eval_command(self, dot: Any, cmd: n.Command, final: Any) -> Any:
        first = cmd.args[0]
        if isinstance(first, n.Identifier):
            return self.eval_function(dot, first, cmd, cmd.args[1:], final)
        if isinstance(first, n.FieldChain):
            return self.eval_field_chain(dot, first, cmd.args[1:], final)
        if len(cmd.args) > 1 or final is not _NO_FINAL:
            raise self.fail(first, f"can't give argument to non-function {node_str(first)}")
        return self.eval_arg(dot, first)

    def eval_arg(self, dot: Any, node: n.Node) -> Any:
        if isinstance(node, n.Literal):
            return node.value
        if isinstance(node, n.Dot):
            return dot
        if isinstance(node, n.Variable):
            return self.lookup(node)
        if isinstance(node, n.FieldChain):
            return self.eval_field_chain(dot, node, [], _NO_FINAL)
        if isinstance(node, n.Identifier):
            return self.eval_function(dot, node, node, [], _NO_FINAL)
        if isinstance(node, n.SubPipeline):
            mark = len(self.vars)
            try:
                return self.eval_pipeline(dot, node.pipe)
            finally:
                del self.vars[mark:]
        raise self.fail(node, f"can't handle {node_str(node)}")

    def eval_function(self, dot: Any, ident: n.Identifier, where: n.Node, arg_nodes: list[n.Node],
                      final: Any) -> Any:
        name = ident.name
        if name in LAZY:
            return self.eval_and_or(dot, where, name, arg_nodes, final)
        fn = self.funcs.get(name)
        if fn is None:
            raise self.fail(ident, f'function "{name}" not defined')
        args = [self.eval_arg(dot, a) for a in arg_nodes]
        if final is not _NO_FINAL:
            args.append(final)
        return self.invoke(where, name, fn, args)

    def invoke(self, where: n.Node, name: str, fn: Callable[..., Any], args: list[Any]) -> Any:
        # Closures bound per render share a code object, so cache signatures by code.
        key = getattr(getattr(fn, "__func__", fn), "__code__", None) or fn
        sig = _SIGS.get(key, _NO_FINAL)
        if sig is _NO_FINAL:
            try:
                sig = inspect.signature(fn)
            except (TypeError, ValueError):
                sig = None
            _SIGS[key] = sig
        if sig is not None:
            try:
                sig.bind(*args)
            except TypeError:
                raise self.fail(where, f"wrong number of args for {name}: got {len(args)}") from None
        try:
            return fn(*args)
        except TemplateError:
            raise
        except (_Break, _Continue):
            raise
        except Exception as exc:  # a function's failure becomes a positioned template error
            raise self.fail(where, f"error calling {name}: {_message(exc)}") from exc

    def eval_and_or(self, dot: Any, where: n.Node, name: str, arg_nodes: list[n.Node], final: Any) -> Any:
        nodes = list(arg_nodes)
        if not nodes and final is _NO_FINAL:
            raise self.fail(where, f"wrong number of args for {name}: want at least 1 got 0")
        value: Any = None
        count = len(nodes) + (0 if final is _NO_FINAL else 1)
        for i in range(count):
            value = self.eval_arg(dot, nodes[i]) if i < len(nodes) else final
            if truth(value) != (name == "and"):
                return value
        return value

    def eval_field_chain(self, dot: Any, chain: n.FieldChain, arg_nodes: list[n.Node], final: Any) -> Any:
        receiver = dot if chain.receiver is None else self.eval_arg(dot, chain.receiver)
        for i, name in enumerate(chain.names):
            last = i == len(chain.names) - 1
            has_args = last and (bool(arg_nodes) or final is not _NO_FINAL)
            receiver = self.eval_field(chain, receiver, name, dot, arg_nodes if last else [],
                                       final if last else _NO_FINAL, has_args)
        return receiver

    def eval_field(self, node: n.Node, receiver: Any, name: str, dot: Any, arg_nodes: list[n.Node],
                   final: Any, has_args: bool) -> Any:
        if receiver is MISSING:
            if self.tmpl.missing_key_error:
                raise self.fail(node, f'nil data; no entry for key "{name}"')
            return MISSING
        if receiver is None:
            raise self.fail(node, f"nil pointer evaluating interface {{}}.{name}")
        if isinstance(receiver, dict):
            if has_args:
                raise self.fail(node, f"{name} is not a method but has arguments")
            if name in receiver:
                return receiver[name]
            if self.tmpl.missing_key_error:
                raise self.fail(node, f'map has no entry for key "{name}"')
            return MISSING
        if dataclasses.is_dataclass(receiver) and name in _field_names(receiver):
            if has_args:
                raise self.fail(node, f"{name} has arguments but cannot be invoked as function")
            return getattr(receiver, name)
        attr = getattr(receiver, name, None) if not name.startswith("_") else None
        if attr is not None and callable(attr) and not isinstance(receiver, (str, int, float, list, tuple)):
            args = [self.eval_arg(dot, a) for a in arg_nodes]
            if final is not _NO_FINAL:
                args.append(final)
            return self.invoke(node, name, attr, args)
        raise self.fail(node, f"can't evaluate field {name} in type {type_name(receiver)}")


_FIELDS: dict[type, frozenset[str]] = {}


def _field_names(obj: Any) -> frozenset[str]:
    cls = type(obj)
    names = _FIELDS.get(cls)
    if names is None:
        names = frozenset(f.name for f in dataclasses.fields(obj))
        _FIELDS[cls] = names
    return names


def _message(exc: Exception) -> str:
    if isinstance(exc, ValueError_):
        return str(exc)
    text = str(exc)
    return text if text else type(exc).__name__
