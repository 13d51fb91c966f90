"""auto_encrypt's certificates, as pure functions: the client's CSR, the server's signature on it,
a built-in CA, and when a client should renew (Consul's agent/auto-config and ConnectCA.Sign).

Rules a caller can rely on:
- The client's key is EC P-256 and never leaves the client: the CSR carries the public key, the
  URI SAN `spiffe://unknown/agent/client/dc/<dc>/id/<node>` (the host is literally "unknown",
  the server puts its own trust domain in), DNS SANs `localhost` + dns_san, IP SANs
  `127.0.0.1`, `::1` + ip_san.
- `sign_agent_csr` refuses a CSR whose signature does not verify, that is not an agent URI, or
  whose datacenter differs from the server's; the certificate it issues copies the CSR's DNS and
  IP SANs, puts the trust domain into the URI, is valid from now − 1 minute for `ttl`, and may be
  used for client and server auth (the client serves HTTPS with it too).
- `renew_at` picks a moment between 60 % and 90 % of a certificate's life, so a fleet of clients
  does not renew at once and each renews well before expiry.
"""

from __future__ import annotations

import datetime
import ipaddress
import random
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pyconsul.tls.certs import (
    CertError,
    build_ca,
    key_id,
    key_pem,
    load_ca,
    load_signer,
    new_key,
    serial_number,
)

AGENT_URI_PREFIX = "spiffe://"
CLOCK_SKEW = datetime.timedelta(minutes=1)


@dataclass(frozen=True)
class AgentCSR:
    csr_pem: str
    key_pem: str  # stays with the client


@dataclass(frozen=True)
class IssuedCert:
    cert_pem: str
    serial_hex: str  # Consul's colon-hex spelling
    valid_after: datetime.datetime
    valid_before: datetime.datetime


def agent_uri(trust_domain: str, dc: str, node: str) -> str:
    return f"spiffe://{trust_domain}/agent/client/dc/{dc}/id/{node}"


def agent_csr(dc: str, node: str, dns_san: tuple[str, ...] = (), ip_san: tuple[str, ...] = ()) -> AgentCSR:
    """A fresh key and the CSR a client sends to `AutoEncrypt.Sign`."""
    key = new_key()
    sans: list[x509.GeneralName] = [x509.UniformResourceIdentifier(agent_uri("unknown", dc, node))]
    sans += [x509.DNSName(d) for d in ("localhost", *dns_san)]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ("127.0.0.1", "::1", *ip_san)]
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, node)]))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(key, hashes.SHA256())
    )
    return AgentCSR(csr.public_bytes(serialization.Encoding.PEM).decode(), key_pem(key))


def parse_agent_csr(csr_pem: str) -> tuple[x509.CertificateSigningRequest, str, str]:
    """The CSR with its datacenter and node from the agent URI; CertError with the reason."""
    try:
        csr = x509.load_pem_x509_csr(csr_pem.encode())
    except ValueError:
        raise CertError("failed to parse CSR") from None
    if not csr.is_signature_valid:
        raise CertError("CSR signature is invalid")
    uris = _sans(csr).get_values_for_type(x509.UniformResourceIdentifier)
    for uri in uris:
        rest = uri.removeprefix(AGENT_URI_PREFIX)
        parts = rest.split("/")
        # <host>/agent/client/dc/<dc>/id/<node>
        if rest != uri and len(parts) == 7 and parts[1:4] == ["agent", "client", "dc"] and parts[5] == "id" \
                and parts[4] and parts[6]:
            return csr, parts[4], parts[6]
    raise CertError("SPIFFE ID in CSR must be an agent ID")


def _sans(csr: x509.CertificateSigningRequest) -> x509.SubjectAlternativeName:
    try:
        return csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return x509.SubjectAlternativeName([])


def mismatched_dc(client_dc: str, server_dc: str) -> str:
    return (f"mismatched datacenter (client_dc='{client_dc}' server_dc='{server_dc}'); "
            "check client has same datacenter set as servers")


def sign_agent_csr(ca_pem: str, ca_key_pem: str, csr_pem: str, *, datacenter: str, trust_domain: str,
                   now: datetime.datetime, ttl: datetime.timedelta) -> IssuedCert:
    """The certificate for a client's CSR, signed by the CA (see the module's rules)."""
    csr, dc, node = parse_agent_csr(csr_pem)
    if dc != datacenter:
        raise CertError(mismatched_dc(dc, datacenter))
    ca = load_ca(ca_pem.encode())
    signer = load_signer(ca_key_pem.encode())
    public = csr.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise CertError("CSR key must be EC")
    sans = _sans(csr)
    names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(agent_uri(trust_domain, dc, node))]
    names += [x509.DNSName(d) for d in sans.get_values_for_type(x509.DNSName)]
    names += [x509.IPAddress(ip) for ip in sans.get_values_for_type(x509.IPAddress)]
    start = now - CLOCK_SKEW
    sn = serial_number()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, node)]))
        .issuer_name(ca.subject).public_key(public).serial_number(sn)
        .not_valid_before(start).not_valid_after(start + ttl)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                                     data_encipherment=True, key_agreement=True, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .add_extension(x509.SubjectKeyIdentifier(key_id(public)), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier(key_id(signer.public_key()), None, None), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(signer, hashes.SHA256())
    )
    return IssuedCert(cert.public_bytes(serialization.Encoding.PEM).decode(), colon_hex(sn), start, start + ttl)


def colon_hex(n: int) -> str:
    raw = n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big")
    return ":".join(f"{b:02x}" for b in raw)


def builtin_ca(now: datetime.datetime, trust_domain: str) -> tuple[str, str]:
    """The (root PEM, key PEM) a leader creates when no operator CA is configured: ten years, the
    trust domain as its URI SAN, Consul's built-in CA naming."""
    pair = build_ca(now - CLOCK_SKEW, 3650, common_name=f"Consul CA {serial_number() % 1000}",
                    uri_sans=(f"spiffe://{trust_domain}",))
    return pair.cert, pair.key


def validity(cert_pem: str) -> tuple[datetime.datetime, datetime.datetime]:
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    return cert.not_valid_before_utc, cert.not_valid_after_utc


def renew_at(valid_after: datetime.datetime, valid_before: datetime.datetime, rng: random.Random) -> datetime.datetime:
    """When to ask for a new certificate: a random point in 60–90 % of its lifetime."""
    life = valid_before - valid_after
    return valid_after + life * rng.uniform(0.6, 0.9)
