"""Go `flag` package parsing, so registrator's command lines work unchanged (pure).

`-name value`, `-name=value`, `--name=value`; booleans take no separate value (`-cleanup`,
`-cleanup=false`); parsing stops at the first argument that is not a flag, or after `--`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pyconsul.gocompat.flagscan import FlagScanner, FlagSyntaxError, HelpFlag, invalid_bool, invalid_value
from pyconsul.gocompat.strconv import parse_bool, parse_int

Kind = Literal["bool", "int", "string"]


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


def parse(
    flags: Sequence[Flag], argv: Sequence[str]
) -> tuple[dict[str, bool | int | str], list[str]]:
    """Values by flag name (defaults filled in) and the remaining positional arguments."""
    by_name = {f.name: f for f in flags}
    values: dict[str, bool | int | str] = {f.name: f.default for f in flags}
    scanner = FlagScanner(argv, lambda name: None if name not in by_name else by_name[name].kind == "bool")
    try:
        for name, raw in scanner:
            values[name] = _convert(by_name[name], raw)
    except HelpFlag:
        raise HelpRequested() from None
    except FlagSyntaxError as exc:
        raise FlagError(str(exc)) from None
    return values, scanner.rest


def _convert(flag: Flag, raw: str | None) -> bool | int | str:
    if raw is None:
        return True  # a boolean given alone
    try:
        if flag.kind == "bool":
            return parse_bool(raw)
        if flag.kind == "int":
            return parse_int(raw)
    except ValueError:
        raise (invalid_bool if flag.kind == "bool" else invalid_value)(flag.name, raw) from None
    return raw


def usage(program: str, flags: Sequence[Flag], synopsis: str) -> str:
    lines = [f"Usage of {program}:", f"  {program} [options] {synopsis}", ""]
    for f in flags:
        kind = "" if f.kind == "bool" else f" {f.kind}"
        lines.append(f"  -{f.name}{kind}")
        default = f" (default {f.default!r})" if f.default not in ("", 0, False) else ""
        lines.append(f"    \t{f.usage}{default}")
    return "\n".join(lines) + "\n"
