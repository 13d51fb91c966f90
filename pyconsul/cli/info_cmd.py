"""`consul info`: the agent's Stats from /v1/agent/self, grouped and sorted."""

from __future__ import annotations

from typing import Any

from pyconsul.cli.common import connect, new_flags
from pyconsul.cli.http import ConsulError
from pyconsul.cli.output import error, info
from pyconsul.cli.registry import register

HELP = """
Usage: consul info [options]

  Provides debugging information for operators
"""


def format_stats(stats: dict[str, Any]) -> str:
    """`section:` then `\\tkey = value` lines, sections and keys sorted, as Consul prints."""
    lines: list[str] = []
    for section in sorted(stats):
        lines.append(f"{section}:")
        values = stats[section]
        if not isinstance(values, dict):
            continue
        for key in sorted(values):
            lines.append(f"\t{key} = {_go_str(values[key])}")
    return "\n".join(lines)


def _go_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def run(argv: list[str]) -> int:
    fs = new_flags(HELP, http="client")
    opts = fs.parse(argv)
    client = connect(opts)
    try:
        self_info, _ = client.get_json("/v1/agent/self")
    except ConsulError as exc:
        error(f"Error querying agent: {exc}")
        return 1
    stats = (self_info or {}).get("Stats")
    if not isinstance(stats, dict):
        error("Agent response did not contain 'Stats' key")
        return 1
    text = format_stats(stats)
    if text:
        info(text)
    return 0


register(("info",), run, "Provides debugging information for operators.")
