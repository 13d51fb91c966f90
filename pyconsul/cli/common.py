"""Pieces most commands share: a FlagSet with HTTP options, the client, DATA arguments, children.

A new command (TLS, ACL, intention, connect...) lives in `pyconsul/cli/<word>_cmd.py` and looks
like this; the registry finds the module by its first word:

    HELP = '''
    Usage: consul intention delete [options] SRC DST
      ...
    '''

    def delete(argv: list[str]) -> int:
        fs = new_flags(HELP)                # HTTP API options included; "client" / None for fewer
        fs.bool("force", False, "Skip confirmation.")
        opts = fs.parse(argv)               # -help → stdout, exit 0; bad flag → stderr, exit 1
        client = connect(opts)              # CONSUL_HTTP_ADDR, -token, TLS...; bad config → exit 1
        try:
            client.request("DELETE", f"/v1/connect/intentions/exact", {"source": ..., ...})
        except ConsulError as exc:          # text already reads like Consul's Go client
            error(f"Error deleting intention: {exc}")
            return 1
        info("Intention deleted.")
        return 0

    register_group(("intention",), "Interact with Connect service intentions", GROUP_HELP)
    register(("intention", "delete"), delete, "Delete an intention")
"""

from __future__ import annotations

import os
import sys
from typing import BinaryIO

from pyconsul.cli.flags import FlagSet, Parsed
from pyconsul.cli.http import Client, ConsulError, add_http_flags, settings_from_flags
from pyconsul.cli.output import error


def new_flags(usage: str, *, http: str | None = "server") -> FlagSet:
    """A command's FlagSet; `http` is "server" (all HTTP options), "client" (no -datacenter /
    -stale) or None."""
    fs = FlagSet(usage)
    if http is not None:
        add_http_flags(fs, server=http == "server")
    return fs


def connect(opts: Parsed, timeout: float | None = None) -> Client:
    """Consul's `c.http.APIClient()`: a bad address/token file/TLS file ends the command."""
    try:
        # Unparseable CONSUL_HTTP_SSL / _SSL_VERIFY are ignored silently: Consul's CLI sends its
        # api package's log (where those warnings go) to io.Discard.
        return Client(settings_from_flags(opts), timeout=timeout)
    except ConsulError as exc:
        error(f"Error connecting to Consul agent: {exc}")
        raise SystemExit(1) from None


def read_data_arg(data: str, stdin: BinaryIO | None = None) -> bytes:
    """Consul's DATA argument: `@path` reads a file, `-` reads stdin, anything else is literal."""
    if data.startswith("@"):
        path = data[1:]
        try:
            with open(path, "rb") as fh:
                return fh.read()
        except OSError as exc:
            reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
            raise ValueError(f"Failed to read file: open {path}: {reason}") from None
    if data == "-":
        stream = stdin if stdin is not None else sys.stdin.buffer
        try:
            return stream.read()
        except OSError as exc:
            raise ValueError(f"Failed to read stdin: {exc}") from None
    return data.encode()


def child_argv(args: list[str], shell: bool) -> list[str]:
    """How Consul runs a handler/child: through $SHELL -c (default /bin/sh) unless -shell=false."""
    if not shell:
        return list(args)
    return [os.environ.get("SHELL") or "/bin/sh", "-c", " ".join(args)]
