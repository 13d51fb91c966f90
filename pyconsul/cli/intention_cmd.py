"""`consul intention create|delete|get|check|list|match` with Consul's lines and exit codes.

`create` POSTs the legacy endpoint (as Consul's CLI does) and prints `Created: web => db (allow)`;
`-replace` updates an existing pair instead (silently, as Consul). `check` exits 0 Allowed,
1 Denied, 2 on error; `list` with none prints `There are no intentions.` and exits 2.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import quote

from pyconsul.cli.common import connect, new_flags
from pyconsul.cli.http import Client, ConsulError
from pyconsul.cli.output import columnize, error, info
from pyconsul.cli.registry import register, register_group
from pyconsul.connect.intentions import describe

Row = dict[str, Any]

GROUP_HELP = """
Usage: consul intention <subcommand> [options] [args]

  This command has subcommands for interacting with intentions. Intentions
  are permissions describing which services are allowed to communicate via
  Connect. Here are some simple examples, and more detailed examples are
  available in the subcommands or the documentation.

  Create an intention to allow "web" to talk to "db":

      $ consul intention create web db

  Test whether a "web" is allowed to connect to "db":

      $ consul intention check web db

  Find all intentions for communicating to the "db" service:

      $ consul intention match db

  For more examples, ask for subcommand help or view the documentation.
"""

CREATE_HELP = """
Usage: consul intention create [options] SRC DST
Usage: consul intention create [options] -file FILE...

  Create one or more intentions. The data can be specified as a single
  source and destination pair or via a set of files when the "-file" flag
  is specified.

      $ consul intention create web db

  To consume data from a set of files:

      $ consul intention create -file one.json two.json

  When specifying the "-file" flag, "-" may be used once to read from stdin:

      $ echo "{ ... }" | consul intention create -file -

  An "allow" intention is created by default (allowlist). To create a
  "deny" intention, the "-deny" flag should be specified.

  If a conflicting intention is found, creation will fail. To replace any
  conflicting intentions, specify the "-replace" flag. This will replace any
  conflicting intentions with the intention specified in this command.
  Metadata and any other fields of the previous intention will not be
  preserved.

  Additional flags and more advanced use cases are detailed below.
"""


def _split(name: str) -> str:
    return name.rpartition("/")[2]


def _exact_params(src: str, dst: str) -> dict[str, str]:
    return {"source": src, "destination": dst}


def _find(client: Client, src: str, dst: str) -> Row | None:
    resp = client.request("GET", "/v1/connect/intentions/exact", _exact_params(src, dst), ok=(200, 404))
    return None if resp.status == 404 else dict(resp.json())


def _from_files(paths: list[str]) -> list[Row]:
    import sys

    out: list[Row] = []
    for path in paths:
        text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
        data = json.loads(text)
        out.extend(data if isinstance(data, list) else [data])
    return out


def create(argv: list[str]) -> int:
    fs = new_flags(CREATE_HELP)
    fs.bool("allow", False, "Create an intention that allows when matched.")
    fs.bool("deny", False, "Create an intention that denies when matched.")
    fs.bool("file", False, "Read intention data from one or more files.")
    fs.bool("replace", False, "Replace matching intentions.")
    fs.map("meta", "Metadata to set on the intention, formatted as key=value. This flag may be "
           "specified multiple times to set multiple meta fields.", placeholder="key=value")
    opts = fs.parse(argv)
    if opts["allow"] and opts["deny"]:
        error("Only one of -allow or -deny may be specified.")
        return 1
    try:
        if opts["file"]:
            ixns = _from_files(opts.args)
        elif len(opts.args) != 2:
            error("Error: Must specify two arguments: source and destination")
            return 1
        else:
            ixns = [{"SourceName": _split(opts.args[0]), "DestinationName": _split(opts.args[1]),
                     "SourceType": "consul", "Action": "deny" if opts["deny"] else "allow",
                     "Meta": dict(opts["meta"] or {})}]
    except (OSError, ValueError) as exc:
        error(f"Error reading intention files: {exc}")
        return 1
    client = connect(opts)
    for ixn in ixns:
        src, dst = str(ixn.get("SourceName", "")), str(ixn.get("DestinationName", ""))
        if opts["replace"]:
            try:
                old = _find(client, src, dst)
            except ConsulError as exc:
                error(f"Error looking up intention for replacement with source {src!r} and "
                      f"destination {dst!r}: {exc}")
                return 1
            if old is not None:
                try:
                    if old.get("ID"):
                        client.request("PUT", f"/v1/connect/intentions/{quote(old['ID'])}", None, json.dumps(ixn))
                    else:
                        client.request("PUT", "/v1/connect/intentions/exact", _exact_params(src, dst),
                                       json.dumps({k: v for k, v in ixn.items() if k != "Meta"}))
                except ConsulError as exc:
                    error(f"Error replacing intention with source {src!r} and destination {dst!r}: {exc}")
                    return 1
                continue
        try:
            client.request("POST", "/v1/connect/intentions", None, json.dumps(ixn))
        except ConsulError as exc:
            error(f'Error creating intention "{describe(ixn)}": {exc}')
            return 1
        info(f"Created: {describe(ixn)}")
    return 0


DELETE_HELP = """
Usage: consul intention delete [options] SRC DST
Usage: consul intention delete [options] ID

  Delete an intention. This cannot be reversed. The intention can be looked
  up via an exact source/destination match or via the unique intention ID.

      $ consul intention delete web db
"""


def delete(argv: list[str]) -> int:
    opts = new_flags(DELETE_HELP).parse(argv)
    if len(opts.args) not in (1, 2):
        error("command requires exactly 1 or 2 arguments")
        return 1
    client = connect(opts)
    try:
        if len(opts.args) == 2:
            client.request("DELETE", "/v1/connect/intentions/exact",
                           _exact_params(_split(opts.args[0]), _split(opts.args[1])))
        else:
            client.request("DELETE", f"/v1/connect/intentions/{quote(opts.args[0], safe='')}")
    except ConsulError as exc:
        error(f"Error deleting the intention: {exc}")
        return 1
    info("Intention deleted.")
    return 0


CHECK_HELP = """
Usage: consul intention check [options] SRC DST

  Check whether a connection between SRC and DST would be allowed by
  Connect given the current Consul configuration.

      $ consul intention check web db

  The exit code is 0 if allowed, 1 if denied, and 2 on any error.
"""


def check(argv: list[str]) -> int:
    opts = new_flags(CHECK_HELP).parse(argv)
    if len(opts.args) != 2:
        error("Error: command requires exactly two arguments: src and dst")
        return 2
    try:
        resp = connect(opts).request("GET", "/v1/connect/intentions/check",
                                     _exact_params(_split(opts.args[0]), _split(opts.args[1])))
        allowed = bool(resp.json().get("Allowed"))
    except ConsulError as exc:
        error(f"Error checking the connection: {exc}")
        return 2
    info("Allowed" if allowed else "Denied")
    return 0 if allowed else 1


GET_HELP = """
Usage: consul intention get [options] SRC DST
Usage: consul intention get [options] ID

  Read a specific intention.
"""


def _created_at(text: str) -> str:
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone()
    except ValueError:
        return text
    return t.strftime("%A, %d-%b-%y %H:%M:%S %Z")  # Go's time.RFC850 in the local zone


def get(argv: list[str]) -> int:
    opts = new_flags(GET_HELP).parse(argv)
    if len(opts.args) not in (1, 2):
        error("command requires exactly 1 or 2 arguments")
        return 1
    client = connect(opts)
    try:
        if len(opts.args) == 2:
            src, dst = _split(opts.args[0]), _split(opts.args[1])
            ixn = _find(client, src, dst)
            if ixn is None:
                error(f"Error reading the intention: Intention with source {src!r} and destination {dst!r} not found.")
                return 1
        else:
            ixn = dict(client.request("GET", f"/v1/connect/intentions/{quote(opts.args[0], safe='')}").json())
    except ConsulError as exc:
        error(f"Error reading the intention: {exc}")
        return 1
    rows: list[list[str]] = [["Source:", ixn["SourceName"]], ["Destination:", ixn["DestinationName"]]]
    if ixn.get("Action"):
        rows.append(["Action:", ixn["Action"]])
    if ixn.get("ID"):
        rows.append(["ID:", ixn["ID"]])
    if ixn.get("Description"):
        rows.append(["Description:", ixn["Description"]])
    for k in sorted(ixn.get("Meta") or {}):
        rows.append([f"Meta[{k}]:", str(ixn["Meta"][k])])
    if ixn.get("CreatedAt"):
        rows.append(["Created At:", _created_at(ixn["CreatedAt"])])
    info(columnize(rows))
    if ixn.get("Permissions"):
        info("")
        info("Permissions:")
        info(json.dumps(ixn["Permissions"], indent=2))
    return 0


LIST_HELP = """
Usage: consul intention list

  List all intentions.
"""


def list_(argv: list[str]) -> int:
    opts = new_flags(LIST_HELP).parse(argv)
    try:
        ixns = connect(opts).request("GET", "/v1/connect/intentions").json()
    except ConsulError as exc:
        error(f"Failed to retrieve the intention list: {exc}")
        return 1
    if not ixns:
        error("There are no intentions.")
        return 2
    rows = [["ID", "Source", "Action", "Destination", "Precedence"]]
    for ixn in ixns:
        rows.append([ixn.get("ID", ""), ixn["SourceName"], ixn.get("Action", ""), ixn["DestinationName"],
                     str(ixn["Precedence"])])
    info(columnize(rows))
    return 0


MATCH_HELP = """
Usage: consul intention match [options] SRC|DST

  Show the list of intentions that would be enforced for a given source
  or destination. The intentions are listed in the order they would be
  evaluated.

      $ consul intention match db
      $ consul intention match -source web
"""


def match(argv: list[str]) -> int:
    fs = new_flags(MATCH_HELP)
    fs.bool("destination", False, "Match intentions by destination.")
    fs.bool("source", False, "Match intentions by source")
    opts = fs.parse(argv)
    if len(opts.args) != 1:
        error("Error: command requires exactly one argument: src or dst")
        return 1
    if opts["source"] and opts["destination"]:
        error("Error: only one of -source or -destination may be specified")
        return 1
    by = "source" if opts["source"] else "destination"
    name = _split(opts.args[0])
    try:
        found = connect(opts).request("GET", "/v1/connect/intentions/match", {"by": by, "name": name}).json()
    except ConsulError as exc:
        error(f"Error matching the connection: {exc}")
        return 1
    for ixn in found.get(name) or []:
        info(describe(ixn))
    return 0


register_group(("intention",), "Interact with Connect service intentions", GROUP_HELP)
register(("intention", "create"), create, "Create intentions for service connections.")
register(("intention", "delete"), delete, "Delete an intention.")
register(("intention", "check"), check, "Check whether a connection between two services is allowed.")
register(("intention", "get"), get, "Show information about an intention.")
register(("intention", "list"), list_, "List intentions.")
register(("intention", "match"), match, "Show intentions that match a source or destination.")
