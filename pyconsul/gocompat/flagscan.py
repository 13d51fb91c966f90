"""Go's `flag` package rules for walking a command line (pure).

The scanner only finds flags and their raw values; each program converts values and words its
own help. Rules, as `flag.FlagSet.Parse` applies them:
- `-name` and `--name` are the same flag; `-name=value` or `-name value` give a value.
- A boolean flag takes no separate value: `-name` is true, `-name=false` sets it, and in
  `-name false` the `false` is the first positional argument.
- Flags end at the first argument that is not one (`-` alone counts as an argument) and right
  after `--`; the rest is positional.
- `-h` / `-help` that the program does not define ask for help.
Errors carry Go's wording, e.g. `flag provided but not defined: -x`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

HELP_NAMES = ("h", "help")

# A flag's kind as the scanner needs it: True for a boolean, False for a flag with a value,
# None for a name the program does not define.
KindLookup = Callable[[str], "bool | None"]


class FlagSyntaxError(ValueError):
    """A command line Go's flag package refuses; str() is Go's text."""


class HelpFlag(Exception):
    """`-h` or `-help` given and not defined as a flag."""


def invalid_bool(name: str, raw: str) -> FlagSyntaxError:
    return FlagSyntaxError(f'invalid boolean value "{raw}" for -{name}: parse error')


def invalid_value(name: str, raw: str, reason: str = "parse error") -> FlagSyntaxError:
    return FlagSyntaxError(f'invalid value "{raw}" for flag -{name}: {reason}')


class FlagScanner:
    """Iterate `(name, raw)` pairs in command-line order; `raw` is None for a boolean flag given
    alone. After the iteration `rest` holds the positional arguments. Iterating lazily lets a
    caller reject a bad value before later arguments are looked at, as Go does."""

    def __init__(self, argv: Sequence[str], kind_of: KindLookup) -> None:
        self._argv = list(argv)
        self._kind_of = kind_of
        self.rest: list[str] = []

    def __iter__(self) -> Iterator[tuple[str, str | None]]:
        argv, i = self._argv, 0
        while i < len(argv):
            arg = argv[i]
            if len(arg) < 2 or arg[0] != "-":
                break
            i += 1
            if arg == "--":
                break
            body = arg[2:] if arg.startswith("--") else arg[1:]
            if not body or body[0] in "-=":
                raise FlagSyntaxError(f"bad flag syntax: {arg}")
            name, has_value, raw = body.partition("=")
            is_bool = self._kind_of(name)
            if is_bool is None:
                if name in HELP_NAMES:
                    raise HelpFlag(name)
                raise FlagSyntaxError(f"flag provided but not defined: -{name}")
            if has_value:
                yield name, raw
            elif is_bool:
                yield name, None
            elif i < len(argv):
                yield name, argv[i]
                i += 1
            else:
                raise FlagSyntaxError(f"flag needs an argument: -{name}")
        self.rest = argv[i:]


def scan(argv: Sequence[str], kind_of: KindLookup) -> tuple[list[tuple[str, str | None]], list[str]]:
    """Every flag at once and the positional arguments (when no value can fail to convert)."""
    scanner = FlagScanner(argv, kind_of)
    found = list(scanner)
    return found, scanner.rest
