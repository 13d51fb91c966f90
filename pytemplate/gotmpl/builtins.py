"""text/template's predefined functions (except `and`/`or`, which the executor short-circuits)."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import Any

from pytemplate.gotmpl.printf import sprintf
from pytemplate.gotmpl.values import (
    MISSING,
    ValueError_,
    basic_eq,
    basic_lt,
    sprint_value,
    truth,
    type_name,
)


def eq(a: Any, *rest: Any) -> bool:
    if not rest:
        raise ValueError_("missing argument for comparison")
    return any(basic_eq(a, b) for b in rest)


def ne(a: Any, b: Any) -> bool:
    return not basic_eq(a, b)


def lt(a: Any, b: Any) -> bool:
    return basic_lt(a, b)


def le(a: Any, b: Any) -> bool:
    return basic_lt(a, b) or basic_eq(a, b)


def gt(a: Any, b: Any) -> bool:
    return not le(a, b)


def ge(a: Any, b: Any) -> bool:
    return not basic_lt(a, b)


def not_(a: Any) -> bool:
    return not truth(a)


def length(a: Any) -> int:
    if isinstance(a, str):
        return len(a.encode())
    if isinstance(a, (list, tuple, dict, bytes, set, frozenset)):
        return len(a)
    raise ValueError_(f"len of type {type_name(a)}")


def index(item: Any, *indexes: Any) -> Any:
    if item is None or item is MISSING:
        raise ValueError_("index of untyped nil")
    for idx in indexes:
        if isinstance(item, dict):
            if idx in item:
                item = item[idx]
            else:
                # Go returns the element type's zero value: "" for the string maps Consul
                # data uses (Meta, TaggedAddresses), nil for decoded JSON objects.
                item = "" if all(isinstance(v, str) for v in item.values()) else None
        elif isinstance(item, (list, tuple, str, bytes)):
            if isinstance(idx, bool) or not isinstance(idx, int):
                raise ValueError_(f"cannot index slice/array with type {type_name(idx)}")
            if not 0 <= idx < (len(item.encode()) if isinstance(item, str) else len(item)):
                raise ValueError_(f"index out of range: {idx}")
            item = item.encode()[idx] if isinstance(item, str) else item[idx]
        elif item is None or item is MISSING:
            raise ValueError_("index of nil pointer")
        else:
            raise ValueError_(f"can't index item of type {type_name(item)}")
    return item


def slice_(item: Any, *indexes: Any) -> Any:
    if not isinstance(item, (list, tuple, str)):
        raise ValueError_(f"can't slice item of type {type_name(item)}")
    if len(indexes) > 3:
        raise ValueError_(f"too many slice indexes: {len(indexes)}")
    for i in indexes:
        if isinstance(i, bool) or not isinstance(i, int):
            raise ValueError_(f"cannot index slice/array with type {type_name(i)}")
    size = len(item)
    lo = indexes[0] if indexes else 0
    hi = indexes[1] if len(indexes) > 1 else size
    if not 0 <= lo <= hi <= size:
        raise ValueError_(f"index out of range: {hi if hi > size else lo}")
    return item[lo:hi]


def sprint(*args: Any) -> str:
    """fmt.Sprint: a space between operands when neither is a string."""
    out: list[str] = []
    for i, a in enumerate(args):
        if i > 0 and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(sprint_value(a))
    return "".join(out)


def sprintln(*args: Any) -> str:
    return " ".join(sprint_value(a) for a in args) + "\n"


def printf(fmt: str, *args: Any) -> str:
    if not isinstance(fmt, str):
        raise ValueError_(f"wrong type for value; expected string; got {type_name(fmt)}")
    return sprintf(fmt, list(args))


def _eval_args(args: tuple[Any, ...]) -> str:
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return sprint(*args)


def html(*args: Any) -> str:
    s = _eval_args(args)
    for a, b in (("&", "&amp;"), ("'", "&#39;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&#34;"),
                 ("\x00", "\ufffd")):
        s = s.replace(a, b)
    return s


def js(*args: Any) -> str:
    out: list[str] = []
    for ch in _eval_args(args):
        if ch == "\\":
            out.append("\\\\")
        elif ch == "'":
            out.append("\\'")
        elif ch == '"':
            out.append('\\"')
        elif ch in "<>&=":
            out.append(f"\\u{ord(ch):04X}")
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return "".join(out)


def urlquery(*args: Any) -> str:
    return urllib.parse.quote_plus(_eval_args(args), safe="")


def call(fn: Any, *args: Any) -> Any:
    if not callable(fn):
        raise ValueError_(f"non-function of type {type_name(fn)}")
    return fn(*args)


BUILTINS: dict[str, Callable[..., Any]] = {
    "eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge,
    "not": not_, "len": length, "index": index, "slice": slice_,
    "print": sprint, "println": sprintln, "printf": printf,
    "html": html, "js": js, "urlquery": urlquery, "call": call,
}
LAZY = frozenset({"and", "or"})
