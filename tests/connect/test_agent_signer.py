"""auto_encrypt's certificates from the Connect CA (one signer, as in Consul), through a real
state machine: the agent's SPIFFE URI in the CA's trust domain with the CSR's DNS SANs, the CA's
LeafCertTTL, every root the CA holds trusted (a rotated-out one too) and the root of the agent
CA an earlier version made, so certificates it issued keep verifying after an upgrade."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509

from pyconsul.clock import FakeClock
from pyconsul.connect import ca_ops, spiffe
from pyconsul.connect.agent_signer import ConnectCASigner
from pyconsul.fsm import commands as c
from pyconsul.tls.agent_leaf import agent_csr, builtin_ca
from pyconsul.tls.signer import BuiltinCASigner, ConfiguredCASigner, SignerNotReady, signer_for
from tests.connect.test_ca_ops import Applier

NOW = datetime.datetime(2027, 1, 15, tzinfo=datetime.UTC)


async def test_the_connect_ca_signs_agent_certificates() -> None:
    clock = FakeClock(NOW.timestamp())
    raft = Applier()
    store = raft.store
    signer = signer_for({}, store.agent_ca, store.connect_ca)
    assert isinstance(signer, ConnectCASigner) and signer.roots() == ()
    csr = agent_csr("dc1", "client-1", dns_san=("client-1.example",)).csr_pem
    with pytest.raises(SignerNotReady):
        signer.sign(csr, "dc1", NOW)

    # A snapshot from before: the agent CA an earlier version made is still in the state.
    old_root, old_key = builtin_ca(NOW, "old.consul")
    await raft.write(c.AgentCAInit(root_pem=old_root, key_pem=old_key, trust_domain="old.consul"))
    assert await ca_ops.initialize(raft.write, store, clock, {"leaf_cert_ttl": "2h"})
    root = store.connect_ca.active_root()
    assert root is not None
    assert signer.roots() == (root["RootCert"], old_root)

    issued = signer.sign(csr, "dc1", NOW)
    cert = x509.load_pem_x509_certificate(issued.cert_pem.encode())
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(root["RootCert"].encode()))
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    td = spiffe.trust_domain(store.connect_ca.config["ClusterID"])  # type: ignore[index]
    assert sans.get_values_for_type(x509.UniformResourceIdentifier) == [
        f"spiffe://{td}/agent/client/dc/dc1/id/client-1"]
    assert "client-1.example" in sans.get_values_for_type(x509.DNSName)
    assert issued.valid_before - issued.valid_after == datetime.timedelta(hours=2)

    # After a rotation both roots are trusted and the new one signs.
    await ca_ops.set_config(raft.write, store, clock, {"Provider": "consul",
                                                        "Config": {"LeafCertTTL": "2h", "RotateRoot": True}})
    new = store.connect_ca.active_root()
    assert new is not None and new["ID"] != root["ID"]
    assert {root["RootCert"], new["RootCert"], old_root} <= set(signer.roots())
    again = x509.load_pem_x509_certificate(signer.sign(csr, "dc1", NOW).cert_pem.encode())
    again.verify_directly_issued_by(x509.load_pem_x509_certificate(new["RootCert"].encode()))


def test_without_connect_the_agent_ca_signs_and_the_operator_ca_wins() -> None:
    store = Applier().store
    assert isinstance(signer_for({}, store.agent_ca), BuiltinCASigner)
    root, key = builtin_ca(NOW, "op.consul")
    assert isinstance(signer_for({"root_cert": root, "private_key": key}, store.agent_ca, store.connect_ca),
                      ConfiguredCASigner)
