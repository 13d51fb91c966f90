"""A secondary datacenter's CA and config entries, as pure logic: the intermediate the primary
signs, leaves signed under it, the root rows a secondary keeps, and config-entry replication's plan."""

from __future__ import annotations

import datetime
import uuid

import pytest
from cryptography import x509
from hypothesis import given
from hypothesis import strategies as st

from pyconsul.connect import ca, ca_ops, spiffe
from pyconsul.entries import replication

NOW = datetime.datetime(2026, 12, 7, 12, 0, tzinfo=datetime.UTC)
TTLS = ca.CAConfig(leaf_ttl=72 * 3600, intermediate_ttl=8760 * 3600, root_ttl=87600 * 3600)


@pytest.fixture(scope="module")
def primary() -> dict:
    cluster = str(uuid.uuid4())
    return ca.root_row(ca.new_root(cluster, 1, NOW, TTLS), cluster, active=True)


def _secondary_root(primary: dict) -> dict:
    key, csr = ca.intermediate_csr(primary["ExternalTrustDomain"], "dc2")
    inter = ca.sign_intermediate(csr, primary, 2, NOW, TTLS)
    public = ca.public_root(primary)
    return ca_ops.secondary_roots([public], primary["ID"], inter, key)[0]


def test_a_leaf_signed_in_the_secondary_chains_to_the_primarys_root(primary: dict) -> None:
    row = _secondary_root(primary)
    td = spiffe.trust_domain(primary["ExternalTrustDomain"])
    _, csr = ca.new_csr(f"spiffe://{td}/ns/default/dc/dc2/svc/web")
    leaf = ca.load_cert(ca.sign_leaf(csr, row, 3, NOW, TTLS.leaf_ttl))
    inter = ca.load_cert(row["SigningCert"])
    root = ca.load_cert(primary["RootCert"])
    leaf.verify_directly_issued_by(inter)
    inter.verify_directly_issued_by(root)
    constraints = inter.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca and constraints.path_length == 0
    assert inter.not_valid_after_utc <= root.not_valid_after_utc
    assert row["IntermediateCerts"][-1] == row["SigningCert"] and row["RootCert"] == primary["RootCert"]
    assert "SigningKey" not in ca.public_root(row) and "SigningCert" not in ca.public_root(row)


def test_the_primary_signs_only_its_own_trust_domains_signing_id(primary: dict) -> None:
    _, csr = ca.intermediate_csr(str(uuid.uuid4()), "dc2")  # another cluster's trust domain
    with pytest.raises(ca.CAError, match="trust domain"):
        ca.sign_intermediate(csr, primary, 2, NOW, TTLS)
    _, leaf_csr = ca.new_csr(f"spiffe://{spiffe.trust_domain(primary['ExternalTrustDomain'])}/ns/default/dc/dc2/svc/x")
    with pytest.raises(ca.CAError):
        ca.sign_intermediate(leaf_csr, primary, 2, NOW, TTLS)
    with pytest.raises(ca.CAError, match="parse"):
        ca.sign_intermediate("not a csr", primary, 2, NOW, TTLS)


def test_writes_a_secondary_hands_to_the_primary() -> None:
    assert replication.to_primary("PUT", "/v1/config")
    assert replication.to_primary("DELETE", "/v1/config/service-defaults/web")
    assert replication.to_primary("POST", "/v1/connect/intentions")
    assert replication.to_primary("PUT", "/v1/connect/intentions/exact")
    assert replication.to_primary("PUT", "/v1/connect/ca/configuration")
    assert not replication.to_primary("GET", "/v1/config/service-defaults")
    assert not replication.to_primary("PUT", "/v1/configuration")
    assert not replication.to_primary("PUT", "/v1/kv/config")


_entry = st.fixed_dictionaries({
    "Kind": st.sampled_from(["service-defaults", "proxy-defaults", "service-intentions"]),
    "Name": st.sampled_from(["web", "db", "global", "api"]),
    "Protocol": st.sampled_from(["tcp", "http", "grpc"]),
    "ModifyIndex": st.integers(1, 1000),
})


@given(st.lists(_entry), st.lists(_entry))
def test_applying_the_plan_makes_the_local_entries_match_the_primarys(local: list, remote: list) -> None:
    def table(rows: list) -> dict:
        return {(r["Kind"], r["Name"]): r for r in rows}  # last write per key wins, as in the store

    mine, theirs = table(local), table(remote)
    upserts, deletes = replication.plan(list(mine.values()), list(theirs.values()))
    for key in deletes:
        mine.pop(key)
    for row in upserts:
        mine[(row["Kind"], row["Name"])] = row

    def content(t: dict) -> dict:
        return {k: {f: v for f, v in r.items() if f != "ModifyIndex"} for k, r in t.items()}
    assert content(mine) == content(theirs)
    # Only the index differing is no change.
    assert replication.plan([{**r, "ModifyIndex": 0} for r in theirs.values()], list(theirs.values())) == ([], [])


def test_the_secondary_renews_its_intermediate_halfway_through_its_life(primary: dict) -> None:
    row = _secondary_root(primary)
    cert = ca.load_cert(row["SigningCert"])
    start, end = cert.not_valid_before_utc.timestamp(), cert.not_valid_after_utc.timestamp()
    middle = start + (end - start) / 2
    assert not ca_ops._past_half_life(row["SigningCert"], middle - 60)
    assert ca_ops._past_half_life(row["SigningCert"], middle + 60)
