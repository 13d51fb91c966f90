"""Command table: `consul <words...> [flags]` → a handler returning an exit code.

A command module calls `register(("kv", "put"), handler, synopsis)`; `dispatch` finds the longest
matching word path. Modules are imported lazily from COMMAND_MODULES so `pyconsul version` does not
pay for aiohttp.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass

Handler = Callable[[list[str]], int]


@dataclass(frozen=True)
class Command:
    words: tuple[str, ...]
    handler: Handler
    synopsis: str


_COMMANDS: dict[tuple[str, ...], Command] = {}

# Modules that register commands; imported on first dispatch.
COMMAND_MODULES: list[str] = [
    "pyconsul.cli.agent_cmd",
]


def register(words: tuple[str, ...], handler: Handler, synopsis: str = "") -> None:
    _COMMANDS[words] = Command(words, handler, synopsis)


def _load() -> None:
    for name in COMMAND_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a command group not built yet
            if exc.name != name:
                raise


def usage() -> str:
    lines = ["Usage: consul [--version] [--help] <command> [<args>]", "", "Available commands are:"]
    tops = sorted({c.words[0]: c for c in _COMMANDS.values()}.items())
    width = max((len(w) for w, _ in tops), default=10)
    for word, cmd in tops:
        syn = _COMMANDS.get((word,), cmd).synopsis
        lines.append(f"    {word.ljust(width)}    {syn}")
    return "\n".join(lines)


def dispatch(argv: list[str]) -> int:
    _load()
    if not argv or argv[0] in ("-h", "-help", "--help", "help"):
        print(usage(), file=sys.stderr)
        return 1 if not argv else 0
    if argv[0] in ("-v", "-version", "--version"):
        argv = ["version"]
    for n in range(len(argv), 0, -1):
        cmd = _COMMANDS.get(tuple(argv[:n]))
        if cmd is not None:
            return cmd.handler(argv[n:])
    # A group word with a missing or unknown subcommand: list what the group offers.
    subs = sorted(" ".join(c.words) for c in _COMMANDS.values() if c.words[0] == argv[0])
    if subs:
        print(f"Usage: consul {argv[0]} <subcommand> [options] [args]\n", file=sys.stderr)
        for s in subs:
            print(f"    {s}", file=sys.stderr)
        return 1
    print(f"Unknown command: {argv[0]!r}\n\n{usage()}", file=sys.stderr)
    return 1
