"""Test helpers: a throwaway CA with server/client certificates, and a small real HTTPS server
that answers like an agent (`/v1/agent/self`, `/v1/kv/<key>`), recording what it was sent."""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass
class CertFiles:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def make_certs(directory: Path, server_names: tuple[str, ...] = ("server.dc1.consul", "localhost")) -> CertFiles:
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("Test CA")).issuer_name(_name("Test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))

    def leaf(cn: str, sans: list[x509.GeneralName], usage: x509.ObjectIdentifier
             ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName(sans), critical=False)
                .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                .sign(ca_key, hashes.SHA256()))
        return cert, key

    server_sans: list[x509.GeneralName] = [x509.DNSName(n) for n in server_names]
    server_sans.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    server, server_key = leaf(server_names[0], server_sans, ExtendedKeyUsageOID.SERVER_AUTH)
    client, client_key = leaf("cli.dc1.consul", [x509.DNSName("cli.dc1.consul")],
                              ExtendedKeyUsageOID.CLIENT_AUTH)
    files = CertFiles(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem",
                      directory / "cli.pem", directory / "cli-key.pem")
    files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.server_cert.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    _write_key(server_key, files.server_key)
    files.client_cert.write_bytes(client.public_bytes(serialization.Encoding.PEM))
    _write_key(client_key, files.client_key)
    return files


@dataclass
class Seen:
    paths: list[str] = field(default_factory=list)
    tokens: list[str | None] = field(default_factory=list)


@contextmanager
def https_agent(certs: CertFiles, require_client_cert: bool = False) -> Iterator[tuple[int, Seen]]:
    """A real TLS listener on 127.0.0.1 with an agent-like reply; yields (port, seen requests)."""
    seen = Seen()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _reply(self, status: int, body: bytes, index: int = 7) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Consul-Index", str(index))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            seen.paths.append(self.path)
            seen.tokens.append(self.headers.get("X-Consul-Token"))
            if self.path.startswith("/v1/agent/self"):
                self._reply(200, json.dumps({"Config": {"NodeName": "tls-node"},
                                             "Stats": {"consul": {"leader": "true"}}}).encode())
            elif self.path.startswith("/v1/kv/tls-key"):
                self._reply(200, json.dumps([{"Key": "tls-key", "Value": "c2VjcmV0", "Flags": 0,
                                              "CreateIndex": 5, "ModifyIndex": 5,
                                              "LockIndex": 0}]).encode())
            else:
                self._reply(404, b"")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certs.server_cert, certs.server_key)
    if require_client_cert:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(certs.ca)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
