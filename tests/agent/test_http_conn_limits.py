"""HTTP connections are bounded: a request head trickled past the header timeout is closed, an
idle keep-alive connection is closed after the idle timeout (on both paths), and one client
address cannot hold more than `limits.http_max_conns_per_client` — while others are served."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.agents import AgentProcess, start_agent
from tests.support.wait import wait_until

HEADER_TIMEOUT = 1.0
IDLE_TIMEOUT = 1.5
CAP = 8


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    agent = start_agent(
        tmp_path_factory.mktemp("limits"),
        "-hcl", f'http_config {{ read_header_timeout = "{HEADER_TIMEOUT}s" idle_timeout = "{IDLE_TIMEOUT}s" }}',
        "-hcl", f"limits {{ http_max_conns_per_client = {CAP} }}",
    )
    try:
        yield agent
    finally:
        agent.stop()


def _connect(agent: AgentProcess) -> socket.socket:
    s = socket.create_connection((agent.host, agent.http_port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def _closed_by_server(s: socket.socket, within: float) -> float:
    """Seconds until the server closes `s` (recv returns b"" or resets), failing after `within`."""
    start = time.monotonic()
    s.settimeout(within)
    try:
        while s.recv(65536):
            pass
    except ConnectionResetError:
        pass
    except TimeoutError:
        pytest.fail(f"the server kept the connection open for {within}s")
    return time.monotonic() - start


def _get(s: socket.socket, path: str) -> bytes:
    """One keep-alive GET on `s`; returns the response head and body."""
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        assert chunk, "closed before the response"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(ln.split(b":")[1] for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length")))
    while len(body) < length:
        body += s.recv(65536)
    return head


def _others_served(agent: AgentProcess) -> None:
    status, _, _ = agent.request("GET", "/v1/status/leader", timeout=5)
    assert status == 200


def test_a_trickled_request_head_is_closed_after_the_header_timeout(limited: AgentProcess) -> None:
    s = _connect(limited)
    start = time.monotonic()
    s.sendall(b"GET /v1/status/leader HTTP/1.1\r\n")
    # One header byte at a time, well within any idle timer, never finishing the head.
    try:
        for ch in b"X-Slow: " + b"a" * 40:
            s.sendall(bytes([ch]))
            _others_served(limited)
            if time.monotonic() - start > HEADER_TIMEOUT + 5:
                break
            time.sleep(0.1)  # the trickle itself, not a wait for the server
    except (BrokenPipeError, ConnectionResetError):
        pass
    _closed_by_server(s, within=HEADER_TIMEOUT + 5)
    assert time.monotonic() - start < HEADER_TIMEOUT + 5
    s.close()


def test_a_second_request_trickled_after_a_slow_path_reply_is_closed(limited: AgentProcess) -> None:
    s = _connect(limited)
    head = _get(s, "/v1/agent/self")  # not a fast-path read: the connection is on aiohttp now
    assert head.startswith(b"HTTP/1.1 200")
    s.sendall(b"GET /v1/status/leader HTTP/1.1\r\nX-Slow: ")
    start = time.monotonic()
    try:
        while time.monotonic() - start < HEADER_TIMEOUT + 5:
            s.sendall(b"a")
            time.sleep(0.1)  # the trickle itself
    except (BrokenPipeError, ConnectionResetError):
        pass
    _closed_by_server(s, within=1.0)
    assert time.monotonic() - start < HEADER_TIMEOUT + 5
    s.close()


@pytest.mark.parametrize("path", ["/v1/agent/self", "/v1/health/service/consul"])
def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout(limited: AgentProcess, path: str) -> None:
    s = _connect(limited)
    for _ in range(3):  # the repeats of the health read are fast-path answers
        assert _get(s, path).startswith(b"HTTP/1.1 200")
    took = _closed_by_server(s, within=IDLE_TIMEOUT + 5)
    assert took >= IDLE_TIMEOUT - 0.3
    s.close()


def test_a_busy_fast_path_connection_outlives_the_idle_timeout(limited: AgentProcess) -> None:
    """The idle timer counts from the last reply, not from the first: a connection asking every
    0.3 s stays open for several idle timeouts, then closes once it goes quiet."""
    s = _connect(limited)
    path = "/v1/health/service/consul"
    end = time.monotonic() + 2.5 * IDLE_TIMEOUT
    answered = 0
    while True:
        assert _get(s, path).startswith(b"HTTP/1.1 200")  # a closed connection fails here
        last_reply = time.monotonic()
        answered += 1
        if last_reply >= end:
            break
        time.sleep(0.3)  # the client's pace between requests, the behaviour under test
    assert answered >= 8
    _closed_by_server(s, within=IDLE_TIMEOUT + 5)
    assert time.monotonic() - last_reply >= IDLE_TIMEOUT - 0.3
    s.close()


def test_a_client_past_the_connection_cap_is_refused_at_accept(limited: AgentProcess) -> None:
    held = [_connect(limited) for _ in range(CAP)]
    try:
        # Each held connection is live (it answers), so the agent has counted it.
        for s in held[:2]:
            assert _get(s, "/v1/status/leader").startswith(b"HTTP/1.1 200")
        extra = _connect(limited)
        extra.settimeout(5)
        data = b""
        try:
            while chunk := extra.recv(4096):
                data += chunk
        except ConnectionResetError:
            pass
        assert data.startswith(b"HTTP/1.1 429"), data[:100]
        extra.close()
        # The held ones still work, and once one closes a new connection is accepted.
        assert _get(held[-1], "/v1/status/leader").startswith(b"HTTP/1.1 200")
        held.pop().close()

        def accepted() -> bool:
            s = _connect(limited)
            try:
                return _get(s, "/v1/status/leader").startswith(b"HTTP/1.1 200")
            except AssertionError:
                return False
            finally:
                s.close()

        wait_until(accepted, timeout=5, what="a connection accepted under the cap")
    finally:
        for s in held:
            s.close()
    _others_served(limited)


def test_config_defaults_match_consul(tmp_path: Path) -> None:
    from pyconsul.config.stanzas import HTTPConfig, Limits

    assert Limits().http_max_conns_per_client == 200
    assert HTTPConfig().idle_timeout < 3630


def test_a_request_trickled_after_fast_path_replies_is_closed_after_the_header_timeout(
        limited: AgentProcess) -> None:
    s = _connect(limited)
    for _ in range(3):
        assert _get(s, "/v1/health/service/consul").startswith(b"HTTP/1.1 200")
    s.sendall(b"GET /v1/health/service/consul HTTP/1.1\r\nX-Slow: ")
    start = time.monotonic()
    try:
        while time.monotonic() - start < HEADER_TIMEOUT + 5:
            s.sendall(b"a")
            time.sleep(0.1)  # the trickle itself
    except (BrokenPipeError, ConnectionResetError):
        pass
    _closed_by_server(s, within=1.0)
    assert time.monotonic() - start < HEADER_TIMEOUT + 5
    s.close()


@pytest.mark.parametrize("raw", [
    b"PUT /v1/kv/half-closed HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok",
    b"GET /v1/agent/self HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc",
])
def test_a_client_that_half_closes_after_its_request_still_gets_the_reply(limited: AgentProcess, raw: bytes) -> None:
    """`shutdown(SHUT_WR)` right after the request (as `nc -N` does): the reply still comes, then
    the server closes."""
    s = _connect(limited)
    s.sendall(raw)
    s.shutdown(socket.SHUT_WR)
    s.settimeout(10)
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    s.close()
    statuses = [line for line in data.split(b"\r\n") if line.startswith(b"HTTP/1.1 ")]
    assert statuses and statuses[-1].startswith(b"HTTP/1.1 200"), data[:300]
