"""The built-in CA's certificates: roots, leaves, cross-signing and the CSR checks."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pyconsul.connect import ca, spiffe

CLUSTER = "878e0a5e-842a-1acf-939b-805c3594ce8f"
TD = spiffe.trust_domain(CLUSTER)
NOW = datetime.datetime(2026, 12, 7, 12, 0, 0, tzinfo=datetime.UTC)
TTLS = ca.parse_config(ca.DEFAULT_CONFIG)


def root(serial: int = 1) -> dict[str, object]:
    return ca.root_row(ca.new_root(CLUSTER, serial, NOW, TTLS), CLUSTER, active=True)


def test_root_is_a_p256_ca_named_after_the_cluster() -> None:
    row = root(7)
    cert = ca.load_cert(str(row["RootCert"]))
    cn = str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)
    assert cn.startswith("pri-") and cn.endswith(f".consul.ca.{CLUSTER[:8]}.consul") and len(cn.split(".")[0]) == 12
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign and usage.digital_signature
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    assert ski == aki and len(ski) == 32
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.UniformResourceIdentifier) == [f"spiffe://{TD}"]
    assert cert.not_valid_after_utc - NOW == datetime.timedelta(hours=87600)
    assert row["SerialNumber"] == 7 and row["Name"] == "Consul CA Primary Cert"
    assert row["ExternalTrustDomain"] == CLUSTER and str(row["RootCert"]).endswith("\n")
    assert len(str(row["ID"]).split(":")) == 20 and len(str(row["SigningKeyID"]).split(":")) == 32
    assert "SigningKey" not in ca.public_root(row)


def test_leaf_for_a_service_csr() -> None:
    r = root()
    uri = spiffe.service_uri(TD, "dc1", "web")
    key_pem, csr = ca.new_csr(uri)
    assert key_pem.startswith("-----BEGIN EC PRIVATE KEY-----")
    leaf = ca.load_cert(ca.sign_leaf(csr, r, 8, NOW, 72 * 3600))
    leaf.verify_directly_issued_by(ca.load_cert(str(r["RootCert"])))
    assert ca.leaf_uri(leaf) == uri
    assert leaf.serial_number == 8 and ca.serial_hex(8) == "08" and ca.serial_hex(256) == "01:00"
    assert leaf.not_valid_before_utc == NOW - datetime.timedelta(minutes=1)
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == datetime.timedelta(hours=72)
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH}


def test_csr_from_another_trust_domain_or_not_a_service_is_refused() -> None:
    r = root()
    _, other = ca.new_csr(spiffe.service_uri("11111111-2222-3333-4444-555555555555.consul", "dc1", "web"))
    with pytest.raises(ca.CAError, match="different trust domain"):
        ca.sign_leaf(other, r, 2, NOW, 3600)
    _, agent = ca.new_csr(f"spiffe://{TD}/agent/client/dc/dc1/id/node1")
    with pytest.raises(ca.CAError, match="must be a service ID"):
        ca.sign_leaf(agent, r, 2, NOW, 3600)
    _, upper = ca.new_csr(spiffe.service_uri(TD.upper(), "dc1", "web"))  # compared without case
    ca.sign_leaf(upper, r, 3, NOW, 3600)


def test_cross_signed_new_root_chains_new_leaves_to_the_old_root() -> None:
    old = root(1)
    new_material = ca.new_root(CLUSTER, 2, NOW, TTLS)
    cross = ca.load_cert(ca.cross_sign(new_material.cert, str(old["RootCert"]), str(old["SigningKey"]),
                                       CLUSTER, 3, NOW, TTLS))
    new = ca.root_row(new_material, CLUSTER, active=True)
    _, csr = ca.new_csr(spiffe.service_uri(TD, "dc1", "db"))
    leaf = ca.load_cert(ca.sign_leaf(csr, new, 4, NOW, 3600))
    # A verifier that knows only the old root follows leaf → cross-signed intermediate → old root.
    leaf.verify_directly_issued_by(cross)
    cross.verify_directly_issued_by(ca.load_cert(str(old["RootCert"])))
    assert cross.public_key() == ca.load_cert(new_material.cert).public_key()


@pytest.mark.parametrize("config,text", [
    ({"LeafCertTTL": "30m"}, "leaf cert TTL must be greater or equal than 1h0m0s"),
    ({"LeafCertTTL": "9000h"}, "leaf cert TTL must be less than 8760h0m0s"),
    ({"LeafCertTTL": "72h", "IntermediateCertTTL": "100h"}, "Intermediate Cert TTL must be greater or equal"),
    ({"LeafCertTTL": "soon"}, "invalid duration"),
    ({"PrivateKeyType": "rsa", "PrivateKeyBits": 2048}, "only ec 256"),
])
def test_api_config_limits(config: dict[str, object], text: str) -> None:
    with pytest.raises(ca.CAError, match=text):
        ca.parse_config({**ca.DEFAULT_CONFIG, **config})


def test_agent_config_may_use_short_ttls() -> None:
    cfg = ca.parse_config(ca.config_from_file({"leaf_cert_ttl": "30s"}), strict=False)
    assert cfg.leaf_ttl == 30.0
