"""`python -m pyconsul <command> ...` — the agent and its Consul-compatible CLI.

Commands live in `pyconsul.cli`; each module registers itself in `pyconsul.cli.registry`.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from pyconsul.cli.registry import dispatch

    return dispatch(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
