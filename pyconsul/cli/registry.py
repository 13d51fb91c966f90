"""Command table: `consul <words...> [flags]` → a handler returning an exit code.

A command module calls `register(("kv", "put"), handler, synopsis)`; `dispatch` finds the longest
matching word path. Modules are imported lazily: for `consul <word> ...` only the modules listed
for the word in MODULE_FOR_WORD, or else `pyconsul/cli/<word>_cmd.py`, are imported (so `pyconsul
kv get` does not pay for aiohttp); listing all commands imports COMMAND_MODULES and every
`pyconsul/cli/*_cmd.py`. A new group (`tls`, `acl`, `intention`, `connect`) only has to live in
`pyconsul/cli/<word>_cmd.py`. A group word (`kv`, `catalog`...) may be registered with `register_group` to
get Consul's "Subcommands:" help.

Behaviour follows mitchellh/cli as Consul uses it: `-h/-help/--help` print help to stdout (exit
0); no command or an unknown one prints the command list (exit 127); a group word alone prints
its help to stderr (exit 1); `-v/-version/--version` before a command runs `version`.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from typing import NamedTuple

Handler = Callable[[list[str]], int]


class Command(NamedTuple):
    words: tuple[str, ...]
    handler: Handler
    synopsis: str


class Group(NamedTuple):
    words: tuple[str, ...]
    synopsis: str
    help: str


_COMMANDS: dict[tuple[str, ...], Command] = {}
_GROUPS: dict[tuple[str, ...], Group] = {}

# Modules that register commands; imported on first dispatch.
COMMAND_MODULES: list[str] = [
    "pyconsul.cli.agent_cmd",
    "pyconsul.cli.members_cmd",
    "pyconsul.cli.validate_cmd",
    "pyconsul.cli.info_cmd",
    "pyconsul.cli.membership_cmd",
    "pyconsul.cli.monitor_cmd",
    "pyconsul.cli.version_cmd",
    "pyconsul.cli.kv_read_cmd",
    "pyconsul.cli.kv_write_cmd",
    "pyconsul.cli.catalog_cmd",
    "pyconsul.cli.services_cmd",
    "pyconsul.cli.operator_cmd",
    "pyconsul.cli.snapshot_cmd",
    "pyconsul.cli.lock_cmd",
    "pyconsul.cli.watch_cmd",
    "pyconsul.cli.event_cmd",
    "pyconsul.cli.keygen_cmd",
    "pyconsul.cli.debug_cmd",
]

# First word → the modules that define it, so one command imports only what it needs.
MODULE_FOR_WORD: dict[str, tuple[str, ...]] = {
    "agent": ("pyconsul.cli.agent_cmd",),
    "members": ("pyconsul.cli.members_cmd",),
    "validate": ("pyconsul.cli.validate_cmd",),
    "info": ("pyconsul.cli.info_cmd",),
    "join": ("pyconsul.cli.membership_cmd",),
    "leave": ("pyconsul.cli.membership_cmd",),
    "force-leave": ("pyconsul.cli.membership_cmd",),
    "reload": ("pyconsul.cli.membership_cmd",),
    "monitor": ("pyconsul.cli.monitor_cmd",),
    "version": ("pyconsul.cli.version_cmd",),
    "kv": ("pyconsul.cli.kv_read_cmd", "pyconsul.cli.kv_write_cmd"),
    "catalog": ("pyconsul.cli.catalog_cmd",),
    "services": ("pyconsul.cli.services_cmd",),
    "operator": ("pyconsul.cli.operator_cmd",),
    "snapshot": ("pyconsul.cli.snapshot_cmd",),
    "lock": ("pyconsul.cli.lock_cmd",),
    "watch": ("pyconsul.cli.watch_cmd",),
    "event": ("pyconsul.cli.event_cmd",),
    "keygen": ("pyconsul.cli.keygen_cmd",),
    "debug": ("pyconsul.cli.debug_cmd",),
    "logout": ("pyconsul.cli.login_cmd",),
}

_loaded: set[str] = set()


def register(words: tuple[str, ...], handler: Handler, synopsis: str = "") -> None:
    _COMMANDS[words] = Command(words, handler, synopsis)


def register_group(words: tuple[str, ...], synopsis: str, help_text: str) -> None:
    """A word that only groups subcommands (`consul kv`); its help lists them."""
    _GROUPS[words] = Group(words, synopsis, help_text)


def _import(name: str) -> None:
    if name in _loaded:
        return
    _loaded.add(name)
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as exc:  # a command group not built yet
        if exc.name != name:
            raise


def _discovered() -> list[str]:
    """Every `pyconsul/cli/*_cmd.py`, so a new command group needs no edit here."""
    import pkgutil

    import pyconsul.cli as package

    return sorted(f"pyconsul.cli.{m.name}" for m in pkgutil.iter_modules(package.__path__)
                  if m.name.endswith("_cmd"))


def _load(first_word: str | None = None) -> None:
    if first_word is not None:
        # Fast path: the module table, else the module named after the word (`tls` → tls_cmd).
        default = (f"pyconsul.cli.{first_word.replace('-', '_')}_cmd",)
        for name in MODULE_FOR_WORD.get(first_word, default):
            _import(name)
        if any(w[0] == first_word for w in (*_COMMANDS, *_GROUPS)):
            return
    for name in [*COMMAND_MODULES, *_discovered()]:
        _import(name)


def _synopsis(words: tuple[str, ...]) -> str:
    if words in _COMMANDS and _COMMANDS[words].synopsis:
        return _COMMANDS[words].synopsis
    if words in _GROUPS:
        return _GROUPS[words].synopsis
    return ""


def program_name() -> str:
    base = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return "consul" if base in ("", "__main__.py", "-c", "-m") else base


def usage() -> str:
    lines = ["Usage: consul [--version] [--help] <command> [<args>]", "", "Available commands are:"]
    tops = sorted({w[0] for w in (*_COMMANDS, *_GROUPS)})
    width = max((len(w) for w in tops), default=10)
    for word in tops:
        syn = _synopsis((word,))
        if not syn:
            syn = next((c.synopsis for c in _COMMANDS.values() if c.words[0] == word), "")
        lines.append(f"    {word.ljust(width)}    {syn}".rstrip())
    return "\n".join(lines)


def group_help(words: tuple[str, ...]) -> str:
    """Consul's help for a command with subcommands: its text, then "Subcommands:" aligned."""
    n = len(words)
    subs = sorted({w[n] for w in (*_COMMANDS, *_GROUPS) if len(w) > n and w[:n] == words})
    group = _GROUPS.get(words)
    text = group.help.strip() if group else f"Usage: consul {' '.join(words)} <subcommand> [options] [args]"
    width = max((len(s) for s in subs), default=0)
    lines = [text, "", "Subcommands:"]
    for s in subs:
        lines.append(f"    {s.ljust(width)}    {_synopsis((*words, s))}".rstrip())
    return "\n".join(lines)


def _is_group(words: tuple[str, ...]) -> bool:
    n = len(words)
    return words in _GROUPS or any(len(w) > n and w[:n] == words for w in _COMMANDS)


def dispatch(argv: list[str]) -> int:
    try:
        return _dispatch(argv)
    except BrokenPipeError:
        _silence_stdout()
        return 1


def _silence_stdout() -> None:
    # Output piped into `head` and the like: exit quietly, as a Go program would on SIGPIPE.
    try:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silences the flush at exit
    except OSError:
        pass


def _dispatch(argv: list[str]) -> int:
    if "COMP_LINE" in os.environ:
        from pyconsul.cli.autocomplete import complete

        _load()
        return complete(os.environ, sorted(_COMMANDS), sorted(_GROUPS))
    if argv and argv[0] in ("-autocomplete-install", "--autocomplete-install",
                            "-autocomplete-uninstall", "--autocomplete-uninstall"):
        from pyconsul.cli.autocomplete import install

        return install(uninstall="uninstall" in argv[0])
    if argv and argv[0] in ("-v", "-version", "--version"):
        argv = ["version"]
    first = argv[0] if argv and not argv[0].startswith("-") else None
    _load(first)
    if first is None:
        print(usage())
        from pyconsul.cli.flags import wants_help

        return 0 if wants_help(argv) else 127
    n_words = 0
    for n in range(len(argv), 0, -1):
        words = tuple(argv[:n])
        if words in _COMMANDS:
            return _run(_COMMANDS[words], argv[n:])
        if n_words == 0 and _is_group(words):
            n_words = n
    if n_words:
        words = tuple(argv[:n_words])
        rest = argv[n_words:]
        from pyconsul.cli.flags import wants_help

        if wants_help(rest):
            print(group_help(words))
            return 0
        print(group_help(words), file=sys.stderr)
        return 1
    print(usage())
    return 127


def _run(cmd: Command, args: list[str]) -> int:
    try:
        return cmd.handler(args)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return 1
    except Exception as exc:
        # A user sees one line, as from Consul; PYCONSUL_DEBUG=1 shows the traceback.
        if os.environ.get("PYCONSUL_DEBUG"):
            raise
        print(f"Error executing CLI: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
