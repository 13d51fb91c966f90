"""TLS contexts for the mesh, built from a leaf and the roots, and what a peer's leaf says.

Both sides require a certificate that chains to the current roots (TLS 1.2+, ECDHE with AES-GCM or
ChaCha20 only, no hostname check: identity is the SPIFFE URI, checked by the caller — authorize
inbound, the expected service outbound). Python's ssl loads keys only from files, so the leaf is
written to a private temporary directory for the load and removed at once.
"""

from __future__ import annotations

import os
import shutil
import ssl
import tempfile
from dataclasses import dataclass

from cryptography import x509

from pyconsul.connect import ca

CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"


@dataclass(frozen=True)
class Material:
    cert_pem: str  # the leaf, then its intermediates
    key_pem: str
    roots_pem: str


def _context(server: bool, m: Material) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(CIPHERS)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cadata=m.roots_pem)
    tmp = tempfile.mkdtemp(prefix="pyconsul-leaf-")
    try:
        cert_path, key_path = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(m.key_pem)
        with open(cert_path, "w") as fh:
            fh.write(m.cert_pem)
        ctx.load_cert_chain(cert_path, key_path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ctx


def server_context(m: Material) -> ssl.SSLContext:
    return _context(True, m)


def client_context(m: Material) -> ssl.SSLContext:
    return _context(False, m)


@dataclass(frozen=True)
class PeerLeaf:
    uri: str
    serial: str  # colon-hex, as authorize takes it


def peer_leaf(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> PeerLeaf | None:
    """The verified peer leaf's URI SAN and serial (None: no certificate)."""
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None
    cert = x509.load_der_x509_certificate(der)
    return PeerLeaf(ca.leaf_uri(cert), ca.serial_hex(cert.serial_number))


def root_names(roots_pem: str) -> list[str]:
    """The common names of the roots in a pool (the proxy's `TLS Roots` line)."""
    return [ca.common_name(ca.cert_pem(c)) for c in ca.load_certs(roots_pem)]
