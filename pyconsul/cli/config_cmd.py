"""`consul config write|read|list|delete`: central config entries over /v1/config.

Outputs and texts as Consul's command/config/*: `Config entry written: <kind>/<name>` (or `Config
entry not updated: …` when -cas loses), `read` prints the entry as indented JSON, `list` one name
per line, `delete` prints `Config entry deleted: <kind>/<name>` (`not deleted` when -cas loses).
`write` takes a file or `-` (stdin), HCL or JSON, with CamelCase or snake_case keys.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from pyconsul.cli.common import connect, new_flags
from pyconsul.cli.http import ConsulError
from pyconsul.cli.output import error, go_json, info
from pyconsul.cli.registry import register, register_group
from pyconsul.config.errors import ConfigError
from pyconsul.config.sources import Source, parse_raw
from pyconsul.entries.decode import decode_struct

GROUP_HELP = """
Usage: consul config <subcommand> [options] [args]

  This command has subcommands for interacting with Consul's centralized
  configuration system. Here are some simple examples, and more detailed
  examples are available in the subcommands or the documentation.

  Write a config:

    $ consul config write web.serviceconf.hcl

  Read a config:

    $ consul config read -kind service-defaults -name web

  List all configs for a type:

    $ consul config list -kind service-defaults

  Delete a config:

    $ consul config delete -kind service-defaults -name web

  For more examples, ask for subcommand help or view the documentation.
"""

WRITE_HELP = """
Usage: consul config write [options] <configuration>

  Request a config entry to be created or updated. The configuration
  argument is either a file path or '-' to indicate that the config
  should be read from stdin. The data should be either in HCL or
  JSON form.

  Example (from file):

    $ consul config write web.service.hcl

  Example (from stdin):

    $ consul config write -
"""

READ_HELP = """
Usage: consul config read [options] -kind <config kind> -name <config name>

  Reads the config entry specified by the given kind and name and outputs its
  JSON representation.

  Example:

    $ consul config read -kind proxy-defaults -name global
"""

LIST_HELP = """
Usage: consul config list [options] -kind <config kind>

  Lists all of the config entries for a given kind. The -kind parameter
  is required.

  Example:

    $ consul config list -kind service-defaults
"""

DELETE_HELP = """
Usage: consul config delete [options] ([-kind <config kind> -name <config name>] | [-filename <file>])

  Deletes the configuration entry specified by the kind and name or by the filename.

  Example:

    $ consul config delete -kind service-defaults -name web
    $ consul config delete -filename service-defaults-web.hcl
"""


class _InputError(Exception):
    pass


def parse_entry(text: str, name: str = "-") -> dict[str, Any]:
    """A config entry file's contents (JSON, else HCL) with Consul's field spelling."""
    try:
        raw = json.loads(text)
    except ValueError:
        try:
            raw = parse_raw(Source(name, "hcl", text))
        except ConfigError as exc:
            raise _InputError(f"Failed to decode config entry input: {exc}") from None
    if not isinstance(raw, dict):
        raise _InputError("Failed to decode config entry input: not an object")
    entry = decode_struct(raw)
    if not entry.get("Kind"):
        raise _InputError("Failed to decode config entry input: Payload does not contain a kind/Kind key at the "
                          "top level")
    return entry


def _read_input(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except OSError as exc:
        raise _InputError(f"Failed to read file: {exc}") from None


def write(argv: list[str]) -> int:
    fs = new_flags(WRITE_HELP)
    fs.bool("cas", False, "Perform a Check-And-Set operation. Specifying this value also requires the "
            "-modify-index flag to be set. The default value is false.")
    fs.uint("modify-index", 0, "Unsigned integer representing the ModifyIndex of the config entry. This is "
            "used in combination with the -cas flag.")
    opts = fs.parse(argv)
    if len(opts.args) != 1:
        error("Must provide exactly one positional argument to specify the config entry to write")
        return 1
    try:
        entry = parse_entry(_read_input(opts.args[0]), opts.args[0])
    except _InputError as exc:
        error(str(exc))
        return 1
    what = f"{entry.get('Kind')}/{entry.get('Name', '')}"
    params = {"cas": str(opts["modify-index"])} if opts["cas"] else None
    client = connect(opts)
    try:
        ok = client.put_json("/v1/config", entry, params).json()
    except ConsulError as exc:
        error(f"Error writing config entry {what}: {exc}")
        return 1
    if not ok:
        error(f"Config entry not updated: {what}")
        return 1
    info(f"Config entry written: {what}")
    return 0


def _kind_name(opts: Any, need_name: bool = True) -> str | None:
    if not opts["kind"]:
        return "Must specify the -kind parameter"
    if need_name and not opts["name"]:
        return "Must specify the -name parameter"
    return None


def read(argv: list[str]) -> int:
    fs = new_flags(READ_HELP)
    fs.string("kind", "", "The kind of configuration to read.")
    fs.string("name", "", "The name of configuration to read.")
    opts = fs.parse(argv)
    if problem := _kind_name(opts):
        error(problem)
        return 1
    client = connect(opts)
    try:
        entry, _ = client.get_json(f"/v1/config/{opts['kind']}/{opts['name']}")
    except ConsulError as exc:
        error(f"Error reading config entry {opts['kind']}/{opts['name']}: {exc}")
        return 1
    info(go_json(entry, indent="    "))
    return 0


def list_(argv: list[str]) -> int:
    fs = new_flags(LIST_HELP)
    fs.string("kind", "", "The kind of configurations to list.")
    fs.string("filter", "", "Filter to use with the request.")
    opts = fs.parse(argv)
    if problem := _kind_name(opts, need_name=False):
        error(problem)
        return 1
    params = {"filter": opts["filter"]} if opts["filter"] else None
    client = connect(opts)
    try:
        entries, _ = client.get_json(f"/v1/config/{opts['kind']}", params)
    except ConsulError as exc:
        error(f"Error listing config entries for kind \"{opts['kind']}\": {exc}")
        return 1
    for entry in entries:
        info(entry.get("Name", ""))
    return 0


def delete(argv: list[str]) -> int:
    fs = new_flags(DELETE_HELP)
    fs.string("kind", "", "The kind of configuration to delete.")
    fs.string("name", "", "The name of configuration to delete.")
    fs.string("filename", "", "The filename of the config entry to delete")
    fs.bool("cas", False, "Perform a Check-And-Set operation. Specifying this value also requires the "
            "-modify-index flag to be set. The default value is false.")
    fs.uint("modify-index", 0, "Unsigned integer representing the ModifyIndex of the config entry. This is "
            "used in combination with the -cas flag.")
    opts = fs.parse(argv)
    kind, name = opts["kind"], opts["name"]
    if opts["filename"]:
        if kind or name:
            error("filename can't be used with kind or name")
            return 1
        try:
            entry = parse_entry(_read_input(opts["filename"]), opts["filename"])
        except _InputError as exc:
            error(str(exc))
            return 1
        kind, name = entry.get("Kind", ""), entry.get("Name", "")
    elif not kind:
        error("Must specify the -kind parameter")
        return 1
    elif not name:
        error("Must specify the -name parameter")
        return 1
    if opts["cas"] and not opts["modify-index"]:
        error("Must specify a -modify-index greater than 0 with -cas")
        return 1
    if opts["modify-index"] and not opts["cas"]:
        error("Cannot specify -modify-index without -cas")
        return 1
    params = {"cas": str(opts["modify-index"])} if opts["cas"] else None
    client = connect(opts)
    try:
        resp = client.request("DELETE", f"/v1/config/{kind}/{name}", params)
    except ConsulError as exc:
        error(f"Error deleting config entry {kind}/{name}: {exc}")
        return 1
    if opts["cas"] and resp.json() is not True:
        error(f"Config entry not deleted: {kind}/{name}")
        return 1
    info(f"Config entry deleted: {kind}/{name}")
    return 0


register_group(("config",), "Interact with Consul's Centralized Configurations", GROUP_HELP)
register(("config", "write"), write, "Create or update a centralized config entry")
register(("config", "read"), read, "Read a centralized config entry")
register(("config", "list"), list_, "List centralized config entries of a given kind")
register(("config", "delete"), delete, "Delete a centralized config entry")
