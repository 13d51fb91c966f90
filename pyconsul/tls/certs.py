"""Building the agent CA and agent certificates as `consul tls ca|cert create` does (no I/O).

Rules a caller can rely on:
- Keys are EC P-256, written as SEC1 `EC PRIVATE KEY` PEM; certificates are signed with
  ECDSA-SHA256 and carry a random 128-bit serial.
- The CA's subject is HashiCorp's address with `CN=<common name>`; its SubjectKeyId and
  AuthorityKeyId are the SHA-256 of its public key. With name constraints it may only sign
  the permitted DNS domains (marked critical).
- A leaf's subject is its CN only; key usage DigitalSignature|KeyEncipherment; the extended
  key usages and SANs are the caller's (see `leaf_names`).
- `now` is passed in, so validity windows are a pure function of the inputs.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import secrets
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class CertError(ValueError):
    """A CA or key that cannot be used, or a certificate that does not verify; the text is
    what the command prints."""


@dataclass(frozen=True)
class PemPair:
    cert: str
    key: str


@dataclass(frozen=True)
class LeafNames:
    """What one kind of certificate is called and may be used for."""

    common_name: str
    dns_names: tuple[str, ...]
    ip_addresses: tuple[IPAddress, ...]
    ext_key_usage: tuple[x509.ObjectIdentifier, ...]
    file_prefix: str


def serial_number() -> int:
    """Random and below 2**128, as Consul's; never 0 (X.509 wants a positive serial)."""
    while True:
        n = secrets.randbits(128)
        if n:
            return n


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode()


def key_id(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """SHA-256 of the PKIX (SubjectPublicKeyInfo) DER, all 32 bytes."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).digest()


def ca_subject(common_name: str) -> x509.Name:
    # Go's pkix.Name order: C, ST, L, STREET, POSTALCODE, O, CN.
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "CA"),
        x509.NameAttribute(NameOID.LOCALITY_NAME, "San Francisco"),
        x509.NameAttribute(NameOID.STREET_ADDRESS, "101 Second Street"),
        x509.NameAttribute(NameOID.POSTAL_CODE, "94105"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "HashiCorp Inc."),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def build_ca(now: datetime.datetime, days: int, *, common_name: str = "", constraints: tuple[str, ...] = (),
             uri_sans: tuple[str, ...] = (), serial: int | None = None) -> PemPair:
    """A self-signed CA; an empty `common_name` means `Consul Agent CA <serial>`."""
    sn = serial if serial is not None else serial_number()
    key = new_key()
    kid = key_id(key.public_key())
    subject = ca_subject(common_name or f"Consul Agent CA {sn}")
    builder = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(sn).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier(kid), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier(kid, None, None), critical=False)
    )
    if constraints:
        builder = builder.add_extension(
            x509.NameConstraints([x509.DNSName(d) for d in constraints], None), critical=True)
    if uri_sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(u) for u in uri_sans]), critical=False)
    cert = builder.sign(key, hashes.SHA256())
    return PemPair(cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem(key))


def ca_constraints(domain: str, additional: tuple[str, ...]) -> tuple[str, ...]:
    """`-name-constraint`: the additional names, then the domain, then localhost."""
    return (*additional, domain, "localhost")


def leaf_names(kind: str, dc: str, domain: str, node: str = "", dns_names: tuple[str, ...] = (),
               ip_addresses: tuple[IPAddress, ...] = ()) -> LeafNames:
    """Names and usages of a `server`, `client` or `cli` certificate.

    The extra names come first; a server adds `<node>.server.<dc>.<domain>` when given; every
    kind adds its own `<kind>.<dc>.<domain>` and `localhost`. As in Consul, a cli certificate
    keeps none of the extra names or addresses and has no extended key usage.
    """
    server_auth, client_auth = ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH
    name = f"{kind}.{dc}.{domain}"
    prefix = f"{dc}-{kind}-{domain}"
    localhost = (ipaddress.ip_address("127.0.0.1"),)
    if kind == "server":
        node_name = (f"{node}.server.{dc}.{domain}",) if node else ()
        return LeafNames(name, (*dns_names, *node_name, name, "localhost"), (*ip_addresses, *localhost),
                         (server_auth, client_auth), prefix)
    if kind == "client":
        return LeafNames(name, (*dns_names, name, "localhost"), (*ip_addresses, *localhost),
                         (client_auth, server_auth), prefix)
    if kind == "cli":
        return LeafNames(name, (name, "localhost"), (), (), prefix)
    raise ValueError(f"unknown certificate kind {kind!r}")


def load_ca(ca_pem: bytes) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(ca_pem)
    except ValueError:
        raise CertError("failed to parse CA certificate") from None


def load_signer(key_pem_bytes: bytes) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(key_pem_bytes, password=None)
    except (ValueError, TypeError):
        raise CertError("error parsing private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CertError(f"unsupported CA key type: {type(key).__name__}")
    return key


def build_leaf(ca_pem: bytes, ca_key_pem: bytes, names: LeafNames, now: datetime.datetime, days: int,
               serial: int | None = None) -> PemPair:
    """A certificate for `names` signed by the CA, verified against it before it is returned."""
    ca = load_ca(ca_pem)
    signer = load_signer(ca_key_pem)
    key = new_key()
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in names.dns_names]
    sans += [x509.IPAddress(ip) for ip in names.ip_addresses]
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names.common_name)]))
        .issuer_name(ca.subject).public_key(key.public_key())
        .serial_number(serial if serial is not None else serial_number())
        .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier(key_id(key.public_key())), critical=False)
    )
    if names.ext_key_usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(names.ext_key_usage)), critical=False)
    aki = _subject_key_id(ca)
    if aki is not None:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier(aki, None, None), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(signer, hashes.SHA256())
    verify_leaf(ca, cert, names.common_name, now)
    return PemPair(cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem(key))


def _subject_key_id(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return None


def verify_leaf(ca: x509.Certificate, cert: x509.Certificate, dns_name: str, now: datetime.datetime) -> None:
    """What Consul checks before writing: signed by the CA (with a key that matches it), valid
    now, valid for `dns_name`, and inside the CA's permitted DNS domains."""
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        raise CertError("x509: certificate signed by unknown authority") from None
    if not ca.not_valid_before_utc <= now <= ca.not_valid_after_utc:
        raise CertError("x509: certificate has expired or is not yet valid")
    dns_sans = _dns_sans(cert)
    if dns_name not in dns_sans:
        raise CertError(f"x509: certificate is valid for {', '.join(dns_sans)}, not {dns_name}")
    permitted = _permitted_domains(ca)
    if permitted is not None:
        for name in dns_sans:
            if not any(_within(name, domain) for domain in permitted):
                raise CertError(f'x509: a root or intermediate certificate is not authorized to sign for this '
                                f'name: DNS name "{name}" is not permitted by any constraint')


def _dns_sans(cert: x509.Certificate) -> list[str]:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName)
    except x509.ExtensionNotFound:
        return []


def _permitted_domains(ca: x509.Certificate) -> list[str] | None:
    try:
        nc = ca.extensions.get_extension_for_class(x509.NameConstraints).value
    except x509.ExtensionNotFound:
        return None
    subtrees = [t.value for t in nc.permitted_subtrees or [] if isinstance(t, x509.DNSName)]
    return subtrees or None


def _within(name: str, domain: str) -> bool:
    """RFC 5280 DNS constraint: the domain itself or any name below it."""
    name, domain = name.lower().rstrip("."), domain.lower().strip(".")
    return name == domain or name.endswith("." + domain)
