"""Pipelined requests on one connection: the leading cached reads are answered by the fast path
in one write, anything after them by the full path, every reply in request order and the same
bytes as asked one at a time."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from tests.support.agents import AgentProcess, start_agent

HOT = "/v1/health/service/consul"


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    a = start_agent(tmp_path_factory.mktemp("pipelining"))
    try:
        yield a
    finally:
        a.stop()


def _replies(agent: AgentProcess, paths: list[str], close_last: bool = False) -> list[tuple[bytes, bytes]]:
    """Send every request in one write; read (status line, body) for each, in order. With
    `close_last` the last request says `Connection: close`, and the server must then close."""
    heads = [f"GET {p} HTTP/1.1\r\nHost: x\r\n" for p in paths]
    if close_last:
        heads[-1] += "Connection: close\r\n"
    out: list[tuple[bytes, bytes]] = []
    with socket.create_connection((agent.host, agent.http_port), timeout=10) as s:
        s.sendall("".join(h + "\r\n" for h in heads).encode())
        data = b""
        while len(out) < len(paths):
            while b"\r\n\r\n" not in data:
                chunk = s.recv(65536)
                assert chunk, f"closed after {len(out)} replies"
                data += chunk
            head, _, data = data.partition(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            length = int(next(ln.split(b":")[1] for ln in lines if ln.lower().startswith(b"content-length")))
            while len(data) < length:
                chunk = s.recv(65536)
                assert chunk
                data += chunk
            out.append((lines[0], data[:length]))
            data = data[length:]
        if close_last:
            assert data == b"" and s.recv(65536) == b"", "still open after Connection: close"
    return out


def test_pipelined_cached_reads_are_all_answered_in_order(agent: AgentProcess) -> None:
    _, _, alone = agent.request("GET", HOT)
    agent.request("GET", HOT)  # now cached: the pipelined ones are fast-path answers
    replies = _replies(agent, [HOT] * 5)
    assert replies == [(b"HTTP/1.1 200 OK", alone)] * 5


def test_a_request_the_fast_path_cannot_answer_hands_the_rest_over_in_order(agent: AgentProcess) -> None:
    agent.request("GET", HOT)
    _, _, hot = agent.request("GET", HOT)
    replies = _replies(agent, [HOT, HOT, "/v1/agent/self", HOT, "/v1/catalog/datacenters"])
    assert [r[0] for r in replies] == [b"HTTP/1.1 200 OK"] * 5
    assert replies[0][1] == replies[1][1] == replies[3][1] == hot
    assert json.loads(replies[2][1])["Config"]["NodeName"] == "agent"
    assert json.loads(replies[4][1]) == ["dc1"]


def test_connection_close_on_a_pipelined_read_closes_after_its_reply(agent: AgentProcess) -> None:
    agent.request("GET", HOT)
    replies = _replies(agent, [HOT, HOT], close_last=True)
    assert [r[0] for r in replies] == [b"HTTP/1.1 200 OK"] * 2
