"""auto_encrypt's pure pieces: the client's CSR, the server's signature and refusals, the signers
behind one interface, the replicated built-in CA, renewal timing and retry backoff."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import random
from typing import Any

import pytest
from cryptography import x509
from hypothesis import given
from hypothesis import strategies as st

from pyconsul.fsm import commands as c
from pyconsul.fsm.machine import StateMachine
from pyconsul.state.store import StateStore
from pyconsul.tls.agent_leaf import agent_csr, builtin_ca, parse_agent_csr, renew_at, sign_agent_csr
from pyconsul.tls.auto_encrypt import MAX_BACKOFF, backoff, signed_from_reply
from pyconsul.tls.certs import CertError, build_ca
from pyconsul.tls.signer import (
    DEFAULT_LEAF_TTL,
    BuiltinCASigner,
    ConfiguredCASigner,
    SignerNotReady,
    signer_for,
)

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
TTL = datetime.timedelta(hours=72)


def _sans(cert: x509.Certificate) -> x509.SubjectAlternativeName:
    return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value


def test_the_csr_names_the_agent_with_an_unknown_trust_domain_and_local_addresses() -> None:
    csr = agent_csr("dc1", "web-1", dns_san=("web.example",), ip_san=("10.0.0.5",))
    parsed, dc, node = parse_agent_csr(csr.csr_pem)
    assert (dc, node) == ("dc1", "web-1")
    sans = parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.UniformResourceIdentifier) == ["spiffe://unknown/agent/client/dc/dc1/id/web-1"]
    assert sans.get_values_for_type(x509.DNSName) == ["localhost", "web.example"]
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address(a) for a in ("127.0.0.1", "::1", "10.0.0.5")]
    assert "PRIVATE KEY" not in csr.csr_pem and "EC PRIVATE KEY" in csr.key_pem


def test_the_issued_certificate_chains_to_the_ca_and_carries_the_trust_domain() -> None:
    root, key = builtin_ca(NOW, "11111111-2222.consul")
    issued = sign_agent_csr(root, key, agent_csr("dc1", "web-1").csr_pem, datacenter="dc1",
                            trust_domain="11111111-2222.consul", now=NOW, ttl=TTL)
    cert = x509.load_pem_x509_certificate(issued.cert_pem.encode())
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(root.encode()))
    assert _sans(cert).get_values_for_type(x509.UniformResourceIdentifier) == [
        "spiffe://11111111-2222.consul/agent/client/dc/dc1/id/web-1"]
    assert "localhost" in _sans(cert).get_values_for_type(x509.DNSName)
    assert cert.not_valid_before_utc == NOW - datetime.timedelta(minutes=1)
    assert cert.not_valid_after_utc == cert.not_valid_before_utc + TTL
    assert (issued.valid_after, issued.valid_before) == (cert.not_valid_before_utc, cert.not_valid_after_utc)
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert {u.dotted_string for u in usages} == {"1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"}
    assert int(issued.serial_hex.replace(":", ""), 16) == cert.serial_number


def test_refusals_use_consuls_texts() -> None:
    root, key = builtin_ca(NOW, "td.consul")
    kw: dict[str, Any] = {"trust_domain": "td.consul", "now": NOW, "ttl": TTL}
    with pytest.raises(CertError, match=r"^mismatched datacenter \(client_dc='dc2' server_dc='dc1'\); check client "
                                        r"has same datacenter set as servers$"):
        sign_agent_csr(root, key, agent_csr("dc2", "n").csr_pem, datacenter="dc1", **kw)
    with pytest.raises(CertError, match="failed to parse CSR"):
        sign_agent_csr(root, key, "not a csr", datacenter="dc1", **kw)
    service_csr = (x509.CertificateSigningRequestBuilder()
                   .subject_name(x509.Name([]))
                   .add_extension(x509.SubjectAlternativeName(
                       [x509.UniformResourceIdentifier("spiffe://unknown/ns/default/dc/dc1/svc/web")]), critical=False))
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = service_csr.sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256()).public_bytes(
        serialization.Encoding.PEM).decode()
    with pytest.raises(CertError, match="SPIFFE ID in CSR must be an agent ID"):
        sign_agent_csr(root, key, pem, datacenter="dc1", **kw)


def test_the_operators_ca_signs_when_connect_ca_config_has_both_halves() -> None:
    agent_ca = build_ca(NOW - datetime.timedelta(days=1), 30)
    store = StateStore()
    signer = signer_for({"root_cert": agent_ca.cert, "private_key": agent_ca.key, "leaf_cert_ttl": "2h"},
                        store.agent_ca)
    assert isinstance(signer, ConfiguredCASigner) and signer.roots() == (agent_ca.cert,)
    issued = signer.sign(agent_csr("dc1", "n1").csr_pem, "dc1", NOW)
    cert = x509.load_pem_x509_certificate(issued.cert_pem.encode())
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(agent_ca.cert.encode()))
    assert issued.valid_before - issued.valid_after == datetime.timedelta(hours=2)
    with pytest.raises(CertError, match="needs both root_cert and private_key"):
        signer_for({"RootCert": agent_ca.cert}, store.agent_ca)


def test_the_builtin_ca_is_made_once_through_the_state_machine_and_survives_a_snapshot() -> None:
    store = StateStore()
    machine = StateMachine(store)
    signer = signer_for({}, store.agent_ca)
    assert isinstance(signer, BuiltinCASigner) and signer.roots() == ()
    with pytest.raises(SignerNotReady):
        signer.sign(agent_csr("dc1", "n1").csr_pem, "dc1", NOW)
    index = iter(range(10, 100))

    async def write(cmd: c.Command) -> Any:
        return machine.apply(next(index), c.encode(cmd))

    asyncio.run(signer.create(write, NOW))
    first = signer.roots()
    asyncio.run(signer.create(write, NOW))  # a second leader's copy loses to the first
    assert signer.roots() == first and len(first) == 1
    assert store.indexes.get("agent-ca") == 10
    issued = signer.sign(agent_csr("dc1", "n1").csr_pem, "dc1", NOW)
    assert issued.valid_before - issued.valid_after == DEFAULT_LEAF_TTL
    restored = StateStore()
    restored.restore(store.snapshot())
    assert restored.agent_ca.get() == store.agent_ca.get()


@given(life_s=st.integers(60, 10 * 365 * 86400), seed=st.integers(0, 2**32))
def test_renewal_falls_between_60_and_90_percent_of_the_life(life_s: int, seed: int) -> None:
    after = NOW
    before = NOW + datetime.timedelta(seconds=life_s)
    at = renew_at(after, before, random.Random(seed))
    life = before - after
    assert after + life * 0.6 <= at <= after + life * 0.9


@given(attempts=st.lists(st.integers(1, 50), min_size=1), seed=st.integers(0, 2**32))
def test_backoff_doubles_from_one_second_and_stays_bounded(attempts: list[int], seed: int) -> None:
    rng = random.Random(seed)
    for n in attempts:
        wait = backoff(n, rng)
        base = min(MAX_BACKOFF, 2.0 ** (n - 1))
        assert base <= wait <= base * 1.25


def test_the_reply_gives_the_key_the_client_kept_and_every_root_once() -> None:
    root, key = builtin_ca(NOW, "td.consul")
    csr = agent_csr("dc1", "n1")
    issued = sign_agent_csr(root, key, csr.csr_pem, datacenter="dc1", trust_domain="td.consul", now=NOW, ttl=TTL)
    manual = build_ca(NOW, 30).cert
    signed = signed_from_reply({"IssuedCert": {"CertPEM": issued.cert_pem},
                                "ConnectCARoots": {"Roots": [{"RootCert": root}]},
                                "ManualCARoots": [manual, root], "VerifyServerHostname": True}, csr.key_pem)
    assert signed.tls.key_pem == csr.key_pem and signed.tls.cert_pem == issued.cert_pem
    assert signed.tls.ca_pems == (root, manual)
    assert signed.tls.verify_server_hostname
    assert signed.valid_before == issued.valid_before
