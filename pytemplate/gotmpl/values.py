"""Go value semantics for Python data: truth, fmt's %v printing and basic comparison.

Python data stands in for Go's: dict ↔ map (printed and ranged in key order), list/tuple ↔
slice, dataclass ↔ struct (fields by exact name), None ↔ nil and MISSING ↔ the invalid value a
missing map key yields (printed as `<no value>`).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any


class _Missing:
    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<no value>"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


class ValueError_(Exception):
    """A Go runtime error message (no position yet; the executor adds it)."""


def truth(v: Any) -> bool:
    if v is None or v is MISSING:
        return False
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float, complex)):
        return v != 0
    if isinstance(v, (str, bytes, list, tuple, dict, set, frozenset)):
        return len(v) > 0
    return True


def type_name(v: Any) -> str:
    if v is None:
        return "<nil>"
    if v is MISSING:
        return "invalid"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, (list, tuple)):
        return "[]interface {}"
    if isinstance(v, dict):
        return "map[string]interface {}"
    return type(v).__name__


def format_float(f: float, fmt: str = "g", prec: int = -1) -> str:
    """Go's strconv.FormatFloat for 'g' (shortest when prec < 0), 'e' and 'f'."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if fmt == "f":
        return f"{f:.{6 if prec < 0 else prec}f}" if prec >= 0 else _shortest_fixed(f)
    if fmt == "e":
        return _go_exp(f"{f:.{6 if prec < 0 else prec}e}")
    # 'g'
    if prec < 0:
        digits, exp = _shortest_digits(f)
        # Go: shortest %g switches to an exponent when exp < -4 or exp >= 6.
        if exp < -4 or exp >= 6:
            mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
            return _sign(f) + _go_exp(f"{mant}e{exp:+d}")
        return _sign(f) + _fixed_from_digits(digits, exp)
    return _go_exp(f"{f:.{max(prec, 1)}g}")


def _sign(f: float) -> str:
    return "-" if math.copysign(1.0, f) < 0 else ""


def _shortest_digits(f: float) -> tuple[str, int]:
    """Shortest round-tripping decimal digits of |f| and the decimal exponent of the first."""
    if f == 0:
        return "0", 0
    r = repr(abs(f))
    mant, _, e = r.partition("e")
    exp = int(e) if e else 0
    intpart, _, frac = mant.partition(".")
    if frac == "0":
        frac = ""
    digits = (intpart + frac).lstrip("0")
    lead_zeros = len(intpart + frac) - len((intpart + frac).lstrip("0"))
    point = len(intpart) + exp  # position of the decimal point from the start of intpart+frac
    first_exp = point - lead_zeros - 1
    digits = digits.rstrip("0") or "0"
    return digits, first_exp


def _fixed_from_digits(digits: str, exp: int) -> str:
    if exp < 0:
        return "0." + "0" * (-exp - 1) + digits
    if exp + 1 >= len(digits):
        return digits + "0" * (exp + 1 - len(digits))
    return digits[: exp + 1] + "." + digits[exp + 1:]


def _shortest_fixed(f: float) -> str:
    digits, exp = _shortest_digits(f)
    return _sign(f) + _fixed_from_digits(digits, exp)


def _go_exp(s: str) -> str:
    """Python writes e+6 / e+06 / e+100; Go writes at least two exponent digits."""
    mant, sep, exp = s.partition("e")
    if not sep:
        return s
    sign = exp[0] if exp[:1] in "+-" else "+"
    digits = exp.lstrip("+-").lstrip("0") or "0"
    return f"{mant}e{sign}{digits.rjust(2, '0')}"


def sprint_value(v: Any, top: bool = True) -> str:
    """fmt's %v."""
    if v is MISSING:
        return "<no value>"
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return format_float(v)
    if isinstance(v, str):
        return v
    if isinstance(v, bytes):
        return "[" + " ".join(str(b) for b in v) + "]"
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(sprint_value(x, False) for x in v) + "]"
    if isinstance(v, dict):
        items = sorted_items(v)
        return "map[" + " ".join(f"{sprint_value(k, False)}:{sprint_value(x, False)}" for k, x in items) + "]"
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        inner = " ".join(sprint_value(getattr(v, f.name), False) for f in dataclasses.fields(v))
        return ("&{" if top else "{") + inner + "}"
    return str(v)


def sorted_items(d: dict[Any, Any]) -> list[tuple[Any, Any]]:
    """Map entries in Go's order for basic keys (numbers numerically, strings bytewise)."""
    try:
        return sorted(d.items(), key=lambda kv: (kv[0] is None, kv[0]))
    except TypeError:
        return sorted(d.items(), key=lambda kv: str(kv[0]))


def kind(v: Any) -> str:
    if v is None or v is MISSING:
        return "nil"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, complex):
        return "complex"
    if isinstance(v, str):
        return "string"
    return "other"


def basic_eq(a: Any, b: Any) -> bool:
    ka, kb = kind(a), kind(b)
    if ka == "nil" or kb == "nil":
        if ka == kb:
            return True
        if kb == "nil" and ka == "other" or ka == "nil" and kb == "other":
            return False
        raise ValueError_("incompatible types for comparison")
    if ka != kb:
        raise ValueError_("incompatible types for comparison")
    if ka == "other":
        if isinstance(a, (list, dict)) or isinstance(b, (list, dict)):
            raise ValueError_(f"non-comparable type {sprint_value(a)}: {type_name(a)}")
        return bool(a == b)
    return bool(a == b)


def basic_lt(a: Any, b: Any) -> bool:
    ka, kb = kind(a), kind(b)
    if ka in ("bool", "complex", "nil", "other"):
        raise ValueError_("invalid type for comparison")
    if ka != kb:
        raise ValueError_("incompatible types for comparison")
    return bool(a < b)
