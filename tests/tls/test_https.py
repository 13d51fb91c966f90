"""The HTTPS listener under the resolved settings: a client certificate from the CA required
with verify_incoming, the minimum version and the cipher suites enforced at the handshake."""

from __future__ import annotations

import json
import socket
import ssl
from pathlib import Path

import pytest

from tests.support.agents import AgentProcess, start_agent
from tests.support.ports import free_port
from tests.tls.pki import Pair, make_ca, make_leaf


def _client_ctx(ca: Pair, cert: Pair | None = None, max_version: ssl.TLSVersion | None = None,
                ciphers: str = "") -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca.cert))
    if cert is not None:
        ctx.load_cert_chain(str(cert.cert), str(cert.key))
    if max_version is not None:
        ctx.maximum_version = max_version
    if ciphers:
        ctx.set_ciphers(ciphers)
    return ctx


def _get(port: int, ctx: ssl.SSLContext) -> tuple[int, tuple[str | None, str | None]]:
    """GET /v1/status/leader over TLS: the status code and the (version, cipher) negotiated."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    tls = ctx.wrap_socket(raw, server_hostname="localhost")
    cipher = tls.cipher()
    negotiated = (tls.version(), cipher[0] if cipher else None)
    tls.sendall(b"GET /v1/status/leader HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    data = b""
    while chunk := tls.recv(65536):
        data += chunk
    tls.close()
    return int(data.split(b" ", 2)[1]), negotiated


def _refused(port: int, ctx: ssl.SSLContext) -> bool:
    """Whether the handshake, or the first read after it (TLS 1.3 reports a missing client
    certificate there), fails."""
    try:
        _get(port, ctx)
    except (ssl.SSLError, ConnectionError, IndexError):
        return True
    return False


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Pair]:
    d = tmp_path_factory.mktemp("pki")
    ca = make_ca(d)
    other = make_ca(d / "other", "other-ca")
    return {"ca": ca, "other": other, "server": make_leaf(ca, d, "server", "server"),
            "cli": make_leaf(ca, d, "cli", "cli"), "stranger": make_leaf(other, d / "other", "cli", "stranger")}


def _agent(tmp_path: Path, pki: dict[str, Pair], tls: dict[str, object]) -> tuple[AgentProcess, int]:
    https = free_port()
    conf = tmp_path / "tls.json"
    conf.write_text(json.dumps({
        "ports": {"https": https}, "ca_file": str(pki["ca"].cert), "cert_file": str(pki["server"].cert),
        "key_file": str(pki["server"].key), "tls": {"https": tls}}))
    return start_agent(tmp_path, f"-config-file={conf}"), https


def test_verify_incoming_requires_a_client_certificate_from_the_ca(tmp_path: Path, pki: dict[str, Pair]) -> None:
    agent, port = _agent(tmp_path, pki, {"verify_incoming": True})
    try:
        assert _get(port, _client_ctx(pki["ca"], pki["cli"]))[0] == 200
        assert _refused(port, _client_ctx(pki["ca"]))
        assert _refused(port, _client_ctx(pki["ca"], pki["stranger"]))
    finally:
        agent.stop()


def test_without_verify_incoming_no_client_certificate_is_needed(tmp_path: Path, pki: dict[str, Pair]) -> None:
    agent, port = _agent(tmp_path, pki, {})
    try:
        assert _get(port, _client_ctx(pki["ca"]))[0] == 200
    finally:
        agent.stop()


def test_a_handshake_below_tls_min_version_is_refused(tmp_path: Path, pki: dict[str, Pair]) -> None:
    agent, port = _agent(tmp_path, pki, {"tls_min_version": "TLSv1_3"})
    try:
        assert _refused(port, _client_ctx(pki["ca"], max_version=ssl.TLSVersion.TLSv1_2))
        assert _get(port, _client_ctx(pki["ca"])) == (200, ("TLSv1.3", "TLS_AES_256_GCM_SHA384"))
    finally:
        agent.stop()


def test_only_the_configured_cipher_suites_are_offered(tmp_path: Path, pki: dict[str, Pair]) -> None:
    agent, port = _agent(tmp_path, pki, {"tls_cipher_suites": "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"})
    try:
        tls12 = ssl.TLSVersion.TLSv1_2
        assert _refused(port, _client_ctx(pki["ca"], max_version=tls12, ciphers="ECDHE-ECDSA-AES128-GCM-SHA256"))
        assert _get(port, _client_ctx(pki["ca"], max_version=tls12)) == (
            200, ("TLSv1.2", "ECDHE-ECDSA-AES256-GCM-SHA384"))
    finally:
        agent.stop()
