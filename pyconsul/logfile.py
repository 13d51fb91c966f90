"""`log_file` with Consul's naming and rotation rules, as a logging handler.

- The path names the active file. A path ending in `/` (or naming a directory) gets
  `consul.log` inside it; a name without an extension gets `.log`.
- The active file is rotated (renamed to `<name>-<unix nanoseconds><ext>`) when it is older than
  `log_rotate_duration` (Consul's default 24h) or, with `log_rotate_bytes` > 0, when the next line
  would take it past that size. A fresh active file is then opened.
- After a rotation, `log_rotate_max_files` > 0 keeps that many rotated files (the newest), -1 keeps
  none, 0 keeps all.

The decision is `should_rotate` (pure, on an injected clock); the handler does the file work.
"""

from __future__ import annotations

import glob
import logging
import os
from dataclasses import dataclass

from pyconsul.clock import SYSTEM_CLOCK, Clock

DEFAULT_DURATION = 24 * 3600.0


def resolve_log_path(path: str) -> str:
    if path.endswith(os.sep) or os.path.isdir(path):
        path = os.path.join(path, "consul")
    root, ext = os.path.splitext(path)
    return path if ext else root + ".log"


@dataclass(frozen=True)
class RotationRule:
    duration: float = DEFAULT_DURATION
    max_bytes: int = 0
    max_files: int = 0


def should_rotate(rule: RotationRule, created: float, now: float, written: int, incoming: int) -> bool:
    if now - created >= rule.duration:
        return True
    return rule.max_bytes > 0 and written > 0 and written + incoming > rule.max_bytes


def files_to_prune(rotated: list[str], max_files: int) -> list[str]:
    """Rotated files (names sort by their timestamp) that `max_files` says to delete."""
    if max_files == 0:
        return []
    ordered = sorted(rotated)
    if max_files < 0:
        return ordered
    return ordered[: max(0, len(ordered) - max_files)]


class RotatingLogFile(logging.Handler):
    def __init__(self, path: str, rule: RotationRule, clock: Clock = SYSTEM_CLOCK) -> None:
        super().__init__()
        self.path = resolve_log_path(path)
        self.rule = rule
        self.clock = clock
        parent = os.path.dirname(self.path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        self._open()

    def _open(self) -> None:
        self.stream = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - held open for the handler's life
        self.written = self.stream.tell()
        self.created = self.clock.time()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            data = self.format(record) + "\n"
            size = len(data.encode())
            if should_rotate(self.rule, self.created, self.clock.time(), self.written, size):
                self.rotate()
            self.stream.write(data)
            self.stream.flush()
            self.written += size
        except Exception:
            self.handleError(record)

    def rotate(self) -> None:
        self.stream.close()
        root, ext = os.path.splitext(self.path)
        stamp = int(self.clock.time() * 1e9)
        os.replace(self.path, f"{root}-{stamp}{ext}")
        self._open()
        for old in files_to_prune(glob.glob(glob.escape(root) + "-*" + ext), self.rule.max_files):
            try:
                os.unlink(old)
            except OSError:
                pass

    def close(self) -> None:
        try:
            self.stream.close()
        finally:
            super().close()
