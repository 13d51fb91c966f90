"""Go `flag` package parsing, so registrator's command lines work unchanged (pure).

`-name value`, `-name=value`, `--name=value`; booleans take no separate value (`-cleanup`,
`-cleanup=false`); parsing stops at the first argument that is not a flag, or after `--`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Kind = Literal["bool", "int", "string"]

_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


class FlagError(ValueError):
    """A command line the Go flag package would refuse (exit status 2)."""


class HelpRequested(Exception):
    """-h or -help."""


@dataclass(frozen=True)
class Flag:
    name: str
    kind: Kind
    default: bool | int | str
    usage: str


def _go_int(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        return int(text, 10)  # Go reads "010" as octal; a leading zero is rare enough here


def parse(
    flags: Sequence[Flag], argv: Sequence[str]
) -> tuple[dict[str, bool | int | str], list[str]]:
    """Values by flag name (defaults filled in) and the remaining positional arguments."""
    by_name = {f.name: f for f in flags}
    values: dict[str, bool | int | str] = {f.name: f.default for f in flags}
    args = list(argv)
    while args:
        arg = args[0]
        if len(arg) < 2 or arg[0] != "-":
            break
        args.pop(0)
        if arg == "--":
            break
        name = arg[2:] if arg.startswith("--") else arg[1:]
        if not name or name[0] in "-=":
            raise FlagError(f"bad flag syntax: {arg}")
        value: str | None = None
        if "=" in name:
            name, value = name.split("=", 1)
        if name in ("h", "help") and name not in by_name:
            raise HelpRequested()
        flag = by_name.get(name)
        if flag is None:
            raise FlagError(f"flag provided but not defined: -{name}")
        if flag.kind == "bool":
            if value is None:
                values[name] = True
            elif value in _TRUE:
                values[name] = True
            elif value in _FALSE:
                values[name] = False
            else:
                raise FlagError(f'invalid boolean value "{value}" for -{name}: parse error')
            continue
        if value is None:
            if not args:
                raise FlagError(f"flag needs an argument: -{name}")
            value = args.pop(0)
        if flag.kind == "int":
            try:
                values[name] = _go_int(value)
            except ValueError:
                raise FlagError(f'invalid value "{value}" for flag -{name}: parse error') from None
        else:
            values[name] = value
    return values, args


def usage(program: str, flags: Sequence[Flag], synopsis: str) -> str:
    lines = [f"Usage of {program}:", f"  {program} [options] {synopsis}", ""]
    for f in flags:
        kind = "" if f.kind == "bool" else f" {f.kind}"
        lines.append(f"  -{f.name}{kind}")
        default = f" (default {f.default!r})" if f.default not in ("", 0, False) else ""
        lines.append(f"    \t{f.usage}{default}")
    return "\n".join(lines) + "\n"
