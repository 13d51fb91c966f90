"""Run the CLI as a user does: `python -m pyconsul ...` in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass

# CONSUL_* variables from the developer's shell must not leak into tests.
_CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("CONSUL_")}


@dataclass
class Result:
    code: int
    out: str
    err: str


def consul(*args: str, addr: str | None = None, env: Mapping[str, str] | None = None,
           stdin: str | bytes | None = None, timeout: float = 30.0, cwd: str | None = None) -> Result:
    """Run `python -m pyconsul <args>`; `addr` goes in CONSUL_HTTP_ADDR as a user would set it."""
    full_env = dict(_CLEAN_ENV)
    if addr is not None:
        full_env["CONSUL_HTTP_ADDR"] = addr
    full_env.update(env or {})
    data = stdin.encode() if isinstance(stdin, str) else stdin
    proc = subprocess.run([sys.executable, "-m", "pyconsul", *args], input=data, capture_output=True,
                          env=full_env, timeout=timeout, cwd=cwd)
    return Result(proc.returncode, proc.stdout.decode("utf-8", "replace"),
                  proc.stderr.decode("utf-8", "replace"))


def clean_env(**extra: str) -> dict[str, str]:
    return {**_CLEAN_ENV, **extra}


def installed_script() -> str:
    """The `pyconsul` console script `pip install -e .` put on this machine (CONSUL_BIN's value).

    Looks where pip installs scripts for this interpreter, next to it, then on PATH.
    """
    import shutil
    import sysconfig
    from pathlib import Path

    for folder in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(folder) / "pyconsul"
        if candidate.exists():
            return str(candidate)
    found = shutil.which("pyconsul")
    if found:
        return found
    raise RuntimeError("the pyconsul console script is not installed: run `pip install -e .`")
