"""Seed 003 (Linkerd: 将一切加密) with our mesh: apps send plain HTTP to the proxy on their own
host through `http_proxy`, and between hosts only mutually authenticated TLS passes.

Two "hosts" on distinct loopback addresses, each with its own agent (a server on A, a client
agent on B joined to it). On A: `hello`, a real HTTP/1.1 server, registered with
`connect { sidecar_service {} }` and served by `connect proxy -sidecar-for hello`. On B:
`connect proxy -service web -http-proxy B:<port>`, the node's linkerd of the seed. Then the
seed's own command, `http_proxy=B:<port> curl -s http://hello`, answers from A — the names an
app sends (`http://hello`, `http://hello:8080`, `hello.service.consul`, origin-form with a Host
header), keep-alive on one mesh connection, `CONNECT` tunnelled, an unknown service answered 502
and a denying intention 403. A recording relay on the sidecar's public port (the hop between the
hosts) sees only TLS records, in both directions.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.cli.cli_run import clean_env, consul
from tests.connect.test_seed002 import Proc, Relay
from tests.support.agents import AgentProcess, start_agent
from tests.support.ports import free_port, loopback
from tests.support.wait import wait_until

HOST_A, HOST_B = loopback(63), loopback(64)

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/bin/curl"), reason="needs curl")

# The `hello` app: HTTP/1.1 with keep-alive; says which host it runs on and what it was asked.
BACKEND = r"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Hello(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"one ", b"two ", b"three"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        self._answer(f"Hello world from {sys.argv[1]}: {self.command} {self.path} Host={self.headers['Host']}\n".encode())

    def do_HEAD(self):
        self.send_response(200)
        self.send_header("Content-Length", "42")
        self.end_headers()

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        self._answer(b"posted " + self.rfile.read(n) + b"\n")

    def log_message(self, *args):
        pass

ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Hello).serve_forever()
"""


class RecordingRelay(Relay):
    """Seed 002's relay, also recording what comes back, and counting connections."""

    def __init__(self, host: str, port: int, target: tuple[str, int]) -> None:
        self.received = bytearray()
        self.connections = 0
        super().__init__(host, port, target)

    def _copy(self, src, dst, record):  # type: ignore[no-untyped-def]
        if record:
            self.connections += 1
            return super()._copy(src, dst, record)
        try:
            while data := src.recv(65536):
                self.received += data
                dst.sendall(data)
        except OSError:
            pass


def curl(proxy: str, *args: str) -> subprocess.CompletedProcess[str]:
    """curl with only `http_proxy` set, as the seed runs it; -w prints the status last."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "http_proxy": proxy}
    return subprocess.run(["curl", "-s", "--max-time", "20", "-w", "\n%{http_code}", *args],
                          capture_output=True, text=True, timeout=30, env=env)


def answer(proxy: str, *args: str) -> tuple[int, str]:
    out = curl(proxy, *args).stdout
    body, _, code = out.rpartition("\n")
    return int(code or 0), body.rstrip("\n")


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AgentProcess, AgentProcess]]:
    d = tmp_path_factory.mktemp("seed003")
    a = start_agent(d / "a", "-server", "-bootstrap", "-data-dir", str(d / "a" / "data"), dev=False,
                    name="host-a", host=HOST_A)
    b = None
    try:
        ports = {"http": free_port(), "dns": free_port(), "server": free_port(), "serf_lan": free_port()}
        b = start_agent(d / "b", "-data-dir", str(d / "b" / "data"), "-retry-join", f"{HOST_A}:{a.serf_lan_port}",
                        "-retry-interval", "1s", dev=False, name="host-b", host=HOST_B, ports=ports)
        wait_until(lambda: a.get_json("/v1/connect/ca/roots")["ActiveRootID"], 20, what="the CA's root")
        wait_until(lambda: len(a.get_json("/v1/catalog/nodes")) == 2, 20, what="both hosts in the catalog")
        yield a, b
    finally:
        if b is not None:
            b.stop()
        a.stop()


def test_seed003_plain_http_apps_get_mtls_between_hosts(hosts: tuple[AgentProcess, AgentProcess]) -> None:
    a, b = hosts
    env_a, env_b = clean_env(CONSUL_HTTP_ADDR=a.http_addr), clean_env(CONSUL_HTTP_ADDR=b.http_addr)
    backend_port, relay_port, sidecar_port, http_port = free_port(), free_port(), free_port(), free_port()
    py = [sys.executable, "-m", "pyconsul"]
    procs: list[Proc] = []
    relay: RecordingRelay | None = None
    try:
        procs.append(Proc([sys.executable, "-c", BACKEND, HOST_A, str(backend_port)]))
        # hello on host A, its sidecar's public port behind the relay (the hop between hosts).
        status, _, text = a.request("PUT", "/v1/agent/service/register", {
            "Name": "hello", "Address": HOST_A, "Port": backend_port, "Connect": {"SidecarService": {
                "Port": relay_port, "Check": {"Name": "up", "TTL": "1h", "Status": "passing"},
                "Proxy": {"LocalServiceAddress": HOST_A,
                          "Config": {"bind_address": HOST_A, "bind_port": sidecar_port}}}}})
        assert status == 200, text
        relay = RecordingRelay(HOST_A, relay_port, (HOST_A, sidecar_port))
        sidecar = Proc([*py, "connect", "proxy", "-sidecar-for", "hello"], env_a)
        procs.append(sidecar)
        wait_until(lambda: "public listener starting" in sidecar.output(), 20, what="hello's sidecar")

        # The node's proxy on host B, which apps reach through http_proxy.
        node = Proc([*py, "connect", "proxy", "-service", "web", "-http-proxy", f"{HOST_B}:{http_port}"], env_b)
        procs.append(node)
        wait_until(lambda: "http proxy listener starting" in node.output(), 20, what="host B's proxy")
        assert f"            HTTP proxy: {HOST_B}:{http_port}" in node.lines
        proxy = f"{HOST_B}:{http_port}"

        # $ http_proxy=$HOST_IP:4140 curl -s http://hello  →  Hello world
        assert wait_until(lambda: answer(proxy, "http://hello")[0] == 200, 20, what="hello through the mesh")
        code, body = answer(proxy, "http://hello")
        assert body == f"Hello world from {HOST_A}: GET / Host=hello"
        # What else an app may send: a port (ignored: the mesh knows hello's), Consul's DNS names,
        # a query string, a body, and origin-form with a Host header.
        assert answer(proxy, "http://hello:8080/x?y=1") == (200, f"Hello world from {HOST_A}: GET /x?y=1 Host=hello:8080")
        assert answer(proxy, "http://hello.service.consul/a")[1].endswith("GET /a Host=hello.service.consul")
        assert answer(proxy, "http://hello.service.dc1.consul/a")[0] == 200
        assert answer(proxy, "-d", "ping", "http://hello/p") == (200, "posted ping")
        assert answer("", "-H", "Host: hello", f"http://{proxy}/o")[1].endswith("GET /o Host=hello")

        # Keep-alive: two requests on one app connection travel on one mesh connection.
        before = relay.connections
        run = curl(proxy, "-v", "http://hello/1", "http://hello/2")
        assert run.stdout.count("Hello world") == 2 and "Re-using existing connection" in run.stderr
        assert relay.connections == before + 1

        # A chunked answer, then a HEAD, on the same connections.
        run = curl(proxy, "-v", "http://hello/chunked", "http://hello/2")
        assert run.stdout.startswith("one two three") and "Re-using existing connection" in run.stderr
        assert curl(proxy, "-I", "http://hello/").stdout.startswith("HTTP/1.1 200")
        # An HTTP/1.0 app: answered, then closed.
        assert answer(proxy, "-0", "http://hello/old")[1].endswith("GET /old Host=hello")

        # CONNECT is tunnelled (curl -p): the bytes reach hello over mTLS.
        assert answer(proxy, "-p", "http://hello/t")[1].endswith("GET /t Host=hello")

        # Only TLS between the hosts, both ways: records from the first byte, no HTTP text.
        assert relay.sent[:1] == b"\x16" and relay.received[:1] == b"\x16"
        for seen in (relay.sent, relay.received):
            assert b"Hello world" not in seen and b"GET /" not in seen and b"HTTP/1.1" not in seen

        # A name that is no service, and one that is no service in the mesh.
        code, body = answer(proxy, "http://nope/")
        assert code == 502 and "no healthy instances of service 'nope'" in body
        code, body = answer(proxy, "http://example.com/")
        assert code == 502 and "is not a Connect service name" in body

        # Garbage is a 400 saying what was wrong, not a dropped connection.
        with socket.create_connection((HOST_B, http_port), 5) as raw:
            raw.sendall(b"NONSENSE\r\n\r\n")
            raw.settimeout(5)
            data = b""
            while chunk := raw.recv(4096):
                data += chunk
        assert data.startswith(b"HTTP/1.1 400 Bad Request") and b"malformed request line 'NONSENSE'" in data

        # $ consul intention create -deny web hello → the app is told, clearly, with a 403.
        r = consul("intention", "create", "-deny", "web", "hello", env=env_a)
        assert (r.code, r.out) == (0, "Created: web => hello (deny)\n"), r.err
        code, body = answer(proxy, "http://hello/")
        assert (code, body) == (403, "hello's proxy refused web: an intention denies web => hello")
        assert "authz call denied" in sidecar.output()
        assert consul("intention", "delete", "web", "hello", env=env_a).code == 0
        assert answer(proxy, "http://hello/") == (200, f"Hello world from {HOST_A}: GET / Host=hello")
    finally:
        for p in reversed(procs):
            p.stop()
        if relay is not None:
            relay.close()
        a.request("PUT", "/v1/agent/service/deregister/hello")


def test_http_proxy_flag_needs_host_and_port(hosts: tuple[AgentProcess, AgentProcess]) -> None:
    a, _ = hosts
    r = consul("connect", "proxy", "-service", "web", "-http-proxy", "nohost", env=clean_env(CONSUL_HTTP_ADDR=a.http_addr))
    assert r.code == 1 and "invalid -http-proxy address 'nohost': missing port" in r.err
