"""Parse tree of a Go text/template. Every node keeps its source offset for error positions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Node:
    offset: int


# --- operands -------------------------------------------------------------------------------

@dataclass
class Literal(Node):
    value: Any  # str, int, float, bool or None (nil)


@dataclass
class Dot(Node):
    pass


@dataclass
class FieldChain(Node):
    """`.A.B` on dot (receiver None) or on another operand (`$x.A`, `(pipe).A`)."""

    receiver: Node | None
    names: list[str]


@dataclass
class Variable(Node):
    name: str  # "$" or "$name"


@dataclass
class Identifier(Node):
    """A function name used as an operand."""

    name: str


@dataclass
class Command(Node):
    args: list[Node]


@dataclass
class Pipeline(Node):
    decl: list[str]
    is_assign: bool
    commands: list[Command]


@dataclass
class SubPipeline(Node):
    """A parenthesised pipeline used as an operand."""

    pipe: Pipeline


# --- statements -----------------------------------------------------------------------------

@dataclass
class Text(Node):
    text: str


@dataclass
class Action(Node):
    pipe: Pipeline


@dataclass
class ListNode(Node):
    nodes: list[Node] = field(default_factory=list)


@dataclass
class Branch(Node):
    kind: str  # "if", "range" or "with"
    pipe: Pipeline
    body: ListNode
    else_body: ListNode | None


@dataclass
class TemplateCall(Node):
    name: str
    pipe: Pipeline | None


@dataclass
class Break(Node):
    pass


@dataclass
class Continue(Node):
    pass
