"""`-autocomplete-install` and the `complete -C` protocol, as Consul (posener/complete) does them.

Install appends `complete -C <this program> <name>` to the first bash rc file found (~/.bashrc,
~/.bash_profile, ~/.bash_login, ~/.profile), the bashcompinit lines to ~/.zshrc when it exists and
a completion function for fish when ~/.config/fish exists. Bash then runs the program with
COMP_LINE/COMP_POINT set and reads one candidate per line from stdout.
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


_BASH_RC_FILES = (".bashrc", ".bash_profile", ".bash_login", ".profile")
_BASHCOMPINIT = "autoload -U +X bashcompinit && bashcompinit"


def _fish_script(binary: str, name: str) -> str:
    return (f"function __complete_{name}\n"
            "    set -lx COMP_LINE (commandline -cp)\n"
            "    test -z (commandline -ct)\n"
            "    and set COMP_LINE \"$COMP_LINE \"\n"
            f"    {binary}\n"
            "end\n"
            f"complete -f -c {name} -a \"(__complete_{name})\"\n")


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _install_one(shell: str, target: Path, binary: str, name: str, uninstall: bool) -> str | None:
    """Install (or remove) one shell's hook; returns posener/complete's error text, if any."""
    if shell == "fish":
        present = target.exists()
        if uninstall:
            if not present:
                return f"does not installed in {target.parent}"
            target.unlink()
            return None
        if present:
            return f"already installed at {target}"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_fish_script(binary, name))
        return None
    line = (f"complete -o nospace -C {binary} {name}" if shell == "zsh"
            else f"complete -C {binary} {name}")
    lines = _lines(target)
    if uninstall:
        if line not in lines:
            return f"does not installed in {target}"
        target.write_text("".join(f"{ln}\n" for ln in lines if ln != line))
        return None
    if line in lines:
        return f"already installed in {target}"
    content = line if shell != "zsh" or _BASHCOMPINIT in lines else f"{_BASHCOMPINIT}\n{line}"
    with target.open("a") as fh:
        fh.write(f"\n{content}\n")  # posener/complete's appendToFile adds a blank line first
    return None


def install(uninstall: bool = False, home: str | None = None) -> int:
    """posener/complete's Install/Uninstall: the first bash rc file that exists, ~/.zshrc if it
    exists, fish if ~/.config/fish exists. No shell found is an error, as in Consul."""
    binary, name = _binary()
    home_dir = Path(home or os.path.expanduser("~"))
    targets: list[tuple[str, Path]] = []
    bash_rc = next((home_dir / f for f in _BASH_RC_FILES if (home_dir / f).exists()), None)
    if bash_rc is not None:
        targets.append(("bash", bash_rc))
    if (home_dir / ".zshrc").exists():
        targets.append(("zsh", home_dir / ".zshrc"))
    if (home_dir / ".config" / "fish").is_dir():
        targets.append(("fish", home_dir / ".config" / "fish" / "completions" / f"{name}.fish"))
    if not targets:
        print("Error executing CLI: Did not find any shells to install", file=sys.stderr)
        return 1
    errors: list[str] = []
    for shell, target in targets:
        try:
            problem = _install_one(shell, target, binary, name, uninstall)
        except OSError as exc:
            problem = str(exc)
        if problem:
            errors.append(problem)
    if errors:
        # hashicorp/go-multierror's layout, behind mitchellh/cli's prefix.
        listed = "\n\t* ".join(errors)
        noun = "error" if len(errors) == 1 else "errors"
        print(f"Error executing CLI: {len(errors)} {noun} occurred:\n\t* {listed}\n\n", file=sys.stderr)
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
