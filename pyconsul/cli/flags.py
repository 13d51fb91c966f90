"""Go-style command-line flags, as Consul's commands parse them (Go's `flag` package rules).

Rules a caller can rely on:
- `-name value`, `-name=value`, `--name` and `--name=value` are the same flag.
- A boolean flag is set by `-name` alone or `-name=false`; `-name false` leaves `false` as an argument.
- Parsing stops at the first argument that is not a flag (`-` alone counts as an argument) and
  after `--`; everything from there on is positional. So `consul lock pfx cmd -x` keeps `-x`.
- `-h`, `-help` or `--help` anywhere before `--` prints the command's help to stdout and exits 0,
  as Consul's CLI does. A bad flag prints the error and the help to stderr and exits 1.

`FlagSet.parse` raises SystemExit for those two cases so every command handles them the same way.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

from pyconsul.gocompat.durations import format_duration, parse_duration
from pyconsul.gocompat.flagscan import FlagScanner, FlagSyntaxError, HelpFlag
from pyconsul.gocompat.strconv import parse_bool, parse_int

HELP_ARGS = ("-h", "-help", "--help")


class FlagError(ValueError):
    """A command line Go's flag package would reject; the message is worded as Go words it."""


def parse_go_bool(text: str) -> bool:
    """Go's strconv.ParseBool (pyconsul.gocompat.strconv), for values commands read themselves."""
    return parse_bool(text)


def parse_go_duration(text: str) -> float:
    """Seconds for a Go duration such as `15s`, `1m30s`, `250ms`; `0` alone is allowed."""
    return parse_duration(text)


class Flag:
    # Plain class, not a dataclass: commands without HTTP options (version, keygen) never import
    # dataclasses, which costs a CLI call several milliseconds.
    __slots__ = ("name", "kind", "default", "usage", "placeholder", "group")

    def __init__(self, name: str, kind: str, default: Any, usage: str, placeholder: str = "",
                 group: str = "command") -> None:
        self.name = name
        self.kind = kind  # bool | string | int | uint | duration | list | map
        self.default = default
        self.usage = usage
        self.placeholder = placeholder
        self.group = group  # "http" flags are listed under "HTTP API Options"

    def example(self) -> str:
        """The `<word>` shown after `-name=` in help, chosen as Go's flag.UnquoteUsage does."""
        m = re.search(r"`([^`]*)`", self.usage)
        if m:
            return m.group(1)
        if self.placeholder:
            return self.placeholder
        return {"bool": "", "string": "string", "int": "int", "uint": "uint",
                "duration": "duration"}.get(self.kind, "value")

    def plain_usage(self) -> str:
        return self.usage.replace("`", "")


class Parsed:
    """Flag values by name (dashes kept) plus the positional arguments."""

    __slots__ = ("values", "args", "seen")

    def __init__(self, values: dict[str, Any], args: list[str], seen: set[str] | None = None) -> None:
        self.values = values
        self.args = args
        self.seen = seen if seen is not None else set()

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def was_set(self, name: str) -> bool:
        return name in self.seen


class FlagSet:
    """One command's flags and help text. Define flags, then `parse(argv)`."""

    def __init__(self, usage: str, synopsis: str = "") -> None:
        self.usage = usage
        self.synopsis = synopsis
        self.flags: dict[str, Flag] = {}
        self._validators: list[Callable[[Parsed], None]] = []

    # -- definitions -------------------------------------------------------------------------
    def _add(self, name: str, kind: str, default: Any, usage: str, placeholder: str, group: str) -> None:
        self.flags[name] = Flag(name, kind, default, usage, placeholder, group)

    def bool(self, name: str, default: bool, usage: str, *, group: str = "command") -> None:
        self._add(name, "bool", default, usage, "", group)

    def string(self, name: str, default: str, usage: str, *, placeholder: str = "",
               group: str = "command") -> None:
        self._add(name, "string", default, usage, placeholder, group)

    def int(self, name: str, default: int, usage: str, *, group: str = "command") -> None:
        self._add(name, "int", default, usage, "", group)

    def uint(self, name: str, default: int, usage: str, *, group: str = "command") -> None:
        self._add(name, "uint", default, usage, "", group)

    def duration(self, name: str, default: float, usage: str, *, group: str = "command") -> None:
        self._add(name, "duration", default, usage, "", group)

    def list(self, name: str, usage: str, *, placeholder: str = "", group: str = "command") -> None:
        """A repeatable flag collecting every value in order."""
        self._add(name, "list", None, usage, placeholder, group)

    def map(self, name: str, usage: str, *, placeholder: str = "", group: str = "command") -> None:
        """A repeatable `key=value` flag collecting a dict."""
        self._add(name, "map", None, usage, placeholder, group)

    # -- parsing ------------------------------------------------------------------------------
    def _convert(self, flag: Flag, raw: str, current: Any) -> Any:
        try:
            if flag.kind == "bool":
                return parse_go_bool(raw)
            if flag.kind in ("int", "uint"):
                return parse_int(raw, unsigned=flag.kind == "uint")
            if flag.kind == "duration":
                return parse_go_duration(raw)
            if flag.kind == "list":
                return [*(current or []), raw]
            if flag.kind == "map":
                key, sep, value = raw.partition("=")
                if not sep:
                    raise ValueError(f"Missing = in argument: {raw}")
                return {**(current or {}), key: value}
        except ValueError as exc:
            if flag.kind == "bool":
                raise FlagError(f'invalid boolean value "{raw}" for -{flag.name}: parse error') from None
            if flag.kind == "duration":
                raise FlagError(f'invalid value "{raw}" for flag -{flag.name}: parse error') from None
            if flag.kind == "map":
                raise FlagError(f'invalid value "{raw}" for flag -{flag.name}: {exc}') from None
            raise FlagError(f'invalid value "{raw}" for flag -{flag.name}: parse error') from None
        return raw

    def parse_args(self, argv: list[str]) -> Parsed:
        """Pure parse: raises FlagError with Go's wording; no printing, no exiting."""
        values: dict[str, Any] = {}
        for f in self.flags.values():
            values[f.name] = ([] if f.kind == "list" else {}) if f.kind in ("list", "map") else f.default
        seen: set[str] = set()
        scanner = FlagScanner(argv, self._kind_of)
        try:
            for name, raw in scanner:
                flag = self.flags[name]
                values[name] = True if raw is None else self._convert(flag, raw, values.get(name))
                seen.add(name)
        except HelpFlag as asked:
            # `-help` alone never gets here (wants_help); `-help=x` is just an unknown flag.
            raise FlagError(f"flag provided but not defined: -{asked.args[0]}") from None
        except FlagSyntaxError as exc:
            raise FlagError(str(exc)) from None
        parsed = Parsed(values, scanner.rest, seen)
        for check in self._validators:
            check(parsed)
        return parsed

    def _kind_of(self, name: str) -> bool | None:
        flag = self.flags.get(name)
        return None if flag is None else flag.kind == "bool"

    def parse(self, argv: list[str]) -> Parsed:
        """Parse for a command: help → stdout, exit 0; a bad flag → stderr with help, exit 1."""
        if wants_help(argv):
            print(self.help())
            raise SystemExit(0)
        try:
            return self.parse_args(argv)
        except FlagError as exc:
            # What Go's flag package prints on its own (Consul's commands keep its default usage).
            print(str(exc), file=sys.stderr)
            print("Usage:", file=sys.stderr)
            print(self.go_defaults(), file=sys.stderr)
            raise SystemExit(1) from None

    # -- help ---------------------------------------------------------------------------------
    def go_defaults(self) -> str:
        """Go's FlagSet.PrintDefaults: flags sorted, `  -name type` then the usage on a tab-indented
        line, non-zero defaults appended (strings quoted)."""
        out: list[str] = []
        for name in sorted(self.flags):
            f = self.flags[name]
            # HTTP options are Consul's own flag.Value types: Go calls their argument "value".
            word = "value" if f.group == "http" and f.kind == "string" and "`" not in f.usage else f.example()
            head = f"  -{name}" + (f" {word}" if word else "")
            line = head + ("\t" if len(head) <= 4 else "\n    \t") + f.plain_usage().replace("\n", "\n    \t")
            default = f.default
            if f.kind == "string" and default and f.group != "http":
                line += f' (default "{default}")'
            elif f.kind == "bool" and default:
                line += " (default true)"
            elif f.kind in ("int", "uint") and default:
                line += f" (default {default})"
            elif f.kind == "duration" and default:
                line += f" (default {format_duration(default)})"
            out.append(line)
        return "\n".join(out)

    def help(self) -> str:
        """Consul's layout: usage text, then `HTTP API Options`, then `Command Options`."""
        out = [self.usage.strip(), ""]
        for title, group in (("HTTP API Options", "http"), ("Command Options", "command")):
            # Go's VisitAll: each group in name order. The usage is printed as written,
            # back-quotes included, wrapped like kr/text at 72 columns less the indent.
            members = sorted((f for f in self.flags.values() if (f.group == "http") == (group == "http")),
                             key=lambda f: f.name)
            if not members:
                continue
            out += [title, ""]
            for f in members:
                ex = f.example()
                out.append(f"  -{f.name}=<{ex}>" if ex else f"  -{f.name}")
                out += ["     " + line for line in wrap_min_raggedness(f.usage, 72 - 5)]
                out.append("")
        return "\n".join(out).rstrip("\n")


def wrap_min_raggedness(text: str, limit: int, penalty: int = 100_000) -> list[str]:
    """kr/text.Wrap, which Consul's help uses: line breaks that minimise the sum of squared
    shortfalls from `limit` over all lines but the last (not greedy filling)."""
    words = text.strip().replace("\n", " ").split(" ")
    n = len(words)
    if n == 0:
        return [""]
    width = [len(w) for w in words]
    cost = [0] * (n + 1)
    brk = [n] * n
    for i in range(n - 1, -1, -1):
        line = sum(width[i:]) + (n - 1 - i)
        if line <= limit or i == n - 1:
            cost[i], brk[i] = 0, n
            continue
        best, length = None, width[i]
        for j in range(i + 1, n):
            # `length` is words[i:j] joined by single spaces.
            c = (limit - length) ** 2 + cost[j] + (penalty if length > limit else 0)
            if best is None or c < best:
                best, brk[i] = c, j
            length += 1 + width[j]
        cost[i] = best if best is not None else 0
    lines, i = [], 0
    while i < n:
        lines.append(" ".join(words[i:brk[i]]))
        i = brk[i]
    return lines


def wants_help(argv: list[str]) -> bool:
    """True when a help flag appears before any `--`, as Consul's CLI checks."""
    for arg in argv:
        if arg == "--":
            return False
        if arg in HELP_ARGS:
            return True
    return False
