"""Seed 002 (互连服务) step by step with real socat, nc and `pyconsul connect proxy` processes.

The seed's own files and commands, with its addresses moved onto this worker's loopback block
and free ports (`-upstream socat:<host>:<port>` instead of `socat:9191`, socat bound to the host):
socat as the echo service, its registration with `"connect": {"sidecar_service": {}}` loaded by
`consul reload`, `connect proxy -sidecar-for socat`, `connect proxy -service web -upstream ...`,
`nc` echoing through both proxies, `intention create -deny web socat` refusing the next
connection (an established one keeps working, as in Consul), `intention delete web socat`
letting it through again. Between the proxies only TLS passes: a recording relay sits on that
hop, and a plain TCP client on the sidecar's public port gets nothing back.

While `sidecar_service` registration is not on this branch (it is the mesh work), the test
registers what it would have made — `socat-sidecar-proxy` of kind connect-proxy — through the
agent API after the reload; once the agent makes it itself, that is what is used.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.cli_run import clean_env, consul
from tests.support.agents import AgentProcess, start_agent
from tests.support.ports import free_port, loopback
from tests.support.wait import wait_until

HOST = loopback(61)

pytestmark = pytest.mark.skipif(not all(os.path.exists(p) for p in ("/usr/bin/socat", "/usr/bin/nc")),
                                reason="needs socat and netcat-openbsd (apt-get install -y socat netcat-openbsd)")


class Proc:
    """A long-running command whose output is collected; stopped with SIGTERM (then SIGKILL)."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._reader.join(5)


class Relay:
    """A TCP relay that records what passes from the client side (the web proxy's TLS)."""

    def __init__(self, host: str, port: int, target: tuple[str, int]) -> None:
        self.sent = bytearray()
        self.target = target
        self.listener = socket.create_server((host, port))
        self._threads: list[threading.Thread] = []
        self._socks: list[socket.socket] = []
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self._socks += [conn, upstream]
            for src, dst, record in ((conn, upstream, True), (upstream, conn, False)):
                t = threading.Thread(target=self._copy, args=(src, dst, record), daemon=True)
                t.start()
                self._threads.append(t)

    def _copy(self, src: socket.socket, dst: socket.socket, record: bool) -> None:
        try:
            while data := src.recv(65536):
                if record:
                    self.sent += data
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()
        for s in self._socks:
            s.close()


def nc(port: int, text: str) -> str:
    """`nc <host> <port>` typing `text`; -w 2 ends it once the echo has come back."""
    proc = subprocess.run(["nc", "-w", "2", HOST, str(port)], input=text, capture_output=True, text=True, timeout=20)
    return proc.stdout


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AgentProcess, Path]]:
    d = tmp_path_factory.mktemp("seed002")
    conf = d / "consul.d"
    conf.mkdir()
    a = start_agent(d, f"-config-dir={conf}", host=HOST, name="seed002")
    wait_until(lambda: a.get_json("/v1/connect/ca/roots")["ActiveRootID"], what="the CA's root")
    yield a, conf
    a.stop()


def test_seed002_walkthrough(agent: tuple[AgentProcess, Path]) -> None:
    a, conf = agent
    env = clean_env(CONSUL_HTTP_ADDR=a.http_addr)
    socat_port, web_port, relay_port, sidecar_port = free_port(), free_port(), free_port(), free_port()
    procs: list[Proc] = []
    relay: Relay | None = None
    try:
        # $ socat -v tcp-l:8181,fork exec:"/bin/cat"   … and nc echoes through it
        # bound to all interfaces, as in the seed: the sidecar dials its LocalServiceAddress, 127.0.0.1
        socat = Proc(["socat", "-v", f"tcp-l:{socat_port},reuseaddr,fork", "exec:/bin/cat"])
        procs.append(socat)
        wait_until(lambda: socket.create_connection((HOST, socat_port), 1).close() is None, what="socat listening")
        assert nc(socat_port, "hello\n") == "hello\n"

        # $ cat <<EOF | sudo tee ./consul.d/socat.json … then consul reload
        (conf / "socat.json").write_text(json.dumps(
            {"service": {"name": "socat", "port": socat_port, "connect": {"sidecar_service": {}}}}, indent=2))
        assert consul("reload", env=env).out == "Configuration reload triggered\n"
        wait_until(lambda: "socat" in a.get_json("/v1/agent/services"), what="socat registered")
        services = a.get_json("/v1/agent/services")
        if "socat-sidecar-proxy" not in services:
            # What sidecar_service {} registers, with the public port behind the recording relay.
            status, _, body = a.request("PUT", "/v1/agent/service/register", {
                "ID": "socat-sidecar-proxy", "Name": "socat-sidecar-proxy", "Kind": "connect-proxy",
                "Address": HOST, "Port": relay_port,
                "Proxy": {"DestinationServiceName": "socat", "DestinationServiceID": "socat",
                          "LocalServiceAddress": HOST, "LocalServicePort": socat_port,
                          "Config": {"bind_address": HOST, "bind_port": sidecar_port}}})
            assert status == 200, body
            relay = Relay(HOST, relay_port, (HOST, sidecar_port))
        else:
            sidecar_port = int(services["socat-sidecar-proxy"]["Port"])

        # $ consul connect proxy -sidecar-for socat
        py = [sys.executable, "-m", "pyconsul"]
        sidecar = Proc([*py, "connect", "proxy", "-sidecar-for", "socat"], env)
        procs.append(sidecar)
        wait_until(lambda: "public listener starting" in sidecar.output(), 20, what="the sidecar's listener")
        assert sidecar.lines[:4] == ["==> Consul Connect proxy starting...",
                                     "    Configuration mode: Agent API",
                                     "        Sidecar for ID: socat",
                                     "              Proxy ID: socat-sidecar-proxy"]
        td = a.get_json("/v1/connect/ca/roots")["TrustDomain"]
        assert f"TLS Identity: spiffe://{td}/ns/default/dc/dc1/svc/socat" in sidecar.output()

        # $ consul connect proxy -service web -upstream socat:9191
        web = Proc([*py, "connect", "proxy", "-service", "web", "-upstream", f"socat:{HOST}:{web_port}"], env)
        procs.append(web)
        wait_until(lambda: "Proxy loaded config and ready to serve" in web.output(), 20, what="the web proxy")
        assert web.lines[:5] == ["==> Consul Connect proxy starting...",
                                 "    Configuration mode: Flags",
                                 "               Service: web",
                                 f"              Upstream: socat => {HOST}:{web_port}",
                                 "       Public listener: Disabled"]
        assert f"{HOST}:{web_port}->service:default/socat starting on {HOST}:{web_port}" in web.output()
        assert f"TLS Identity: spiffe://{td}/ns/default/dc/dc1/svc/web" in web.output()

        # $ nc 127.0.0.1 9191 → hello
        assert wait_until(lambda: nc(web_port, "hello\n") == "hello\n", 15, what="echo through the proxies")

        # Between the proxies only TLS: records start with a handshake, the text never appears.
        if relay is not None:
            assert relay.sent[:1] == b"\x16" and b"hello" not in relay.sent
        plain = socket.create_connection((HOST, sidecar_port), 5)
        plain.settimeout(5)
        plain.sendall(b"hello\n")
        try:
            answer = plain.recv(100)
        except (ConnectionResetError, TimeoutError):
            answer = b""
        plain.close()
        assert b"hello" not in answer

        # An established connection, opened before the deny.
        live = socket.create_connection((HOST, web_port), 5)
        live.settimeout(5)
        live.sendall(b"before\n")
        assert live.recv(100) == b"before\n"

        # $ consul intention create -deny web socat
        r = consul("intention", "create", "-deny", "web", "socat", env=env)
        assert (r.code, r.out) == (0, "Created: web => socat (deny)\n"), r.err
        # $ nc 127.0.0.1 9191 → nothing: the connection is refused by authorize
        assert nc(web_port, "hello\n") == ""
        wait_until(lambda: "authz call denied" in sidecar.output(), 10, what="the sidecar to log the denial")
        live.sendall(b"still\n")
        assert live.recv(100) == b"still\n"  # intentions do not cut established connections
        live.close()

        # $ consul intention delete web socat → Intention deleted.; nc echoes again
        r = consul("intention", "delete", "web", "socat", env=env)
        assert (r.code, r.out) == (0, "Intention deleted.\n"), r.err
        assert nc(web_port, "hello\n") == "hello\n"
    finally:
        for p in reversed(procs):
            p.stop()
        if relay is not None:
            relay.close()


def test_a_leaf_for_another_service_is_refused_by_authorize(agent: tuple[AgentProcess, Path]) -> None:
    """The public listener accepts the chain (same CA) but authorize refuses the identity."""
    import ssl
    import tempfile

    a, _ = agent
    env = clean_env(CONSUL_HTTP_ADDR=a.http_addr)
    backend_port, listen_port = free_port(), free_port()
    echo = Proc(["socat", f"tcp-l:{backend_port},bind={HOST},reuseaddr,fork", "exec:/bin/cat"])
    proxy = Proc([sys.executable, "-m", "pyconsul", "connect", "proxy", "-service", "vault",
                  "-listen", f"{HOST}:{listen_port}", "-service-addr", f"{HOST}:{backend_port}"], env)
    try:
        wait_until(lambda: "public listener starting" in proxy.output(), 20, what="the vault proxy")
        consul("intention", "create", "-deny", "*", "vault", env=env)
        consul("intention", "create", "-allow", "ops", "vault", env=env)
        roots = "".join(r["RootCert"] for r in a.get_json("/v1/connect/ca/roots")["Roots"])

        def talk(service: str) -> bytes:
            leaf = a.get_json(f"/v1/agent/connect/ca/leaf/{service}")
            with tempfile.TemporaryDirectory() as tmp:
                cert, key = Path(tmp, "c.pem"), Path(tmp, "k.pem")
                cert.write_text(leaf["CertPEM"])
                key.write_text(leaf["PrivateKeyPEM"])
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False
                ctx.load_verify_locations(cadata=roots)
                ctx.load_cert_chain(cert, key)
            with socket.create_connection((HOST, listen_port), 5) as raw, ctx.wrap_socket(raw) as tls:
                tls.settimeout(5)
                try:
                    tls.sendall(b"ping\n")
                    return tls.recv(100)
                except (ssl.SSLError, ConnectionResetError, TimeoutError):
                    return b""

        assert talk("ops") == b"ping\n"
        assert talk("intruder") == b""
    finally:
        consul("intention", "delete", "*", "vault", env=env)
        consul("intention", "delete", "ops", "vault", env=env)
        proxy.stop()
        echo.stop()


def test_root_rotation_keeps_live_connections_and_new_ones_work(agent: tuple[AgentProcess, Path]) -> None:
    """A CA rotation while a connection streams: the live one keeps flowing, both proxies pick up
    the new leaf and roots, and a new connection (new handshake, new certificates) works."""
    a, _ = agent
    env = clean_env(CONSUL_HTTP_ADDR=a.http_addr)
    backend_port, public_port, local_port = free_port(), free_port(), free_port()
    py = [sys.executable, "-m", "pyconsul", "connect", "proxy"]
    procs = [Proc(["socat", f"tcp-l:{backend_port},bind={HOST},reuseaddr,fork", "exec:/bin/cat"])]
    try:
        server = Proc([*py, "-service", "store", "-listen", f"{HOST}:{public_port}",
                       "-service-addr", f"{HOST}:{backend_port}", "-register"], env)
        procs.append(server)
        client = Proc([*py, "-service", "shop", "-upstream", f"store:{HOST}:{local_port}"], env)
        procs.append(client)
        wait_until(lambda: a.get_json("/v1/health/service/store-proxy?passing"), 20, what="store-proxy registered")
        wait_until(lambda: "ready to serve" in client.output(), 20, what="the shop proxy")
        wait_until(lambda: nc(local_port, "a\n") == "a\n", 20, what="the first echo")
        live = socket.create_connection((HOST, local_port), 5)
        live.settimeout(5)
        live.sendall(b"a\n")
        assert live.recv(10) == b"a\n"
        before = a.get_json("/v1/connect/ca/roots")["ActiveRootID"]
        status, _, body = a.request("PUT", "/v1/connect/ca/configuration",
                                    {"Provider": "consul", "Config": {"RotateRoot": True}})
        assert status == 200, body
        for proxy in (server, client):
            wait_until(lambda p=proxy: "TLS certificates updated" in p.output(), 20, what="new certificates")
        assert a.get_json("/v1/connect/ca/roots")["ActiveRootID"] != before
        for i in range(20):  # the live connection never noticed
            live.sendall(b"x%d\n" % i)
            assert live.recv(10) == b"x%d\n" % i
        live.close()
        assert nc(local_port, "after\n") == "after\n"
    finally:
        for p in reversed(procs):
            p.stop()


def test_an_instance_that_leaves_the_catalog_gets_no_new_connections(agent: tuple[AgentProcess, Path]) -> None:
    """Two instances of `pool` behind their own proxies; once one is deregistered the client proxy
    sends every new connection to the other (Consul's proxy would keep using it)."""
    a, _ = agent
    env = clean_env(CONSUL_HTTP_ADDR=a.http_addr)
    py = [sys.executable, "-m", "pyconsul", "connect", "proxy"]
    local = free_port()
    procs: list[Proc] = []
    try:
        for name in ("A", "B"):
            backend, public = free_port(), free_port()
            procs.append(Proc(["socat", f"tcp-l:{backend},bind={HOST},reuseaddr,fork", f"SYSTEM:echo {name}"]))
            procs.append(Proc([*py, "-service", "pool", "-listen", f"{HOST}:{public}", "-service-addr",
                               f"{HOST}:{backend}", "-register", "-register-id", f"pool-{name}"], env))
        client = Proc([*py, "-service", "shop2", "-upstream", f"pool:{HOST}:{local}"], env)
        procs.append(client)
        wait_until(lambda: len(a.get_json("/v1/health/service/pool-proxy?passing")) == 2, 20, what="both instances")

        def answers(n: int) -> set[str]:
            return {nc(local, "").strip() for _ in range(n)}

        assert wait_until(lambda: answers(12) == {"A", "B"}, 30, what="both instances answering")
        status, _, body = a.request("PUT", "/v1/agent/service/deregister/pool-A")
        assert status == 200, body
        assert wait_until(lambda: answers(8) == {"B"}, 20, what="only B answering")
    finally:
        for p in reversed(procs):
            p.stop()
