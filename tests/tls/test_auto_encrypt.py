"""auto_encrypt on real agents: servers with allow_tls sign, a client with only the CA file gets
its certificate over the server port at start, dials the servers with it under verify_incoming
and verify_server_hostname, and serves HTTPS with it; a follower relays the first signature
to the leader over TLS; the certificates come from the Connect CA (one signer, as in Consul);
the certificate is renewed before it expires."""

from __future__ import annotations

import datetime
import json
import os
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from tests.support.agents import AgentProcess, start_agent
from tests.support.ports import free_port, loopbacks
from tests.support.wait import wait_until
from tests.tls.pki import Pair, make_ca, make_leaf

pytestmark = pytest.mark.xdist_group("tls-auto-encrypt")

SERVERS = loopbacks(3, first=71)
CLIENT = loopbacks(1, first=74)[0]


def _server_conf(tmp: Path, ip: str, ca: Pair, server: Pair, extra: dict[str, object]) -> Path:
    conf: dict[str, object] = {
        "data_dir": str(tmp / ip / "data"), "node_name": ip, "bind_addr": ip, "client_addr": ip,
        "server": True, "bootstrap_expect": 3, "retry_join": SERVERS, "retry_interval": "1s",
        "verify_incoming": True, "verify_outgoing": True, "verify_server_hostname": True,
        "ca_file": str(ca.cert), "cert_file": str(server.cert), "key_file": str(server.key),
        "auto_encrypt": {"allow_tls": True}, "log_level": "DEBUG", **extra,
    }
    path = tmp / ip / "conf.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(conf))
    return path


def _client_conf(tmp: Path, ca: Pair, https: int) -> Path:
    conf = {
        "data_dir": str(tmp / CLIENT / "data"), "node_name": CLIENT, "bind_addr": CLIENT, "client_addr": CLIENT,
        "retry_join": SERVERS, "retry_interval": "1s", "verify_incoming": True, "ca_file": str(ca.cert),
        "auto_encrypt": {"tls": True}, "ports": {"https": https, "http": 0}, "log_level": "DEBUG",
    }
    path = tmp / CLIENT / "conf.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(conf))
    return path


def _cluster(tmp: Path, extra: dict[str, object]) -> tuple[dict[str, AgentProcess], Pair, int]:
    ca = make_ca(tmp / "pki")
    server = make_leaf(ca, tmp / "pki", "server", "server")
    ports = {"server": free_port(), "serf_lan": free_port()}
    agents = {ip: start_agent(tmp / ip, "-config-file", str(_server_conf(tmp, ip, ca, server, extra)), dev=False,
                              name=ip, host=ip, ports=ports, wait=False) for ip in SERVERS}
    https = free_port()
    agents[CLIENT] = start_agent(tmp / CLIENT, "-config-file", str(_client_conf(tmp, ca, https)), dev=False,
                                 name=CLIENT, host=CLIENT, ports=ports, wait=False)
    return agents, ca, https


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, AgentProcess], Pair, int]]:
    # A 90 s leaf (valid from a minute ago): the client renews it every few seconds, so the
    # tests below also run across renewals.
    agents, ca, https = _cluster(tmp_path_factory.mktemp("auto-encrypt"),
                                 {"connect": {"ca_config": {"leaf_cert_ttl": "90s"}}})
    try:
        yield agents, ca, https
    finally:
        for a in agents.values():
            a.stop()


def _logs(agents: dict[str, AgentProcess]) -> str:
    return "\n".join(f"--- {ip}\n{a.log()[-3000:]}" for ip, a in agents.items())


def _alive_members(agent: AgentProcess) -> int:
    try:
        status, _, body = agent.request("GET", "/v1/agent/members", timeout=3)
    except OSError:
        return 0
    return sum(1 for m in json.loads(body) if m["Status"] == 1) if status == 200 else 0


def _served_cert(ip: str, port: int, ca: Pair, client: Pair | None) -> x509.Certificate:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the built-in CA is not the operator's: look, don't trust
    if client is not None:
        ctx.load_cert_chain(str(client.cert), str(client.key))
    with socket.create_connection((ip, port), timeout=10) as raw, ctx.wrap_socket(raw) as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def test_a_client_with_only_the_ca_file_gets_a_certificate_and_works(
        cluster: tuple[dict[str, AgentProcess], Pair, int], tmp_path: Path) -> None:
    agents, ca, https = cluster
    client = agents[CLIENT]
    assert wait_until(lambda: _alive_members(client) == 4, 90, what="the client in a 4-member pool"), _logs(agents)
    # Writes and reads through the client travel over the server port with its auto_encrypt
    # certificate: the servers require a client certificate (verify_incoming).
    assert wait_until(lambda: client.request("PUT", "/v1/kv/auto/hello", b"world")[0] == 200, 30), _logs(agents)
    status, _, body = client.request("GET", "/v1/kv/auto/hello?raw")
    assert (status, body) == (200, b"world")
    assert "using the auto_encrypt certificate" in client.log()
    # Its HTTPS serves that certificate: the agent URI with the servers' trust domain, valid
    # for localhost, issued by the built-in CA (not the operator's agent CA).
    cli = make_leaf(ca, tmp_path, "cli", "cli")
    cert = _served_cert(CLIENT, https, ca, cli)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    [uri] = sans.get_values_for_type(x509.UniformResourceIdentifier)
    assert uri.startswith("spiffe://") and uri.endswith(f".consul/agent/client/dc/dc1/id/{CLIENT}")
    assert "localhost" in sans.get_values_for_type(x509.DNSName)
    agent_ca = x509.load_pem_x509_certificate(ca.cert.read_bytes())
    assert cert.issuer != agent_ca.subject
    # One signer, as in Consul: the Connect CA's active root, in its trust domain.
    roots = agents[SERVERS[0]].get_json("/v1/connect/ca/roots")
    active = next(r for r in roots["Roots"] if r["Active"])
    assert cert.issuer == x509.load_pem_x509_certificate(active["RootCert"].encode()).subject
    assert uri.startswith(f"spiffe://{roots['TrustDomain']}/agent/client/")
    # Every server trusts the root that signed it, though only the leader made it.
    for ip in SERVERS:
        assert wait_until(lambda ip=ip: "trusting the auto_encrypt CA" in agents[ip].log(), 10), agents[ip].log()


def _post_sign(ip: str, port: int, ca: Pair, body: bytes, path: str = "/v1/internal/server/auto-encrypt/sign",
               method: str = "POST") -> bytes:
    """One request over TLS without a client certificate; what came back before the close."""
    ctx = ssl.create_default_context(cafile=str(ca.cert))
    ctx.check_hostname = False
    head = (f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection((ip, port), timeout=10) as raw, ctx.wrap_socket(raw) as tls:
        tls.sendall(head + body)
        data = b""
        try:
            while chunk := tls.recv(65536):
                data += chunk
        except (ssl.SSLError, ConnectionError):
            pass
    return data


def test_without_a_certificate_the_server_port_answers_the_sign_request_only(
        cluster: tuple[dict[str, AgentProcess], Pair, int]) -> None:
    agents, ca, _ = cluster
    assert wait_until(lambda: _alive_members(agents[CLIENT]) == 4, 90), _logs(agents)
    server = agents[SERVERS[1]]
    from pyconsul.tls.agent_leaf import agent_csr

    csr = agent_csr("dc1", "probe").csr_pem
    reply = _post_sign(SERVERS[1], server.server_port, ca, json.dumps({"Datacenter": "dc1", "CSR": csr}).encode())
    assert reply.startswith(b"HTTP/1.1 200"), reply[:300]
    signed = json.loads(reply.split(b"\r\n\r\n", 1)[1])
    assert signed["VerifyServerHostname"] is True
    assert signed["ManualCARoots"] == [ca.cert.read_text()]
    assert signed["ConnectCARoots"]["Roots"][0]["RootCert"].startswith("-----BEGIN CERTIFICATE-----")
    # Another datacenter: Consul's text.
    reply = _post_sign(SERVERS[1], server.server_port, ca, json.dumps({"Datacenter": "dc2", "CSR": csr}).encode())
    assert reply.startswith(b"HTTP/1.1 400")
    assert reply.endswith(b"mismatched datacenter (client_dc='dc2' server_dc='dc1'); "
                          b"check client has same datacenter set as servers")
    # Anything else without a certificate is closed unanswered.
    assert _post_sign(SERVERS[1], server.server_port, ca, b"", "/v1/status/leader", "GET") == b""
    # The HTTP API does not sign: the request must come in on the server port.
    status, _, _ = server.request("POST", "/v1/internal/server/auto-encrypt/sign",
                                  {"Datacenter": "dc1", "CSR": csr})
    assert status == 404
    # Nor does a client agent relay it to a server.
    status, _, _ = agents[CLIENT].request("POST", "/v1/internal/server/auto-encrypt/sign",
                                          {"Datacenter": "dc1", "CSR": csr})
    assert status == 404


def test_the_cli_over_the_clients_https_needs_the_builtin_root(
        cluster: tuple[dict[str, AgentProcess], Pair, int], tmp_path: Path) -> None:
    """Consul's #8636: the CLI trusts the agent CA, the client serves a certificate from the CA
    that signs client certificates. With that root added to CONSUL_CACERT it works."""
    agents, ca, https = cluster
    assert wait_until(lambda: _alive_members(agents[CLIENT]) == 4, 90), _logs(agents)
    cli = make_leaf(ca, tmp_path, "cli", "cli")
    env = {**os.environ, "CONSUL_HTTP_ADDR": f"https://{CLIENT}:{https}", "CONSUL_TLS_SERVER_NAME": "localhost",
           "CONSUL_CACERT": str(ca.cert), "CONSUL_CLIENT_CERT": str(cli.cert), "CONSUL_CLIENT_KEY": str(cli.key)}
    r = subprocess.run([sys.executable, "-m", "pyconsul", "members"], capture_output=True, text=True, timeout=30,
                       env=env)
    assert r.returncode == 1 and "x509: certificate signed by unknown authority" in r.stderr, r.stderr
    from pyconsul.tls.agent_leaf import agent_csr

    csr = agent_csr("dc1", "probe").csr_pem
    reply = _post_sign(SERVERS[0], agents[SERVERS[0]].server_port, ca,
                       json.dumps({"Datacenter": "dc1", "CSR": csr}).encode())
    roots = json.loads(reply.split(b"\r\n\r\n", 1)[1])["ConnectCARoots"]["Roots"]
    bundle = tmp_path / "bundle.pem"
    bundle.write_text(ca.cert.read_text() + "".join(r["RootCert"] for r in roots))
    r = subprocess.run([sys.executable, "-m", "pyconsul", "members"], capture_output=True, text=True, timeout=30,
                       env={**env, "CONSUL_CACERT": str(bundle)})
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == 5


def test_the_certificate_is_renewed_before_it_expires(
        cluster: tuple[dict[str, AgentProcess], Pair, int], tmp_path: Path) -> None:
    agents, ca, https = cluster
    client = agents[CLIENT]
    assert wait_until(lambda: _alive_members(client) == 4, 90), _logs(agents)
    cli = make_leaf(ca, tmp_path, "cli", "cli")
    first = _served_cert(CLIENT, https, ca, cli)
    assert first.not_valid_after_utc - first.not_valid_before_utc == datetime.timedelta(seconds=90)
    assert wait_until(lambda: _served_cert(CLIENT, https, ca, cli).serial_number != first.serial_number, 40,
                      what="a renewed certificate on HTTPS"), client.log()[-3000:]
    renewed = _served_cert(CLIENT, https, ca, cli)
    assert renewed.not_valid_after_utc > first.not_valid_after_utc
    assert "auto_encrypt certificate renewed" in client.log()
    # Writes through the client keep working after the first certificate expired.
    assert wait_until(lambda: datetime.datetime.now(datetime.UTC) > first.not_valid_after_utc, 40)
    assert wait_until(lambda: client.request("PUT", "/v1/kv/auto/renewed", b"yes")[0] == 200, 20), client.log()[-3000:]


def test_a_client_retries_while_no_server_answers_and_a_stop_ends_the_wait(tmp_path: Path) -> None:
    ca = make_ca(tmp_path / "pki")
    nobody = loopbacks(1, first=79)[0]
    conf = tmp_path / "client.json"
    conf.write_text(json.dumps({
        "data_dir": str(tmp_path / "data"), "retry_join": [nobody], "verify_incoming": True,
        "ca_file": str(ca.cert), "auto_encrypt": {"tls": True}, "ports": {"https": free_port(), "http": -1}}))
    client = start_agent(tmp_path, "-config-file", str(conf), dev=False, name="lonely", host=CLIENT, wait=False)
    try:
        assert wait_until(lambda: client.log().count("No servers successfully responded to the auto-encrypt "
                                                     "request") >= 2, 20, what="two failed rounds"), client.log()
        assert f"AutoEncrypt.Sign RPC failed: addr={nobody}:" in client.log()
        # The banner says what is in effect: it dials the servers with TLS, though its
        # config has no verify_outgoing.
        [rpc_line] = [line for line in client.log().splitlines() if "Internal RPC TLS:" in line]
        assert "Verify Incoming: true, Verify Outgoing: true" in rpc_line, rpc_line
        assert client.stop() == 1
        assert "==> Error starting agent: stopped while waiting for the auto_encrypt certificate" in client.log()
        assert "Traceback" not in client.log()
    finally:
        client.stop()


def _status_over_server_port(ip: str, port: int, ca: Pair, cert: Path, key: Path) -> bytes:
    """`GET /v1/status/leader` over the server port's TLS with this client certificate."""
    ctx = ssl.create_default_context(cafile=str(ca.cert))
    ctx.check_hostname = False
    ctx.load_cert_chain(str(cert), str(key))
    try:
        with socket.create_connection((ip, port), timeout=10) as raw, ctx.wrap_socket(raw) as tls:
            tls.sendall(b"GET /v1/status/leader HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := tls.recv(65536):
                data += chunk
            return data
    except (ssl.SSLError, ConnectionError):
        return b""


def test_a_restored_snapshot_from_before_the_builtin_ca_keeps_trusting_its_certificates(tmp_path: Path) -> None:
    """The built-in CA is made when the first client asks; a snapshot saved before then has
    none. Restoring it must not make the server refuse the certificates the CA already signed
    (they live in clients' memory until renewal) nor sign with a new root."""
    ip = loopbacks(1, first=76)[0]
    ca = make_ca(tmp_path / "pki")
    server_pair = make_leaf(ca, tmp_path / "pki", "server", "server")
    conf = _server_conf(tmp_path, ip, ca, server_pair, {"bootstrap_expect": 1, "retry_join": []})
    server = start_agent(tmp_path / ip, "-config-file", str(conf), dev=False, name=ip, host=ip)
    try:
        status, _, before_ca = server.request("GET", "/v1/snapshot")
        assert status == 200, before_ca[:300]
        from pyconsul.tls.agent_leaf import agent_csr

        csr = agent_csr("dc1", "client-1")
        reply = _post_sign(ip, server.server_port, ca, json.dumps({"Datacenter": "dc1", "CSR": csr.csr_pem}).encode())
        assert reply.startswith(b"HTTP/1.1 200"), reply[:300]
        signed = json.loads(reply.split(b"\r\n\r\n", 1)[1])
        cert, key = tmp_path / "client.pem", tmp_path / "client-key.pem"
        cert.write_text(signed["IssuedCert"]["CertPEM"])
        key.write_text(csr.key_pem)
        assert wait_until(lambda: _status_over_server_port(ip, server.server_port, ca, cert, key)
                          .startswith(b"HTTP/1.1 200"), 10, what="the server trusting the built-in root"), server.log()

        status, _, body = server.request("PUT", "/v1/snapshot", before_ca)
        assert status == 200, body

        # New handshakes with the certificate signed before the restore still pass, and new
        # certificates come from the same root.
        assert _status_over_server_port(ip, server.server_port, ca, cert, key).startswith(b"HTTP/1.1 200"), \
            server.log()[-3000:]
        again = _post_sign(ip, server.server_port, ca, json.dumps({"Datacenter": "dc1", "CSR": csr.csr_pem}).encode())
        roots = json.loads(again.split(b"\r\n\r\n", 1)[1])["ConnectCARoots"]["Roots"]
        assert [r["RootCert"] for r in roots] == [r["RootCert"] for r in signed["ConnectCARoots"]["Roots"]]
        assert _status_over_server_port(ip, server.server_port, ca, cert, key).startswith(b"HTTP/1.1 200")
    finally:
        server.stop()
