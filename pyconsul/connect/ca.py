"""The built-in Connect CA (Consul's `consul` provider), as pure functions of their inputs.

Rules a caller can rely on:
- Keys are EC P-256 (SEC1 `EC PRIVATE KEY` PEM); everything is signed with ECDSA-SHA256.
- A root is self-signed, CA with CertSign|CRLSign|DigitalSignature, SubjectKeyId = AuthorityKeyId
  = SHA-256 KeyId of its key, URI SAN `spiffe://<trust domain>`, CN
  `pri-<8 base36>.consul.ca.<first 8 of the cluster id>.consul`, serial the provider's counter.
- A leaf is signed for a CSR whose URI SAN is a SPIFFE ID of our trust domain (compared without
  case): NotBefore = now − 1 minute, NotAfter = NotBefore + LeafCertTTL, key usages
  DataEncipherment|KeyAgreement|DigitalSignature|KeyEncipherment, ClientAuth+ServerAuth, CA=false.
- Rotation keeps existing leaves valid: the old root stays trusted (inactive) and signs the new
  root's key (`cross_sign`), which becomes the new root's intermediate.
- `now` is passed in; randomness comes only from key generation and the CN's random part.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pyconsul.connect import spiffe
from pyconsul.gocompat.durations import format_duration, parse_duration

Row = dict[str, Any]

ROOT_NAME = "Consul CA Primary Cert"
LEAF_BACKDATE = datetime.timedelta(minutes=1)
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"

# Consul's CommonCAProviderConfig defaults (agent/structs/connect_ca.go).
DEFAULT_CONFIG: Row = {
    "LeafCertTTL": "72h",
    "IntermediateCertTTL": "8760h",
    "RootCertTTL": "87600h",
    "PrivateKeyType": "ec",
    "PrivateKeyBits": 256,
    "CSRMaxPerSecond": 50,
    "CSRMaxConcurrent": 0,
}
# Agent config spellings of the same keys (connect { ca_config { leaf_cert_ttl = "…" } }).
CONFIG_FILE_KEYS = {
    "leaf_cert_ttl": "LeafCertTTL", "intermediate_cert_ttl": "IntermediateCertTTL",
    "root_cert_ttl": "RootCertTTL", "private_key_type": "PrivateKeyType",
    "private_key_bits": "PrivateKeyBits", "csr_max_per_second": "CSRMaxPerSecond",
    "csr_max_concurrent": "CSRMaxConcurrent", "private_key": "PrivateKey", "root_cert": "RootCert",
}


class CAError(ValueError):
    """A configuration, CSR or key the CA cannot use; the text is Consul's."""


@dataclass(frozen=True)
class CAConfig:
    leaf_ttl: float
    intermediate_ttl: float
    root_ttl: float


def _seconds(config: Row, key: str) -> float:
    raw = config.get(key, DEFAULT_CONFIG[key])
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return float(raw) / 1e9 if raw > 10**6 else float(raw)  # a Go duration in ns, or seconds
    try:
        return parse_duration(str(raw))
    except ValueError:
        raise CAError(f"error decoding config: invalid duration {raw!r} for {key}") from None


def parse_config(config: Row, *, strict: bool = True) -> CAConfig:
    """The TTLs of a CA `Config` map. `strict` applies Consul's API limits (LeafCertTTL 1h–1y,
    IntermediateCertTTL ≥ 3×LeafCertTTL); the agent's own config file may go lower (tests)."""
    key_type = str(config.get("PrivateKeyType", "ec") or "ec").lower()
    bits = int(config.get("PrivateKeyBits", 256) or 256)
    if key_type != "ec" or bits != 256:
        raise CAError(f"private key type {key_type!r} with {bits} bits is not supported (only ec 256)")
    leaf = _seconds(config, "LeafCertTTL")
    inter = _seconds(config, "IntermediateCertTTL")
    root = _seconds(config, "RootCertTTL")
    if strict:
        if leaf < 3600:
            raise CAError("leaf cert TTL must be greater or equal than 1h0m0s")
        if leaf > 8760 * 3600:
            raise CAError("leaf cert TTL must be less than 8760h0m0s")
        if inter < 3 * leaf:
            raise CAError(f"Intermediate Cert TTL must be greater or equal than 3 * LeafCertTTL "
                          f"(>={format_duration(3 * leaf)}).")
    if leaf <= 0:
        raise CAError("leaf cert TTL must be positive")
    return CAConfig(leaf, inter, root)


def config_from_file(ca_config: Any) -> Row:
    """The agent config's `connect.ca_config` in the API's CamelCase keys, over the defaults."""
    out = dict(DEFAULT_CONFIG)
    for key, value in dict(ca_config or {}).items():
        out[CONFIG_FILE_KEYS.get(key, key)] = value
    return out


# -- keys and fingerprints -------------------------------------------------------------------------
def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode()


def load_key(pem: str) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CAError("the CA private key is not an EC key")
    return key


def key_id(public_key: Any) -> bytes:
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).digest()


def colon_hex(data: bytes) -> str:
    return ":".join(f"{b:02x}" for b in data)


def serial_hex(serial: int) -> str:
    """A serial as Consul prints it in leaf replies and authorize: colon-hex bytes (`08`, `01:00`)."""
    n = max(serial, 0)
    return colon_hex(n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big"))


def cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def load_cert(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())


def load_certs(pem: str) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(pem.encode()) if pem.strip() else []


def fingerprint(pem: str) -> str:
    """A root's `ID`: the colon-hex SHA-1 of its DER."""
    return colon_hex(load_cert(pem).fingerprint(hashes.SHA1()))  # noqa: S303 - Consul's ID, not security


def rfc3339(t: datetime.datetime) -> str:
    return t.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- roots -----------------------------------------------------------------------------------------
def root_common_name(cluster_id: str, rand: str | None = None) -> str:
    part = rand if rand is not None else "".join(secrets.choice(_BASE36) for _ in range(8))
    return f"pri-{part}.consul.ca.{cluster_id[:8]}.consul"


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                         encipher_only=False, decipher_only=False)


def _root_builder(subject: x509.Name, issuer: x509.Name, public_key: Any, issuer_key_id: bytes, serial: int,
                  td: str, now: datetime.datetime, ttl: float) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
        .serial_number(serial).not_valid_before(now - LEAF_BACKDATE)
        .not_valid_after(now + datetime.timedelta(seconds=ttl))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_ca_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier(key_id(public_key)), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier(issuer_key_id, None, None), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(f"spiffe://{td}")]),
                       critical=False)
    )


@dataclass(frozen=True)
class RootMaterial:
    cert: str
    key: str


def new_root(cluster_id: str, serial: int, now: datetime.datetime, config: CAConfig) -> RootMaterial:
    key = new_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, root_common_name(cluster_id))])
    td = spiffe.trust_domain(cluster_id)
    kid = key_id(key.public_key())
    cert = _root_builder(subject, subject, key.public_key(), kid, serial, td, now, config.root_ttl).sign(
        key, hashes.SHA256())
    return RootMaterial(cert_pem(cert), key_pem(key))


def cross_sign(new_root_pem: str, old_root_pem: str, old_key_pem: str, cluster_id: str, serial: int,
               now: datetime.datetime, config: CAConfig) -> str:
    """The new root's subject and key, issued by the old root: a client that trusts only the old
    root verifies a new leaf through it (Consul puts it in the new root's IntermediateCerts)."""
    new, old = load_cert(new_root_pem), load_cert(old_root_pem)
    old_key = load_key(old_key_pem)
    ttl = min(config.root_ttl, max(1.0, (old.not_valid_after_utc - now).total_seconds()))
    builder = _root_builder(new.subject, old.subject, new.public_key(), key_id(old_key.public_key()), serial,
                            spiffe.trust_domain(cluster_id), now, ttl)
    return cert_pem(builder.sign(old_key, hashes.SHA256()))


def root_row(material: RootMaterial, cluster_id: str, active: bool, intermediates: list[str] | None = None) -> Row:
    """A CARoot as the store keeps it: Consul's JSON plus the signing key (never served)."""
    cert = load_cert(material.cert)
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    return {
        "ID": fingerprint(material.cert),
        "Name": ROOT_NAME,
        "SerialNumber": cert.serial_number,
        "SigningKeyID": colon_hex(ski),
        "ExternalTrustDomain": cluster_id,
        "NotBefore": rfc3339(cert.not_valid_before_utc),
        "NotAfter": rfc3339(cert.not_valid_after_utc),
        "RootCert": material.cert if material.cert.endswith("\n") else material.cert + "\n",
        "IntermediateCerts": intermediates or None,
        "Active": active,
        "PrivateKeyType": "ec",
        "PrivateKeyBits": 256,
        "SigningKey": material.key,
    }


def public_root(row: Row) -> Row:
    """A stored root as the API shows it (without its key)."""
    return {k: v for k, v in row.items() if k not in ("SigningKey", "SigningCert", "RotatedOutAt")}


def common_name(pem: str) -> str:
    names = load_cert(pem).subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


# -- leaves ----------------------------------------------------------------------------------------
def new_csr(uri: str) -> tuple[str, str]:
    """A fresh leaf key (always EC P-256) and a CSR for `uri`: (key PEM, CSR PEM)."""
    key = new_key()
    csr = (x509.CertificateSigningRequestBuilder().subject_name(x509.Name([]))
           .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(uri)]), critical=False)
           .sign(key, hashes.SHA256()))
    return key_pem(key), csr.public_bytes(serialization.Encoding.PEM).decode()


def csr_uri(csr_pem: str) -> str:
    """The single URI SAN of a CSR (CAError when it has none or it does not verify)."""
    try:
        csr = x509.load_pem_x509_csr(csr_pem.encode())
    except ValueError:
        raise CAError("failed to parse CSR") from None
    if not csr.is_signature_valid:
        raise CAError("CSR signature is not valid")
    try:
        sans = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise CAError("CSR SAN does not contain a SPIFFE ID") from None
    uris = sans.get_values_for_type(x509.UniformResourceIdentifier)
    if len(uris) != 1:
        raise CAError("CSR SAN contains an invalid number of URIs")
    return str(uris[0])


def sign_leaf(csr_pem: str, root: Row, serial: int, now: datetime.datetime, ttl: float) -> str:
    """Sign a service CSR with the (active) root `root`; the leaf's PEM."""
    uri = csr_uri(csr_pem)
    try:
        ident = spiffe.parse(uri)
    except spiffe.SpiffeError as exc:
        raise CAError(f"SPIFFE ID in CSR could not be parsed: {exc}") from None
    if not isinstance(ident, spiffe.ServiceID):
        raise CAError("SPIFFE ID in CSR must be a service ID")
    td = spiffe.trust_domain(str(root["ExternalTrustDomain"]))
    if ident.host.lower() != td:
        raise CAError(f"SPIFFE ID in CSR from a different trust domain: {ident.host}, "
                      f"we are {td}")
    csr = x509.load_pem_x509_csr(csr_pem.encode())
    signing_cert, signing_key = signing_pair(root)
    ca_cert, ca_key = load_cert(signing_cert), load_key(signing_key)
    not_before = now - LEAF_BACKDATE
    # The identity is the SPIFFE URI; the CN only labels it and X.509 caps it at 64 characters.
    cert = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ident.service[:64])]))
        .issuer_name(ca_cert.subject).public_key(csr.public_key()).serial_number(serial)
        .not_valid_before(not_before).not_valid_after(not_before + datetime.timedelta(seconds=ttl))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                                     data_encipherment=True, key_agreement=True, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .add_extension(x509.SubjectKeyIdentifier(key_id(csr.public_key())), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier(key_id(ca_key.public_key()), None, None), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(uri)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert_pem(cert)


def leaf_uri(cert: x509.Certificate) -> str:
    """The URI SAN of a leaf ("" when it has none)."""
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ""
    uris = sans.get_values_for_type(x509.UniformResourceIdentifier)
    return str(uris[0]) if uris else ""


# -- secondary datacenters' intermediates ----------------------------------------------------------
def intermediate_csr(cluster_id: str, datacenter: str) -> tuple[str, str]:
    """A secondary's signing key and its CSR for the primary (Consul's secondary CAManager):
    (key PEM, CSR PEM). The URI SAN is the trust domain's signing ID, `spiffe://<td>`."""
    key = new_key()
    cn = f"sec-{datacenter}.consul.ca.{cluster_id[:8]}.consul"[:64]
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
           .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
           .add_extension(x509.SubjectAlternativeName(
               [x509.UniformResourceIdentifier(f"spiffe://{spiffe.trust_domain(cluster_id)}")]), critical=False)
           .sign(key, hashes.SHA256()))
    return key_pem(key), csr.public_bytes(serialization.Encoding.PEM).decode()


def sign_intermediate(csr_pem: str, root: Row, serial: int, now: datetime.datetime, config: CAConfig) -> str:
    """ConnectCA.SignIntermediate: a CA certificate (path length 0) for a secondary's key, issued
    by the primary's active root, valid for IntermediateCertTTL but never past the root."""
    try:
        csr = x509.load_pem_x509_csr(csr_pem.encode())
    except ValueError:
        raise CAError("failed to parse CSR") from None
    if not csr.is_signature_valid:
        raise CAError("CSR signature is not valid")
    uri = csr_uri(csr_pem)
    td = spiffe.trust_domain(str(root["ExternalTrustDomain"]))
    if uri.lower() != f"spiffe://{td}":
        raise CAError(f"CSR is not for this trust domain's signing ID: {uri}, we are spiffe://{td}")
    ca_cert, ca_key = load_cert(root["RootCert"]), load_key(root["SigningKey"])
    not_after = min(now + datetime.timedelta(seconds=config.intermediate_ttl), ca_cert.not_valid_after_utc)
    cert = (
        x509.CertificateBuilder().subject_name(csr.subject).issuer_name(ca_cert.subject)
        .public_key(csr.public_key()).serial_number(serial)
        .not_valid_before(now - LEAF_BACKDATE).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier(key_id(csr.public_key())), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier(key_id(ca_key.public_key()), None, None), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(uri)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert_pem(cert)


def subject_key_id(pem: str) -> bytes:
    return load_cert(pem).extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest


def signing_pair(root: Row) -> tuple[str, str]:
    """(certificate PEM, key PEM) that signs leaves under `root`: the root itself in the primary,
    this datacenter's intermediate in a secondary."""
    return str(root.get("SigningCert") or root["RootCert"]), str(root["SigningKey"])
