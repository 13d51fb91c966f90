"""Writes rendered bytes to the destination: atomically, and only when they changed.

A temp file in the destination's directory is written, fsynced, given the permissions and
renamed over the target, so readers (nginx) never see half a file. Unchanged bytes mean no
write at all: no new mtime, no reload.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PERMS = 0o644


class RenderError(Exception):
    """The destination could not be written (missing directory, permissions…)."""


@dataclass(frozen=True)
class RenderOutcome:
    would_render: bool
    did_render: bool


def needs_write(current: bytes | None, contents: bytes) -> bool:
    return current != contents


def read_current(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise RenderError(f"{path}: is a directory") from None
    except OSError as exc:
        raise RenderError(f"{path}: {exc.strerror or exc}") from None


def write_if_changed(path: str | os.PathLike[str], contents: bytes, perms: int | None = None,
                     backup: bool = False, create_dest_dirs: bool = True) -> RenderOutcome:
    dest = Path(path)
    current = read_current(dest)
    if not needs_write(current, contents):
        return RenderOutcome(True, False)
    parent = dest.parent
    if not parent.is_dir():
        if not create_dest_dirs:
            raise RenderError(f"{parent}: directory does not exist (create_dest_dirs is off)")
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RenderError(f"{parent}: {exc.strerror or exc}") from None
    mode = perms
    if mode is None:
        try:
            mode = dest.stat().st_mode & 0o7777
        except OSError:
            mode = DEFAULT_PERMS
    if backup and current is not None:
        try:
            shutil.copy2(dest, str(dest) + ".bak")
        except OSError as exc:
            raise RenderError(f"backup of {dest}: {exc.strerror or exc}") from None
    tmp_name = ""
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=parent)
        with os.fdopen(fd, "wb") as f:
            f.write(contents)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, dest)
    except OSError as exc:
        if tmp_name:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
        raise RenderError(f"{dest}: {exc.strerror or exc}") from None
    return RenderOutcome(True, True)
