"""`consul keygen`: a new 32-byte gossip encryption key, base64 encoded."""

from __future__ import annotations

import base64
import os

from pyconsul.cli.flags import FlagSet
from pyconsul.cli.output import error, info
from pyconsul.cli.registry import register

HELP = """
Usage: consul keygen

  Generates a new encryption key that can be used to configure the
  agent to encrypt traffic. The output of this command is already
  in the proper format that the agent expects.
"""

KEY_BYTES = 32


def new_key() -> str:
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def run(argv: list[str]) -> int:
    fs = FlagSet(HELP)
    opts = fs.parse(argv)
    if opts.args:
        error(f"Too many arguments (expected 0, got {len(opts.args)})")
        return 1
    info(new_key())
    return 0


register(("keygen",), run, "Generates a new encryption key")
