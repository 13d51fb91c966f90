"""Certificates for tests, made with the same code as `tls ca create` / `tls cert create`."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from pyconsul.tls.certs import build_ca, build_leaf, leaf_names


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def make_ca(d: Path, name: str = "consul-agent-ca") -> Pair:
    d.mkdir(parents=True, exist_ok=True)
    pem = build_ca(now() - datetime.timedelta(minutes=1), 30)
    cert, key = d / f"{name}.pem", d / f"{name}-key.pem"
    cert.write_text(pem.cert)
    key.write_text(pem.key)
    return Pair(cert, key)


def make_leaf(ca: Pair, d: Path, kind: str, name: str, dc: str = "dc1", start: datetime.datetime | None = None,
              days: int = 30) -> Pair:
    """A `server`, `client` or `cli` certificate signed by `ca` (valid from `start` for `days`)."""
    pem = build_leaf(ca.cert.read_bytes(), ca.key.read_bytes(), leaf_names(kind, dc, "consul"),
                     start or now() - datetime.timedelta(minutes=1), days)
    cert, key = d / f"{name}.pem", d / f"{name}-key.pem"
    cert.write_text(pem.cert)
    key.write_text(pem.key)
    return Pair(cert, key)


def make_expired_leaf(ca: Pair, d: Path, name: str) -> Pair:
    """A server certificate from `ca` that expired yesterday (`build_leaf` refuses to make one)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    ca_cert = x509.load_pem_x509_certificate(ca.cert.read_bytes())
    ca_key = serialization.load_pem_private_key(ca.key.read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    start = now() - datetime.timedelta(days=10)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "server.dc1.consul")]))
        .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("server.dc1.consul")]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    out = Pair(d / f"{name}.pem", d / f"{name}-key.pem")
    out.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    out.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return out
