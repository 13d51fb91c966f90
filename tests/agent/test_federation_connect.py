"""Connect across two real datacenters, WAN-joined: dc2 (secondary) gets an intermediate signed
by dc1's root instead of a root of its own, so a leaf from either datacenter verifies against
the other's roots in a real TLS handshake; dc2's roots endpoint answers dc1's roots and trust
domain; a root rotation in dc1 gives dc2 a new intermediate; intentions (config entries) written
in dc1 reach dc2's authorize, and intention writes in dc2 are answered by dc1.

Addresses come from this worker's leased loopback /24 (tests/support/ports.py): dc1 on .101,
dc2's server on .105 and its client agent on .106."""

from __future__ import annotations

import json
import socket
import socketserver
import ssl
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from tests.cli.cli_run import clean_env
from tests.connect.test_seed002 import Proc
from tests.support.agents import AgentProcess, start_agent
from tests.support.ports import free_port, loopback
from tests.support.wait import wait_until


@dataclass
class Pair:
    p1: AgentProcess
    q1: AgentProcess
    c2: AgentProcess  # dc2's client agent
    tmp: Path


def _server(tmp: Path, name: str, host: str, dc: str, wan: int, *extra: str) -> AgentProcess:
    conf = tmp / f"{name}.hcl"
    conf.write_text('primary_datacenter = "dc1"\nconnect { enabled = true }\n')
    return start_agent(tmp / name, "-server", "-bootstrap", "-datacenter", dc, "-data-dir", str(tmp / name / "data"),
                       "-config-file", str(conf), *extra, dev=False, name=name, host=host,
                       ports={"serf_wan": wan}, wait=False)


def _client(tmp: Path, name: str, host: str, dc: str, server: AgentProcess) -> AgentProcess:
    return start_agent(tmp / name, "-datacenter", dc, "-data-dir", str(tmp / name / "data"),
                       "-retry-join", f"{server.host}:{server.serf_lan_port}", "-retry-interval", "1s",
                       dev=False, name=name, host=host, wait=False)


def _call(agent: AgentProcess, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(agent.base_url + path, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            raw, status = resp.read(), resp.status
    except urllib.error.HTTPError as err:
        raw, status = err.read(), err.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def _roots(agent: AgentProcess) -> dict[str, Any]:
    status, body = _call(agent, "GET", "/v1/connect/ca/roots")
    return body if status == 200 else {}


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    tmp = tmp_path_factory.mktemp("connect-wan")
    wan1, wan2 = free_port(), free_port()
    started: list[AgentProcess] = []
    try:
        p1 = _server(tmp, "p1", loopback(101), "dc1", wan1)
        started.append(p1)
        q1 = _server(tmp, "q1", loopback(105), "dc2", wan2, "-retry-join-wan", f"{p1.host}:{wan1}",
                     "-retry-interval-wan", "1s")
        started.append(q1)
        c2 = _client(tmp, "c2", loopback(106), "dc2", q1)
        started.append(c2)
        for a in started:
            a.wait_ready(timeout=60)
        wait_until(lambda: _roots(q1).get("ActiveRootID")
                   and _roots(q1).get("ActiveRootID") == _roots(p1).get("ActiveRootID"), 60,
                   "dc2 to follow dc1's root")
        yield Pair(p1, q1, c2, tmp)
    finally:
        for a in reversed(started):
            a.stop()


def _leaf(agent: AgentProcess, service: str) -> dict[str, Any]:
    status, body = _call(agent, "GET", f"/v1/agent/connect/ca/leaf/{service}")
    assert status == 200, body
    return dict(body)


def _pem_file(tmp: Path, name: str, text: str) -> str:
    path = tmp / name
    path.write_text(text)
    return str(path)


def _context(tmp: Path, tag: str, leaf: dict[str, Any], trusted: str, server: bool) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_cert_chain(_pem_file(tmp, f"{tag}.crt", leaf["CertPEM"]), _pem_file(tmp, f"{tag}.key", leaf["PrivateKeyPEM"]))
    ctx.load_verify_locations(cadata=trusted)
    return ctx


def _handshake(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext) -> tuple[str, str]:
    """A real mutual TLS handshake in memory; the URI SANs each side verified of the other."""
    s_in, s_out, c_in, c_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    client = client_ctx.wrap_bio(c_in, c_out, server_side=False)
    done = {"s": False, "c": False}
    for _ in range(20):
        for side, obj in (("c", client), ("s", server)):
            if not done[side]:
                try:
                    obj.do_handshake()
                    done[side] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            break
    assert all(done.values()), "handshake did not finish"

    def uri(obj: ssl.SSLObject) -> str:
        der = obj.getpeercert(binary_form=True)
        assert der is not None
        sans = x509.load_der_x509_certificate(der).extensions.get_extension_for_class(x509.SubjectAlternativeName)
        return str(sans.value.get_values_for_type(x509.UniformResourceIdentifier)[0])

    return uri(client), uri(server)


def _root_pems(roots: dict[str, Any]) -> str:
    """Only the root certificates (no intermediates): what trusting a datacenter's CA means."""
    return "".join(r["RootCert"] for r in roots["Roots"])


def test_the_secondary_serves_the_primarys_roots_and_signs_with_an_intermediate(pair: Pair) -> None:
    r1, r2 = _roots(pair.p1), _roots(pair.q1)
    assert r2["TrustDomain"] == r1["TrustDomain"]
    assert [r["ID"] for r in r2["Roots"]] == [r["ID"] for r in r1["Roots"]]
    assert all("SigningKey" not in r and "SigningCert" not in r for r in r2["Roots"])
    leaf = _leaf(pair.q1, "web")
    chain = x509.load_pem_x509_certificates(leaf["CertPEM"].encode())
    assert len(chain) == 2  # leaf + dc2's intermediate, as Consul sends them
    root = x509.load_pem_x509_certificate(r1["Roots"][0]["RootCert"].encode())
    assert chain[1].issuer == root.subject and chain[0].issuer == chain[1].subject
    assert chain[1].extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert "/dc/dc2/svc/web" in leaf["ServiceURI"]
    active = next(r for r in r2["Roots"] if r["Active"])
    last = x509.load_pem_x509_certificate(str((active["IntermediateCerts"] or [""])[-1]).encode())
    assert last == chain[1]  # the roots list shows dc2's intermediate under dc1's active root


def test_leaves_of_both_datacenters_trust_each_other(pair: Pair) -> None:
    web2, db1 = _leaf(pair.c2, "web"), _leaf(pair.p1, "db")  # dc2's leaf from its client agent
    r1, r2 = _root_pems(_roots(pair.p1)), _root_pems(_roots(pair.q1))
    tmp = pair.tmp
    # dc1's db serves, trusting dc1's roots only; dc2's web connects, trusting dc2's answer.
    seen_by_client, seen_by_server = _handshake(_context(tmp, "db1", db1, r1, True),
                                                _context(tmp, "web2", web2, r2, False))
    assert seen_by_client == db1["ServiceURI"] and seen_by_server == web2["ServiceURI"]
    # And the other way round: dc2 serves, a dc1 leaf connects.
    db2, web1 = _leaf(pair.q1, "db"), _leaf(pair.p1, "web")
    seen_by_client, seen_by_server = _handshake(_context(tmp, "db2", db2, r2, True),
                                                _context(tmp, "web1", web1, r1, False))
    assert seen_by_client == db2["ServiceURI"] and seen_by_server == web1["ServiceURI"]


def _authorized(agent: AgentProcess, target: str, client_uri: str) -> bool:
    status, body = _call(agent, "POST", "/v1/agent/connect/authorize",
                         {"Target": target, "ClientCertURI": client_uri})
    assert status == 200, body
    return bool(body["Authorized"])


def test_intentions_written_in_the_primary_decide_in_the_secondary(pair: Pair) -> None:
    td = _roots(pair.p1)["TrustDomain"]
    web1 = f"spiffe://{td}/ns/default/dc/dc1/svc/web"
    assert _authorized(pair.q1, "billing", web1)  # default allow (no ACLs)
    status, body = _call(pair.p1, "PUT", "/v1/connect/intentions/exact?source=web&destination=billing",
                         {"Action": "deny"})
    assert status == 200, body
    wait_until(lambda: not _authorized(pair.q1, "billing", web1), 30, "dc2 to see dc1's deny")
    assert not _authorized(pair.c2, "billing", web1)  # dc2's client agent asks dc2's servers
    status, body = _call(pair.q1, "GET", "/v1/config/service-intentions/billing")
    assert status == 200 and body["Sources"][0]["Name"] == "web"


def test_config_writes_in_the_secondary_are_answered_by_the_primary(pair: Pair) -> None:
    status, body = _call(pair.q1, "PUT", "/v1/connect/intentions/exact?source=api&destination=ledger",
                         {"Action": "deny"})
    assert status == 200, body
    status, body = _call(pair.p1, "GET", "/v1/connect/intentions/exact?source=api&destination=ledger")
    assert status == 200 and body["Action"] == "deny"  # stored in dc1 at once
    status, body = _call(pair.q1, "PUT", "/v1/config", {"Kind": "service-defaults", "Name": "ledger",
                                                         "Protocol": "http"})
    assert status == 200 and body is True
    status, body = _call(pair.p1, "GET", "/v1/config/service-defaults/ledger")
    assert status == 200 and body["Protocol"] == "http"
    wait_until(lambda: _call(pair.q1, "GET", "/v1/config/service-defaults/ledger")[0] == 200, 30,
               "the entry to replicate back to dc2")
    status, _ = _call(pair.q1, "DELETE", "/v1/config/service-defaults/ledger")
    assert status == 200
    wait_until(lambda: _call(pair.q1, "GET", "/v1/config/service-defaults/ledger")[0] == 404, 30,
               "the deletion to replicate back to dc2")


def test_a_root_rotation_in_the_primary_gives_the_secondary_a_new_intermediate(pair: Pair) -> None:
    old = _roots(pair.p1)["ActiveRootID"]
    status, body = _call(pair.p1, "PUT", "/v1/connect/ca/configuration",
                         {"Provider": "consul", "Config": {"RotateRoot": True}})
    assert status == 200, body
    new = _roots(pair.p1)["ActiveRootID"]
    assert new and new != old
    wait_until(lambda: _roots(pair.q1).get("ActiveRootID") == new, 30, "dc2 to follow the new root")
    r2 = _roots(pair.q1)
    assert {r["ID"] for r in r2["Roots"]} == {old, new}
    new_root = next(r for r in _roots(pair.p1)["Roots"] if r["ID"] == new)

    def resigned() -> bool:
        chain = x509.load_pem_x509_certificates(_leaf(pair.q1, "web")["CertPEM"].encode())
        # leaf, dc2's new intermediate (issued by the new root), then the cross-signed new root
        return chain[1].issuer == x509.load_pem_x509_certificate(new_root["RootCert"].encode()).subject
    wait_until(resigned, 30, "dc2's leaf to be signed under the new root")
    _handshake(_context(pair.tmp, "db1r", _leaf(pair.p1, "db"), new_root["RootCert"], True),
               _context(pair.tmp, "web2r", _leaf(pair.q1, "web"), new_root["RootCert"], False))
    # A peer still trusting only the old root verifies dc2's new leaf through the cross-signed root.
    old_root = next(r for r in _roots(pair.p1)["Roots"] if r["ID"] == old)
    _handshake(_context(pair.tmp, "db1o", _leaf(pair.p1, "db"), old_root["RootCert"], True),
               _context(pair.tmp, "web2o", _leaf(pair.q1, "web"), new_root["RootCert"], False))


class _Echo:
    """A TCP echo backend (the `db` service in dc2)."""

    def __init__(self, host: str) -> None:
        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                while data := self.request.recv(65536):
                    self.request.sendall(data)

        self.server = socketserver.ThreadingTCPServer((host, free_port()), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _through(host: str, port: int, payload: bytes) -> bytes:
    """What comes back through the upstream listener for `payload` ("" when the mesh closes it)."""
    try:
        with socket.create_connection((host, port), timeout=5) as s:
            s.sendall(payload)
            got = b""
            while len(got) < len(payload):
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
            return got
    except OSError:
        return b""


def test_a_proxy_pair_across_datacenters_passes_bytes_only_when_allowed(pair: Pair) -> None:
    h1, h2 = pair.p1.host, pair.c2.host
    echo = _Echo(h2)
    public, up_port, web_public = free_port(), free_port(), free_port()
    procs: list[Proc] = []
    try:
        status, _, text = pair.c2.request("PUT", "/v1/agent/service/register", {
            "Kind": "connect-proxy", "ID": "db-proxy", "Name": "db-proxy", "Address": h2, "Port": public,
            "Proxy": {"DestinationServiceName": "db", "LocalServiceAddress": h2, "LocalServicePort": echo.port,
                      "Config": {"bind_address": h2}}})
        assert status == 200, text
        status, _, text = pair.p1.request("PUT", "/v1/agent/service/register", {
            "Kind": "connect-proxy", "ID": "web-proxy", "Name": "web-proxy", "Address": h1, "Port": web_public,
            "Proxy": {"DestinationServiceName": "web", "LocalServicePort": 1, "Config": {"bind_address": h1},
                      "Upstreams": [{"DestinationName": "db", "Datacenter": "dc2",
                                     "LocalBindAddress": h1, "LocalBindPort": up_port}]}})
        assert status == 200, text
        py = [sys.executable, "-m", "pyconsul", "connect", "proxy", "-proxy-id"]
        db = Proc([*py, "db-proxy"], clean_env(CONSUL_HTTP_ADDR=pair.c2.http_addr))
        procs.append(db)
        web = Proc([*py, "web-proxy"], clean_env(CONSUL_HTTP_ADDR=pair.p1.http_addr))
        procs.append(web)
        wait_until(lambda: "public listener starting" in db.output(), 30, "db's proxy in dc2")
        wait_until(lambda: "Proxy loaded config and ready to serve" in web.output(), 30, "web's proxy in dc1")
        assert wait_until(lambda: _through(h1, up_port, b"ping across") == b"ping across", 30,
                          "bytes from dc1's web to dc2's db")
        status, body = _call(pair.p1, "PUT", "/v1/connect/intentions/exact?source=web&destination=db",
                             {"Action": "deny"})
        assert status == 200, body
        wait_until(lambda: _through(h1, up_port, b"ping again") == b"", 30, "dc2's db proxy to refuse web")
        status, body = _call(pair.p1, "DELETE", "/v1/connect/intentions/exact?source=web&destination=db")
        assert status == 200, body
        wait_until(lambda: _through(h1, up_port, b"ping back") == b"ping back", 30, "the allow to come back")
    finally:
        for p in procs:
            p.stop()
        echo.close()


def test_sign_intermediate_is_not_served_on_the_http_port(pair: Pair) -> None:
    status, body = _call(pair.p1, "POST", "/v1/internal/connect/ca/sign-intermediate", {"CSR": "x"})
    assert status == 404, body
