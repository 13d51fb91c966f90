"""`consul version`: the Consul version pyconsul speaks for, in Consul's layout."""

from __future__ import annotations

from pyconsul import CONSUL_COMPAT_VERSION, __version__
from pyconsul.cli.flags import FlagSet
from pyconsul.cli.output import error, go_json, info
from pyconsul.cli.registry import register

HELP = """
Usage: consul version [options]
"""

BUILD_DATE = "2023-10-31T00:00:00Z"
RPC_DEFAULT, RPC_MIN, RPC_MAX = 2, 2, 3


def pretty() -> str:
    return "\n".join([
        f"Consul v{CONSUL_COMPAT_VERSION}",
        f"Revision pyconsul-{__version__}",
        f"Build Date {BUILD_DATE}",
        f"Protocol {RPC_DEFAULT} spoken by default, understands {RPC_MIN} to {RPC_MAX} (agent will "
        f"automatically use protocol >{RPC_DEFAULT} when speaking to compatible agents)",
    ]) + "\n"


def as_json() -> str:
    return go_json({
        "Version": CONSUL_COMPAT_VERSION,
        "Revision": f"pyconsul-{__version__}",
        "Prerelease": "",
        "BuildDate": BUILD_DATE,
        "RPC": {"Default": RPC_DEFAULT, "Min": RPC_MIN, "Max": RPC_MAX},
    }, indent="  ")


def run(argv: list[str]) -> int:
    fs = FlagSet(HELP)
    fs.string("format", "pretty", "Output format {pretty|json}")
    opts = fs.parse(argv)
    if opts["format"] == "pretty":
        info(pretty())
    elif opts["format"] == "json":
        info(as_json())
    else:
        error(f"Unknown format: {opts['format']}")
        return 1
    return 0


register(("version",), run, "Prints the Consul version")
