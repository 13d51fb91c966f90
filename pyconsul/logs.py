"""Structured logging in Consul's layout, plain (`[INFO]  agent: msg: k=v`) or JSON (-log-json),
and a broadcaster that `consul monitor` streams from."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from logging.handlers import SysLogHandler
from typing import Any

from pyconsul.logfile import DEFAULT_DURATION, RotatingLogFile, RotationRule

_STD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_LEVELS = {"TRACE": 5, "DEBUG": 10, "INFO": 20, "WARN": 30, "WARNING": 30, "ERR": 40, "ERROR": 40}
_NAMES = {5: "TRACE", 10: "DEBUG", 20: "INFO", 30: "WARN", 40: "ERROR", 50: "ERROR"}


def level_number(name: str) -> int:
    return _LEVELS.get(name.upper(), 20)


def _fields(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k, v in vars(record).items() if k not in _STD}


class ConsulFormatter(logging.Formatter):
    def __init__(self, as_json: bool = False) -> None:
        super().__init__()
        self.as_json = as_json

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        level = _NAMES.get(record.levelno, record.levelname)
        name = record.name.removeprefix("pyconsul.") if record.name.startswith("pyconsul.") else record.name
        fields = _fields(record)
        if record.exc_info:
            fields["error"] = self.formatException(record.exc_info).splitlines()[-1]
        if self.as_json:
            # hclog's JSON timestamps carry microseconds (2006-01-02T15:04:05.000000Z07:00).
            ts = ts[:-4] + f"{int(record.created % 1 * 1e6):06d}Z"
            doc = {"@level": level.lower(), "@message": record.getMessage(), "@module": name, "@timestamp": ts}
            doc.update({k: v if isinstance(v, (int, float, bool, str)) or v is None else str(v) for k, v in fields.items()})
            return json.dumps(doc)
        extra = "".join(f" {k}={v}" for k, v in fields.items())
        sep = ":" if extra else ""
        return f"{ts} [{level}] {' ' * (5 - len(level))}{name}: {record.getMessage()}{sep}{extra}"


class Broadcaster(logging.Handler):
    """Fans formatted log lines out to `monitor` subscribers (bounded queues; slow ones drop)."""

    def __init__(self) -> None:
        super().__init__(level=1)
        self._subs: list[tuple[int, bool, asyncio.Queue[str]]] = []
        self._formatters = (ConsulFormatter(), ConsulFormatter(as_json=True))

    def emit(self, record: logging.LogRecord) -> None:
        if not self._subs:
            return
        lines: dict[bool, str] = {}
        for level, as_json, queue in list(self._subs):
            if record.levelno >= level:
                line = lines.get(as_json)
                if line is None:
                    line = lines[as_json] = self._formatters[as_json].format(record)
                try:
                    queue.put_nowait(line)
                except asyncio.QueueFull:
                    pass

    async def stream(self, level: str, as_json: bool = False) -> AsyncIterator[str]:
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=512)
        entry = (level_number(level), as_json, queue)
        self._subs.append(entry)
        try:
            while True:
                yield await queue.get()
        finally:
            self._subs.remove(entry)


BROADCASTER = Broadcaster()


@dataclass(frozen=True)
class LogOutputs:
    """Where the agent's log goes besides stdout (and `monitor`), from the config."""

    file: str = ""
    rotate_duration: float = 0.0  # 0: Consul's default of 24h
    rotate_bytes: int = 0
    rotate_max_files: int = 0
    syslog: bool = False
    syslog_facility: str = "LOCAL0"
    syslog_address: str = "/dev/log"


def outputs_from_config(cfg: Any) -> LogOutputs:
    return LogOutputs(cfg.log_file, cfg.log_rotate_duration, cfg.log_rotate_bytes, cfg.log_rotate_max_files,
                      cfg.enable_syslog, cfg.syslog_facility)


def syslog_handler(facility: str, address: str = "/dev/log") -> logging.Handler:
    """Consul's syslog output: tagged `consul`, at the facility named (LOCAL0 by default)."""
    code = SysLogHandler.facility_names.get(facility.lower())
    if code is None:
        raise ValueError(f"Syslog setup failed: invalid syslog facility {facility!r}; use one of "
                         "LOCAL0..LOCAL7, USER, DAEMON, SYSLOG")
    handler = SysLogHandler(address=address, facility=code)
    handler.ident = f"consul[{os.getpid()}]: "
    return handler


def setup_logging(level: str = "INFO", as_json: bool = False, outputs: LogOutputs | None = None) -> None:
    """stdout at `level` plus the file and syslog outputs asked for; `monitor` sees every level.
    Raises OSError/ValueError naming the output that could not be opened."""
    logging.addLevelName(5, "TRACE")
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
        if h is not BROADCASTER:
            h.close()
    threshold = level_number(level)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stdout)]
    out = outputs or LogOutputs()
    if out.file:
        rule = RotationRule(out.rotate_duration or DEFAULT_DURATION, out.rotate_bytes, out.rotate_max_files)
        try:
            handlers.append(RotatingLogFile(out.file, rule))
        except OSError as exc:
            raise OSError(f"Failed to set up logging: cannot open log_file {out.file!r}: {exc.strerror}; "
                          "check the path exists and is writable by this user") from None
    if out.syslog:
        try:
            handlers.append(syslog_handler(out.syslog_facility, out.syslog_address))
        except OSError as exc:
            raise OSError(f"Syslog setup failed: {out.syslog_address}: {exc.strerror}; is a syslog daemon "
                          "running? (or turn enable_syslog off)") from None
    for handler in handlers:
        handler.setFormatter(ConsulFormatter(as_json))
        handler.setLevel(threshold)
        root.addHandler(handler)
    root.addHandler(BROADCASTER)
    root.setLevel(1)
    for noisy in ("aiohttp.access", "asyncio", "aiodocker"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def set_level(level: str) -> None:
    """`log_level` on reload: every output but `monitor` follows it."""
    threshold = level_number(level)
    for handler in logging.getLogger().handlers:
        if handler is not BROADCASTER:
            handler.setLevel(threshold)
