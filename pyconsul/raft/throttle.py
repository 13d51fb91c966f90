"""LogThrottle: at most one log line per key per interval, so hostile or broken peers cannot
flood the log; the line says how many were suppressed since the last one."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any


class LogThrottle:
    def __init__(self, logger: logging.Logger, interval: float = 10.0,
                 clock: Callable[[], float] = time.monotonic, max_keys: int = 1024) -> None:
        self.logger = logger
        self.interval = interval
        self.clock = clock
        self.max_keys = max_keys
        self._last: dict[str, tuple[float, int]] = {}  # key -> (time logged, suppressed since)

    def log(self, level: int, key: str, msg: str, **extra: Any) -> bool:
        """Log `msg` unless `key` was logged within the interval; True when it was logged."""
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last[0] < self.interval:
            self._last[key] = (last[0], last[1] + 1)
            return False
        if last is None and len(self._last) >= self.max_keys:
            self._last.clear()  # keys are peer-chosen: never let the table grow without bound
        suppressed = last[1] if last is not None else 0
        self._last[key] = (now, 0)
        if suppressed:
            extra["suppressed"] = suppressed
        self.logger.log(level, msg, extra=extra)
        return True

    def warning(self, key: str, msg: str, **extra: Any) -> bool:
        return self.log(logging.WARNING, key, msg, **extra)

    def error(self, key: str, msg: str, **extra: Any) -> bool:
        return self.log(logging.ERROR, key, msg, **extra)
