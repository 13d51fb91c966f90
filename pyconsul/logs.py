"""Structured logging in Consul's layout, plain (`[INFO]  agent: msg: k=v`) or JSON (-log-json),
and a broadcaster that `consul monitor` streams from."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections.abc import AsyncIterator

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
        self._subs: list[tuple[int, asyncio.Queue[str]]] = []
        self.setFormatter(ConsulFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        if not self._subs:
            return
        line = self.format(record)
        for level, queue in list(self._subs):
            if record.levelno >= level:
                try:
                    queue.put_nowait(line)
                except asyncio.QueueFull:
                    pass

    async def stream(self, level: str) -> AsyncIterator[str]:
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=512)
        entry = (level_number(level), queue)
        self._subs.append(entry)
        try:
            while True:
                yield await queue.get()
        finally:
            self._subs.remove(entry)


BROADCASTER = Broadcaster()


def setup_logging(level: str = "INFO", as_json: bool = False) -> None:
    logging.addLevelName(5, "TRACE")
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(ConsulFormatter(as_json))
    handler.setLevel(level_number(level))
    root.addHandler(handler)
    root.addHandler(BROADCASTER)
    root.setLevel(1)
    for noisy in ("aiohttp.access", "asyncio", "aiodocker"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
