"""What `kv` subcommands share: the `kv` group, KV pair decoding and the -detailed block."""

from __future__ import annotations

import base64
import sys
from typing import Any

from pyconsul.cli.output import tabwrite
from pyconsul.cli.registry import register_group

KV_HELP = """
Usage: consul kv <subcommand> [options] [args]

  This command has subcommands for interacting with Consul's key-value
  store. Here are some simple examples, and more detailed examples are
  available in the subcommands or the documentation.

  Create or update the key named "redis/config/connections" with the value "5":

      $ consul kv put redis/config/connections 5

  Read this value back:

      $ consul kv get redis/config/connections

  Or get detailed key information:

      $ consul kv get -detailed redis/config/connections

  Finally, delete the key:

      $ consul kv delete redis/config/connections

  For more examples, ask for subcommand help or view the documentation.
"""

register_group(("kv",), "Interact with the key-value store", KV_HELP)


def pair_value(pair: dict[str, Any]) -> bytes:
    raw = pair.get("Value")
    return base64.b64decode(raw) if raw else b""


def strip_leading_slash(key: str) -> str:
    # Keys never start with "/", but users type "/foo"; Consul strips one slash for them.
    return key[1:] if key.startswith("/") else key


def detailed_block(pair: dict[str, Any], b64: bool) -> bytes:
    """`kv get -detailed`: tabwriter rows, Session "-" when none, no trailing newline."""
    value = pair_value(pair)
    shown = base64.b64encode(value) if b64 else value
    rows = [
        ("CreateIndex", str(pair.get("CreateIndex", 0))),
        ("Flags", str(pair.get("Flags", 0))),
        ("Key", str(pair.get("Key", ""))),
        ("LockIndex", str(pair.get("LockIndex", 0))),
        ("ModifyIndex", str(pair.get("ModifyIndex", 0))),
        ("Session", pair.get("Session") or "-"),
        ("Value", "\0"),
    ]
    text = tabwrite(rows).encode()
    return text.replace(b"\0", shown)


def write_out(data: bytes) -> None:
    """Ui.Info for raw bytes: the value exactly as stored, then a newline."""
    out = sys.stdout.buffer
    out.write(data + b"\n")
    out.flush()
