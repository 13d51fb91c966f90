"""Go's strconv parsing as flags and environment variables use it (pure)."""

from __future__ import annotations

# strconv.ParseBool accepts exactly these spellings; "yes", "on", "" are errors.
TRUE_WORDS = frozenset({"1", "t", "T", "TRUE", "true", "True"})
FALSE_WORDS = frozenset({"0", "f", "F", "FALSE", "false", "False"})

_DIGITS = "0123456789abcdefABCDEF_"


def parse_bool(text: str) -> bool:
    """strconv.ParseBool; ValueError worded as Go's error."""
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ValueError(f'strconv.ParseBool: parsing "{text}": invalid syntax')


def parse_int(text: str, *, unsigned: bool = False, bits: int = 64) -> int:
    """strconv.ParseInt(s, 0, bits) (or ParseUint): 0x, 0o, 0b prefixes, a leading 0 means
    octal, `_` only between digits of a prefixed number; ValueError worded as Go's error."""
    func = "ParseUint" if unsigned else "ParseInt"
    syntax = ValueError(f'strconv.{func}: parsing "{text}": invalid syntax')
    sign = text[:1]
    if unsigned and sign in ("+", "-"):
        raise syntax
    body = text[1:] if sign in ("+", "-") else text
    base, digits = 10, body
    if body[:2].lower() in ("0x", "0o", "0b"):
        base, digits = {"x": 16, "o": 8, "b": 2}[body[1].lower()], body[2:]
        # Go allows one underscore between digits, and right after the base prefix.
        digits = digits[1:] if digits.startswith("_") else digits
    elif len(body) > 1 and body.startswith("0"):
        base, digits = 8, body[1:]
        digits = digits[1:] if digits.startswith("_") else digits
    if digits.strip(_DIGITS):
        raise syntax  # Python's int() would also take spaces and non-ASCII digits
    if not digits or digits.startswith("_") or digits.endswith("_") or "__" in digits:
        raise syntax
    if "_" in digits and base == 10 and not body.startswith("0"):
        raise syntax  # underscores only with a base prefix
    try:
        value = int(digits.replace("_", ""), base)
    except ValueError:
        raise syntax from None
    value = -value if sign == "-" else value
    limit = 2**bits if unsigned else 2 ** (bits - 1)
    if not (-limit <= value < limit) or (unsigned and value < 0):
        raise ValueError(f'strconv.{func}: parsing "{text}": value out of range')
    return value
