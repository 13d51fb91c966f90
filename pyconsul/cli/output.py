"""Text output as Consul's CLI prints it: columnize tables, tabwriter blocks, Go-style JSON.

Pure functions (strings in, strings out) plus `info`/`error` which write one line to stdout/stderr
like mitchellh/cli's Ui.Info / Ui.Error.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any


def info(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def error(text: str = "") -> None:
    sys.stderr.write(text + "\n")


def columnize(rows: Sequence[Sequence[Any]], glue: str = "  ") -> str:
    """ryanuber/columnize: cells trimmed, each column padded to its widest cell and glued with
    two spaces, the last cell of a row not padded, no trailing newline. A row whose last cell is
    empty keeps its padding, as in Go."""
    cells = [[str(c).strip() for c in row] for row in rows]
    widths: list[int] = []
    for row in cells:
        for i, c in enumerate(row):
            if i >= len(widths):
                widths.append(0)
            widths[i] = max(widths[i], len(c))
    lines = []
    for row in cells:
        parts = [c.ljust(widths[i]) if i < len(row) - 1 else c for i, c in enumerate(row)]
        lines.append(glue.join(parts))
    return "\n".join(lines)


def tabwrite(rows: Sequence[Sequence[Any]], padding: int = 6, prefix: str = "") -> str:
    """Go's text/tabwriter with minwidth 0, padding `padding`, ' ' padchar: every cell but the
    last of a row is padded to the column's widest cell plus `padding`."""
    cells = [[str(c) for c in row] for row in rows]
    ncols = max((len(r) for r in cells), default=0)
    widths = [0] * ncols
    for row in cells:
        for i, c in enumerate(row[:-1]):
            widths[i] = max(widths[i], len(c))
    lines = []
    for row in cells:
        parts = [c.ljust(widths[i] + padding) for i, c in enumerate(row[:-1])]
        lines.append(prefix + "".join(parts) + (row[-1] if row else ""))
    return "\n".join(lines)


def _go_escape(text: str) -> str:
    # encoding/json escapes <, > and & (HTML safety) and U+2028/U+2029.
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def go_json(value: Any, indent: str | None = None) -> str:
    """json.Marshal / json.MarshalIndent output: `": "` separators when indented, UTF-8 kept,
    HTML characters escaped. Maps are written in the order given (callers sort Go maps)."""
    if indent is None:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    else:
        text = json.dumps(value, ensure_ascii=False, indent=indent)
        # Go writes an empty array/object as [] / {} even when indenting; so does Python.
    return _go_escape(text)


def sorted_map(value: dict[str, Any]) -> dict[str, Any]:
    """Go marshals map keys sorted."""
    return {k: value[k] for k in sorted(value)}
