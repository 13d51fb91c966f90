"""Go's fmt.Sprintf for the verbs templates use (%v %s %q %d %x %X %o %b %c %e %f %g %t %%).

Wrong types render as Go does (`%!d(string=x)`), as do missing (`%!d(MISSING)`) and extra
arguments (`%!(EXTRA int=1)`), so a template never crashes on a format mismatch.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from pytemplate.gotmpl.values import MISSING, format_float, sprint_value, type_name

_SPEC = re.compile(r"%([-+# 0]*)(\*|\d+)?(?:\.(\*|\d*))?(.)", re.S)


def go_quote(s: str) -> str:
    """strconv.Quote: double-quoted with Go escapes."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch in "\a\b\f\n\r\t\v":
            out.append({"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
                        "\t": "\\t", "\v": "\\v"}[ch])
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif not ch.isprintable():
            out.append(f"\\u{o:04x}" if o <= 0xFFFF else f"\\U{o:08x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _bad(verb: str, v: Any) -> str:
    if v is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({type_name(v)}={sprint_value(v)})"


def _pad(s: str, flags: str, width: int | None, numeric: bool) -> str:
    if width is None or len(s) >= width:
        return s
    if "-" in flags:
        return s.ljust(width)
    if "0" in flags and numeric:
        sign = s[0] if s[:1] in "+- " else ""
        body = s[len(sign):]
        return sign + body.rjust(width - len(sign), "0")
    return s.rjust(width)


def _sign(s: str, flags: str, negative: bool) -> str:
    if negative:
        return s
    if "+" in flags:
        return "+" + s
    if " " in flags:
        return " " + s
    return s


def _format_int(v: int, verb: str, flags: str, prec: int | None) -> str:
    neg = v < 0
    a = abs(v)
    base = {"d": "d", "x": "x", "X": "X", "o": "o", "O": "o", "b": "b"}[verb]
    digits = format(a, base)
    if prec is not None:
        digits = digits.rjust(prec, "0") if not (prec == 0 and a == 0) else ""
    if "#" in flags:
        digits = {"x": "0x", "X": "0X", "o": "0", "b": ""}.get(verb, "") + digits
    if verb == "O":
        digits = "0o" + digits
    return _sign(("-" if neg else "") + digits, flags, neg)


def _format_float(v: float, verb: str, flags: str, prec: int | None) -> str:
    lower = verb.lower()
    if lower in ("e", "f"):
        s = format_float(v, lower, 6 if prec is None else prec)
    else:
        s = format_float(v, "g", -1 if prec is None else prec)
    if verb in ("E", "G"):
        s = s.upper()
    return _sign(s, flags, s.startswith("-"))


def format_one(verb: str, flags: str, width: int | None, prec: int | None, v: Any) -> str:
    numeric = False
    if verb in ("v", "s") and v is MISSING:
        s = "<no value>" if verb == "v" else _bad(verb, v)
    elif verb == "v":
        if isinstance(v, float):
            s, numeric = _format_float(v, "g", flags, prec), True
        elif isinstance(v, int) and not isinstance(v, bool):
            s, numeric = _format_int(v, "d", flags, prec), True
        elif "+" in flags and dataclasses.is_dataclass(v) and not isinstance(v, type):
            inner = " ".join(f"{f.name}:{sprint_value(getattr(v, f.name), False)}"
                             for f in dataclasses.fields(v))
            s = "&{" + inner + "}"
        else:
            s = sprint_value(v)
    elif verb == "s":
        if isinstance(v, str):
            s = v
        elif isinstance(v, (list, tuple)) and all(isinstance(x, str) for x in v):
            s = "[" + " ".join(v) + "]"
        elif isinstance(v, bytes):
            s = v.decode("utf-8", "replace")
        else:
            s = _bad(verb, v)
        if prec is not None and isinstance(v, str):
            s = s[:prec]
    elif verb == "q":
        if isinstance(v, str):
            s = go_quote(v)
        elif isinstance(v, int) and not isinstance(v, bool):
            s = "'" + go_quote(chr(v))[1:-1].replace("'", "\\'") + "'"
        elif isinstance(v, (list, tuple)) and all(isinstance(x, str) for x in v):
            s = "[" + " ".join(go_quote(x) for x in v) + "]"
        else:
            s = _bad(verb, v)
    elif verb in "dxXoObc":
        if isinstance(v, bool) or not isinstance(v, int):
            if verb in "xX" and isinstance(v, str):
                s = v.encode().hex()
                s = s.upper() if verb == "X" else s
            elif isinstance(v, (list, tuple)) and all(isinstance(x, int) and not isinstance(x, bool) for x in v):
                s = "[" + " ".join(format_one(verb, flags, None, prec, x) for x in v) + "]"
            else:
                s = _bad(verb, v)
        elif verb == "c":
            s = chr(v)
        else:
            s, numeric = _format_int(v, verb, flags, prec), True
    elif verb in "eEfFgG":
        if isinstance(v, float):
            s, numeric = _format_float(v, verb if verb != "F" else "f", flags, prec), True
        else:
            s = _bad(verb, v)
    elif verb == "t":
        s = ("true" if v else "false") if isinstance(v, bool) else _bad(verb, v)
    elif verb == "U":
        s = f"U+{v:04X}" if isinstance(v, int) and not isinstance(v, bool) else _bad(verb, v)
    else:
        s = _bad(verb, v)
    return _pad(s, flags, width, numeric)


def sprintf(fmt: str, args: list[Any]) -> str:
    out: list[str] = []
    argi = 0
    pos = 0
    while True:
        i = fmt.find("%", pos)
        if i < 0:
            out.append(fmt[pos:])
            break
        out.append(fmt[pos:i])
        m = _SPEC.match(fmt, i)
        if not m:
            out.append("%!(NOVERB)")
            break
        flags, width_s, prec_s, verb = m.groups()
        pos = m.end()
        if verb == "%":
            out.append("%")
            continue
        width: int | None = None
        prec: int | None = None
        if width_s == "*":
            if argi < len(args) and isinstance(args[argi], int):
                width = args[argi]
                if width < 0:
                    flags += "-"
                    width = -width
            else:
                out.append("%!(BADWIDTH)")
            argi += 1
        elif width_s:
            width = int(width_s)
        if prec_s == "*":
            if argi < len(args) and isinstance(args[argi], int):
                prec = args[argi]
            else:
                out.append("%!(BADPREC)")
            argi += 1
        elif prec_s is not None:
            prec = int(prec_s) if prec_s else 0
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        out.append(format_one(verb, flags, width, prec, args[argi]))
        argi += 1
    if argi < len(args):
        extra = ", ".join(
            "<nil>" if a is None else f"{type_name(a)}={sprint_value(a)}" for a in args[argi:]
        )
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)
