"""pytemplate and pyregistrator against an agent that speaks only HTTPS with verify_incoming
(ports.http = -1): with the CA, a client certificate and key they work; without the client
certificate each says why in one log line, with no traceback."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.pyregistrator.docker_env import Containers, engine_lock, skip_reason
from tests.pytemplate.helpers import TemplateProcess, read
from tests.support.agents import AgentProcess, start_agent
from tests.support.ports import free_port, loopbacks
from tests.support.wait import wait_until
from tests.tls.pki import Pair, make_ca, make_leaf

HOST = loopbacks(1, first=80)[0]


class HTTPSAgent:
    def __init__(self, agent: AgentProcess, port: int, ca: Pair, cli: Pair) -> None:
        self.agent, self.port, self.ca, self.cli = agent, port, ca, cli

    @property
    def addr(self) -> str:
        return f"{HOST}:{self.port}"

    def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        import http.client

        ctx = ssl.create_default_context(cafile=str(self.ca.cert))
        ctx.load_cert_chain(str(self.cli.cert), str(self.cli.key))
        conn = http.client.HTTPSConnection(HOST, self.port, context=ctx, timeout=10)
        conn.sock = ctx.wrap_socket(socket.create_connection((HOST, self.port), timeout=10),
                                    server_hostname="localhost")
        try:
            conn.request(method, path, body=body or None)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def get_json(self, path: str) -> Any:
        status, body = self.request("GET", path)
        assert status == 200, (status, body)
        return json.loads(body)


@pytest.fixture(scope="module")
def https_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HTTPSAgent]:
    tmp = tmp_path_factory.mktemp("https-only")
    ca = make_ca(tmp / "pki")
    server = make_leaf(ca, tmp / "pki", "server", "server")
    cli = make_leaf(ca, tmp / "pki", "cli", "cli")
    port = free_port()
    conf = tmp / "tls.json"
    conf.write_text(json.dumps({
        "ports": {"https": port}, "ca_file": str(ca.cert), "cert_file": str(server.cert),
        "key_file": str(server.key), "tls": {"https": {"verify_incoming": True}}}))
    agent = start_agent(tmp, f"-config-file={conf}", host=HOST, ports={"http": -1}, wait=False)
    https = HTTPSAgent(agent, port, ca, cli)

    def ready() -> bool:
        try:
            return bool(https.get_json("/v1/status/leader"))
        except (OSError, AssertionError, ssl.SSLError):
            assert agent.alive(), agent.log()
            return False

    try:
        wait_until(ready, 30, what="the HTTPS-only agent")
        yield https
    finally:
        agent.stop()


def _ssl_flags(a: HTTPSAgent, cert: bool = True) -> list[str]:
    flags = ["-consul-addr", a.addr, "-consul-ssl", "-consul-ssl-ca-cert", str(a.ca.cert),
             "-consul-ssl-server-name", "localhost"]
    if cert:
        flags += ["-consul-ssl-cert", str(a.cli.cert), "-consul-ssl-key", str(a.cli.key)]
    return flags


def test_pytemplate_renders_over_https_with_a_client_certificate(https_agent: HTTPSAgent, tmp_path: Path) -> None:
    assert https_agent.request("PUT", "/v1/kv/tls/template", b"rendered over mTLS")[0] == 200
    src = tmp_path / "in.ctmpl"
    src.write_text('{{ key "tls/template" }}')
    r = subprocess.run([sys.executable, "-m", "pytemplate", "-once", *_ssl_flags(https_agent),
                        "-template", f"{src}:{tmp_path}/out"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert read(tmp_path / "out") == "rendered over mTLS"


def test_pytemplate_without_a_client_certificate_logs_why_and_retries(
        https_agent: HTTPSAgent, tmp_path: Path) -> None:
    src = tmp_path / "in.ctmpl"
    src.write_text('{{ key "tls/template" }}')
    p = TemplateProcess(tmp_path, *_ssl_flags(https_agent, cert=False), "-consul-retry-backoff", "50ms",
                        "-template", f"{src}:{tmp_path}/out")
    try:
        assert wait_until(lambda: p.log().count("kv.block(tls/template)") >= 2, 30, what="two logged failures"), \
            p.log()
        assert p.alive() and not (tmp_path / "out").exists()
        assert "the agent may require a client certificate: verify_incoming" in p.log()
        assert "Traceback" not in p.log()
    finally:
        assert p.stop() == 0


DOCKER = skip_reason()


def _registrator(tmp_path: Path, a: HTTPSAgent, cert: bool, *flags: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CONSUL_CACERT": str(a.ca.cert), "CONSUL_TLS_SERVER_NAME": "localhost",
           "PYTHONUNBUFFERED": "1"}
    for k in ("CONSUL_CLIENT_CERT", "CONSUL_CLIENT_KEY", "CONSUL_TLSCERT", "CONSUL_TLSKEY", "CONSUL_HTTP_ADDR"):
        env.pop(k, None)
    if cert:
        env |= {"CONSUL_CLIENT_CERT": str(a.cli.cert), "CONSUL_CLIENT_KEY": str(a.cli.key)}
    with open(tmp_path / "registrator.log", "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "pyregistrator", *flags, f"consul-tls://{a.addr}"],
                                stdout=log, stderr=subprocess.STDOUT, env=env)


@pytest.mark.docker
@pytest.mark.skipif(DOCKER is not None, reason=DOCKER or "")
def test_pyregistrator_registers_a_container_over_consul_tls(https_agent: HTTPSAgent, tmp_path: Path) -> None:
    containers = Containers()
    reg = _registrator(tmp_path, https_agent, True, "-ip", "127.0.0.1")
    try:
        with engine_lock():
            try:
                name = containers.run("web", "-p", f"{free_port()}:80")

                def registered() -> bool:
                    assert reg.poll() is None, (tmp_path / "registrator.log").read_text()
                    services = https_agent.get_json("/v1/agent/services")
                    return any(name in sid for sid in services)

                assert wait_until(registered, 20, what="the container's service"), \
                    (tmp_path / "registrator.log").read_text()
            finally:
                containers.remove_all()
    finally:
        reg.terminate()
        reg.wait(10)


def test_pyregistrator_without_a_client_certificate_says_why(https_agent: HTTPSAgent, tmp_path: Path) -> None:
    reg = _registrator(tmp_path, https_agent, False, "-retry-attempts", "0")
    assert reg.wait(30) == 1
    log = (tmp_path / "registrator.log").read_text()
    assert f"cannot reach the Consul agent at https://{https_agent.addr}" in log, log
    assert "the agent may require a client certificate: verify_incoming" in log, log
    assert "Traceback" not in log
