"""The server port carries only what client agents forward: raw sockets to a real agent's server
port asking for anything else get the connection closed with no answer, and nothing happens."""

from __future__ import annotations

import socket

import pytest

from pyconsul.agent.forward_gate import ForwardedRoutes
from pyconsul.api.routes import ROUTES
from tests.support.agents import AgentProcess
from tests.support.wait import wait_until


def exchange(agent: AgentProcess, *requests: bytes) -> bytes:
    """Send the requests on one connection and read until the server closes it (or 3 s)."""
    with socket.create_connection((agent.host, agent.server_port), timeout=3) as sock:
        for r in requests:
            sock.sendall(r)
        got = b""
        try:
            while chunk := sock.recv(65536):
                got += chunk
        except TimeoutError:
            pass
        return got


def get(target: str, keep_alive: bool = False) -> bytes:
    conn = b"keep-alive" if keep_alive else b"close"
    return b"GET " + target.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: " + conn + b"\r\n\r\n"


REFUSED = [
    get("/v1/agent/self"),
    get("/v1/agent/members"),
    get("/v1/%61gent/self"),
    get("/v1/kv/../agent/self"),
    get("/v1/kv/%2e%2e/agent/self"),
    get("//v1/agent/self"),
    get("http://x/v1/agent/self"),
    get("/ui/"),
    get("/v1/not-an-endpoint"),
    b"DELETE /v1/status/leader HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /v1/status/leader HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    b"PUT /v1/agent/service/register HTTP/1.1\r\nHost: x\r\nContent-Length: 29\r\n\r\n"
    b'{"Name":"planted","Port":80}\n',
]


@pytest.mark.parametrize("request_bytes", REFUSED, ids=[r.split(b"\r\n")[0].decode() for r in REFUSED])
def test_requests_that_are_not_forwarded_api_calls_are_closed_unanswered(
    shared_agent: AgentProcess, request_bytes: bytes
) -> None:
    assert exchange(shared_agent, request_bytes) == b""


def test_refused_agent_write_changes_nothing_and_is_logged(shared_agent: AgentProcess) -> None:
    body = b'{"Name":"planted-svc","Port":80}'
    req = (b"PUT /v1/agent/service/register HTTP/1.1\r\nHost: x\r\nContent-Length: "
           + str(len(body)).encode() + b"\r\n\r\n" + body)
    assert exchange(shared_agent, req) == b""
    assert "planted-svc" not in shared_agent.get_json("/v1/agent/services")
    wait_until(lambda: "server port: refused a request" in shared_agent.log(), 5, what="refusal logged")


def test_forwarded_api_calls_are_answered(shared_agent: AgentProcess) -> None:
    reply = exchange(shared_agent, get("/v1/status/leader"))
    assert reply.startswith(b"HTTP/1.1 200 ")
    body = b'{"Node":"fwd-node","Address":"10.0.0.9"}'
    put = (b"PUT /v1/catalog/register HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: "
           + str(len(body)).encode() + b"\r\n\r\n" + body)
    assert exchange(shared_agent, put).startswith(b"HTTP/1.1 200 ")
    assert any(n["Node"] == "fwd-node" for n in shared_agent.get_json("/v1/catalog/nodes"))
    assert exchange(shared_agent, get("/v1/kv/some/missing%20key")).startswith(b"HTTP/1.1 404 ")


def test_every_request_on_a_kept_alive_connection_is_checked(shared_agent: AgentProcess) -> None:
    reply = exchange(shared_agent, get("/v1/status/leader", keep_alive=True), get("/v1/agent/self"))
    assert reply.count(b"HTTP/1.1 ") == 0 or reply.count(b"HTTP/1.1 ") == 1
    assert b'"Config"' not in reply  # /v1/agent/self never answered
    # Sent one after the other (the first answered before the second is written), the same.
    with socket.create_connection((shared_agent.host, shared_agent.server_port), timeout=3) as sock:
        sock.sendall(get("/v1/status/leader", keep_alive=True))
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 ")
        sock.sendall(get("/v1/agent/self"))
        assert sock.recv(65536) == b""


def test_allow_list_is_the_non_agent_api_routes() -> None:
    routes = ForwardedRoutes((m, p) for m, p, _ in ROUTES)
    assert routes.allows("GET", "/v1/catalog/service/web?tag=a&dc=dc1")
    assert routes.allows("PUT", "/v1/kv/a/b/c?cas=1")
    assert routes.allows("GET", "/v1/health/service/web%20x")
    assert not routes.allows("GET", "/v1/agent/self")
    assert not routes.allows("PUT", "/v1/catalog/service/web")  # a route's other methods only
    assert not routes.allows("GET", "/v1/catalog/service/a/b")  # {service} is one segment
    assert not routes.allows("GET", "/v1/kv/./x")


def test_a_cross_datacenter_forward_from_a_host_that_is_no_wan_server_is_closed_unanswered(
    shared_agent: AgentProcess
) -> None:
    marked = b"GET /v1/status/leader HTTP/1.1\r\nHost: x\r\nX-Pyconsul-Wan-Forward: dc9\r\nConnection: close\r\n\r\n"
    assert exchange(shared_agent, marked) == b""
    # The same request unmarked is a client agent's forward, and is answered.
    assert exchange(shared_agent, get("/v1/status/leader")).startswith(b"HTTP/1.1 200")
