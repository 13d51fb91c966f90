"""log_file naming and rotation, on a fake clock; syslog on a real unix datagram socket."""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from pyconsul.clock import FakeClock
from pyconsul.logfile import RotatingLogFile, RotationRule, files_to_prune, resolve_log_path, should_rotate
from pyconsul.logs import ConsulFormatter, syslog_handler


def test_log_path_rules(tmp_path: Path) -> None:
    assert resolve_log_path("/var/log/") == "/var/log/consul.log"
    assert resolve_log_path(str(tmp_path)) == str(tmp_path / "consul.log")
    assert resolve_log_path("/var/log/agent") == "/var/log/agent.log"
    assert resolve_log_path("/var/log/agent.txt") == "/var/log/agent.txt"


def test_rotation_decision() -> None:
    rule = RotationRule(duration=60.0, max_bytes=100)
    assert not should_rotate(rule, created=0, now=59, written=50, incoming=50)
    assert should_rotate(rule, created=0, now=59, written=51, incoming=50)
    assert should_rotate(rule, created=0, now=60, written=0, incoming=1)
    assert not should_rotate(RotationRule(60.0, 0), created=0, now=1, written=10**9, incoming=10)


@given(st.lists(st.integers(min_value=0, max_value=10**6), unique=True, max_size=20), st.integers(-1, 25))
def test_prune_keeps_the_newest(stamps: list[int], max_files: int) -> None:
    names = [f"/l/consul-{s:020d}.log" for s in stamps]
    gone = files_to_prune(names, max_files)
    kept = sorted(set(names) - set(gone))
    if max_files == 0:
        assert gone == []
    elif max_files < 0:
        assert kept == []
    else:
        assert kept == sorted(names)[-max_files:] if names else kept == []


def _logger(handler: logging.Handler, name: str) -> logging.Logger:
    logger = logging.getLogger(name)
    logger.propagate = False
    logger.handlers = [handler]
    logger.setLevel(logging.INFO)
    return logger


def test_rotates_by_size_and_time_and_prunes(tmp_path: Path) -> None:
    clock = FakeClock(start=1_700_000_000.0)
    handler = RotatingLogFile(str(tmp_path / "logs") + "/", RotationRule(3600.0, 200, 2), clock)
    handler.setFormatter(ConsulFormatter(as_json=True))
    log = _logger(handler, "pyconsul.test.rotate")
    for i in range(20):
        clock.advance(1)
        log.info("line %d", i)
    active = tmp_path / "logs" / "consul.log"
    rotated = sorted((tmp_path / "logs").glob("consul-*.log"))
    assert active.exists() and len(rotated) == 2  # max_files keeps the two newest archives
    for path in [*rotated, active]:
        assert path.stat().st_size <= 200
    last = json.loads(active.read_text().splitlines()[-1])
    assert last["@message"] == "line 19" and last["@module"] == "test.rotate" and last["@level"] == "info"
    assert last["@timestamp"].endswith("Z") and len(last["@timestamp"].split(".")[1]) == 7  # µs + Z
    clock.advance(3600)
    log.info("next day")
    assert active.read_text().count("\n") == 1
    handler.close()


def test_syslog_lines_are_tagged_consul(tmp_path: Path) -> None:
    path = str(tmp_path / "log.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    server.settimeout(5)
    handler = syslog_handler("LOCAL0", path)
    handler.setFormatter(ConsulFormatter())
    try:
        _logger(handler, "pyconsul.test.syslog").warning("disk almost full")
        data = server.recv(4096).decode()
    finally:
        handler.close()
        server.close()
    # <PRI> = facility LOCAL0 (16) * 8 + warning (4)
    assert data.startswith("<132>consul[") and "[WARN]  test.syslog: disk almost full" in data
