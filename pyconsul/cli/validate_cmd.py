"""`consul validate [-quiet] [-config-format=hcl|json] FILE|DIR...`: check config without starting."""

from __future__ import annotations

import sys

from pyconsul.cli.registry import register
from pyconsul.config.errors import ConfigError

HELP = """Usage: consul validate [options] FILE_OR_DIRECTORY...

  Performs a thorough sanity test on Consul configuration files. For each file
  or directory given, the validate command will attempt to parse the contents
  just as the "consul agent" command would, and catch any errors.

  This is useful to do a test of the configuration only, without actually
  starting the agent. This performs all of the validation the agent would, so
  this should be given the complete set of configuration files that are going
  to be loaded by the agent. This command cannot operate on partial
  configuration fragments since those won't pass the full agent validation.

  Returns 0 if the configuration is valid, or 1 if there are problems.

Command Options

  -config-format=<string>
     Config files are in this format irrespective of their extension.
     Must be 'hcl' or 'json'

  -quiet
     When given, a successful run will produce no output.

  -dev-allow-unenforced=<key>
     DEVELOPMENT ONLY. Accept the named security key although pyconsul does
     not enforce it (as the agent flag of the same name). Can be specified
     multiple times.
"""


def validate(argv: list[str]) -> int:
    quiet = False
    config_format = ""
    allow_unenforced: list[str] = []
    paths: list[str] = []
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--":
            paths.extend(args)
            break
        if not arg.startswith("-") or arg == "-" or paths:
            paths.append(arg)
            continue
        name, eq, value = arg.lstrip("-").partition("=")
        if name in ("h", "help"):
            print(HELP)
            return 0
        if name == "quiet":
            quiet = not eq or value.lower() in ("1", "t", "true")
        elif name == "config-format":
            if not eq:
                if not args:
                    print("flag needs an argument: -config-format", file=sys.stderr)
                    return 1
                value = args.pop(0)
            if value not in ("hcl", "json"):
                print(f"Config validation failed: -config-format must be 'hcl' or 'json', not {value!r}", file=sys.stderr)
                return 1
            config_format = value
        elif name == "dev-allow-unenforced":
            if not eq:
                if not args:
                    print("flag needs an argument: -dev-allow-unenforced", file=sys.stderr)
                    return 1
                value = args.pop(0)
            allow_unenforced.append(value)
        else:
            print(f"flag provided but not defined: -{name}\n\n{HELP}", file=sys.stderr)
            return 1
    if not paths:
        print("Must specify at least one config file or directory", file=sys.stderr)
        return 1
    from pyconsul.config.loader import validate_paths

    try:
        rc = validate_paths(paths, config_format, allow_unenforced)
    except ConfigError as exc:
        print(f"Config validation failed: {exc}", file=sys.stderr)
        return 1
    for warning in rc.config_warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    if not quiet:
        print("Configuration is valid!")
    return 0


register(("validate",), validate, "Validate config files/directories")
