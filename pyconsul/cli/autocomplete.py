"""`-autocomplete-install` and the `complete -C` protocol, as Consul (posener/complete) does them.

Install appends `complete -C <this program> <name>` to ~/.bashrc (and the bashcompinit lines to
~/.zshrc when that file exists). Bash then runs the program with COMP_LINE/COMP_POINT set and
reads one candidate per line from stdout.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path


def _binary() -> tuple[str, str]:
    """The executable path bash should run, and the command name it completes."""
    argv0 = sys.argv[0] if sys.argv else ""
    name = os.path.basename(argv0)
    if name in ("", "__main__.py", "-m", "-c"):
        found = shutil.which("pyconsul")
        return (found or f"{sys.executable} -m pyconsul"), "pyconsul"
    path = argv0 if os.path.isabs(argv0) else (shutil.which(argv0) or os.path.abspath(argv0))
    return path, name


def _rc_lines(shell: str, binary: str, name: str) -> list[str]:
    if shell == "zsh":
        return ["autoload -U +X bashcompinit && bashcompinit", f"complete -o nospace -C {binary} {name}"]
    return [f"complete -C {binary} {name}"]


def install(uninstall: bool = False, home: str | None = None) -> int:
    binary, name = _binary()
    home_dir = Path(home or os.path.expanduser("~"))
    targets = [("bash", home_dir / ".bashrc")]
    if (home_dir / ".zshrc").exists():
        targets.append(("zsh", home_dir / ".zshrc"))
    errors: list[str] = []
    for shell, rc in targets:
        lines = _rc_lines(shell, binary, name)
        try:
            text = rc.read_text() if rc.exists() else ""
        except OSError as exc:
            errors.append(f"{exc}")
            continue
        present = lines[-1] in text.splitlines()
        if uninstall:
            if not present:
                errors.append(f"does not installed in {rc}")
                continue
            kept = [ln for ln in text.splitlines() if ln not in lines]
            rc.write_text("\n".join(kept) + ("\n" if kept else ""))
            continue
        if present:
            errors.append(f"already installed in {rc}")
            continue
        with rc.open("a") as fh:
            if text and not text.endswith("\n"):
                fh.write("\n")
            fh.write("\n".join(lines) + "\n")
    if errors:
        print("Error executing CLI: " + "\n".join(errors), file=sys.stderr)
        return 1
    return 0


def complete(env: Mapping[str, str], commands: Sequence[tuple[str, ...]],
             groups: Sequence[tuple[str, ...]]) -> int:
    """Print the command words that can follow what has been typed so far."""
    line = env.get("COMP_LINE", "")
    try:
        point = int(env.get("COMP_POINT", str(len(line))))
    except ValueError:
        point = len(line)
    typed = line[:point]
    words = typed.split()
    if typed.endswith(" ") or not words:
        words.append("")
    done, last = tuple(words[1:-1]), words[-1]
    n = len(done)
    options = sorted({w[n] for w in (*commands, *groups) if len(w) > n and w[:n] == done})
    for opt in options:
        if opt.startswith(last):
            print(opt)
    return 0
