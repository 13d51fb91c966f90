"""Limits on a real server's server port: connections per client IP
(limits.rpc_max_conns_per_client), Raft's magic within limits.rpc_handshake_timeout, and a
forwarded request's head within http_config.read_header_timeout, as on the HTTP port."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from pyconsul.raft.tcp_transport import MAGIC
from tests.support.agents import AgentProcess, start_agent
from tests.support.ports import loopback
from tests.support.wait import wait_until

MAX_CONNS = 3
TIMEOUT = 0.6  # both the handshake and the header timeout


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    root = tmp_path_factory.mktemp("srvport")
    hcl = (f'limits {{ rpc_max_conns_per_client = {MAX_CONNS} rpc_handshake_timeout = "{TIMEOUT}s" }} '
           f'http_config {{ read_header_timeout = "{TIMEOUT}s" }}')
    a = start_agent(root, "-server", "-bootstrap-expect", "1", "-data-dir", str(root / "data"), "-hcl", hcl,
                    host=loopback(40), dev=False, name="limits")
    try:
        yield a
    finally:
        a.stop()


def _connect(a: AgentProcess, source: str | None = None) -> socket.socket:
    s = socket.socket()
    s.settimeout(5)
    if source:
        s.bind((source, 0))
    s.connect((a.host, a.server_port))
    return s


def _closed_by_server(s: socket.socket, within: float) -> float:
    """Seconds until the server closes `s` (which sends nothing more); fails past `within`."""
    start = time.monotonic()
    s.settimeout(within)
    try:
        got = s.recv(100)
    except TimeoutError:
        pytest.fail(f"server kept the connection open past {within}s")
    except ConnectionResetError:
        got = b""
    assert got == b"" or got.startswith(b"HTTP/1.1 4"), got
    return time.monotonic() - start


def _forwarded_status_works(a: AgentProcess, source: str | None = None) -> bool:
    s = _connect(a, source)
    try:
        s.sendall(b"GET /v1/status/leader HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return s.recv(100).startswith(b"HTTP/1.1 200")
    except OSError:
        return False
    finally:
        s.close()


def test_connections_past_the_cap_from_one_ip_are_closed_others_are_not(server: AgentProcess) -> None:
    held = [_connect(server) for _ in range(MAX_CONNS)]
    for s in held:
        s.sendall(MAGIC)  # a Raft peer, quiet after the magic (within the idle timeout)
    try:
        extra = _connect(server)
        assert _closed_by_server(extra, 3.0) < 3.0
        extra.close()
        # Another client address is counted apart.
        assert _forwarded_status_works(server, source=loopback(41))
    finally:
        for s in held:
            s.close()
    # Once they close, the address may connect again.
    wait_until(lambda: _forwarded_status_works(server), 5, what="a slot freed by the closed connections")


def test_raft_magic_must_arrive_within_the_handshake_timeout(server: AgentProcess) -> None:
    s = _connect(server)
    s.sendall(MAGIC[:1])  # sniffed as Raft, then nothing more
    took = _closed_by_server(s, 5.0)
    s.close()
    assert TIMEOUT * 0.8 < took < TIMEOUT + 2.0, took


def test_forwarded_request_head_must_arrive_within_the_header_timeout(server: AgentProcess) -> None:
    s = _connect(server)
    s.sendall(b"GET /v1/status/leader HTTP/1.1\r\nHost: x\r\n")  # the head never ends
    took = _closed_by_server(s, 5.0)
    s.close()
    assert TIMEOUT * 0.8 < took < TIMEOUT + 2.0, took
    assert _forwarded_status_works(server)
