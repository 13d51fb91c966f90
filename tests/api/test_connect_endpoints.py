"""Connect over real HTTP against a dev agent: the CA's roots (JSON and PEM), its configuration
and rotation, leaf certificates (SPIFFE SAN, blocking on rotation), the intentions API old and new,
and authorize's answers and texts."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography import x509

from pyconsul.connect import ca
from tests.support.agents import AgentProcess, start_agent
from tests.support.ports import loopback
from tests.support.wait import wait_until


def call(agent: AgentProcess, method: str, path: str, body: Any = None) -> tuple[int, Any, dict[str, str]]:
    status, headers, raw = agent.request(method, path, body)
    try:
        return status, json.loads(raw), headers
    except ValueError:
        return status, raw.decode(), headers


@pytest.fixture(scope="module")
def a(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    agent = start_agent(tmp_path_factory.mktemp("connect"), host=loopback(1), name="connect1")
    wait_until(lambda: agent.get_json("/v1/connect/ca/roots")["ActiveRootID"], what="the CA's first root")
    yield agent
    agent.stop()


def test_roots_document(a: AgentProcess) -> None:
    status, doc, headers = call(a, "GET", "/v1/connect/ca/roots")
    assert status == 200 and int(headers["X-Consul-Index"]) > 0
    (root,) = [r for r in doc["Roots"] if r["Active"]]
    assert doc["ActiveRootID"] == root["ID"]
    cluster = root["ExternalTrustDomain"]
    assert doc["TrustDomain"] == f"{cluster}.consul"
    assert set(root) == {"ID", "Name", "SerialNumber", "SigningKeyID", "ExternalTrustDomain", "NotBefore",
                         "NotAfter", "RootCert", "IntermediateCerts", "Active", "PrivateKeyType",
                         "PrivateKeyBits", "CreateIndex", "ModifyIndex"}
    assert root["Name"] == "Consul CA Primary Cert" and isinstance(root["SerialNumber"], int)
    assert root["NotAfter"].endswith("Z") and root["RootCert"].endswith("\n")
    assert ca.fingerprint(root["RootCert"]) == root["ID"]
    agent_doc = call(a, "GET", "/v1/agent/connect/ca/roots")[1]
    assert agent_doc["ActiveRootID"] == doc["ActiveRootID"]


def test_roots_as_pem(a: AgentProcess) -> None:
    status, headers, body = a.request("GET", "/v1/connect/ca/roots?pem=true")
    assert status == 200 and headers["Content-Type"] == "application/pem-certificate-chain"
    certs = x509.load_pem_x509_certificates(body)
    ids = {ca.fingerprint(ca.cert_pem(c)) for c in certs}
    assert {r["ID"] for r in a.get_json("/v1/connect/ca/roots")["Roots"]} <= ids


def test_leaf_for_any_service_name(a: AgentProcess) -> None:
    doc = a.get_json("/v1/connect/ca/roots")
    status, leaf, headers = call(a, "GET", "/v1/agent/connect/ca/leaf/not-registered")
    assert status == 200
    uri = f"spiffe://{doc['TrustDomain']}/ns/default/dc/dc1/svc/not-registered"
    assert leaf["Service"] == "not-registered" and leaf["ServiceURI"] == uri
    cert = x509.load_pem_x509_certificates(leaf["CertPEM"].encode())[0]
    assert ca.leaf_uri(cert) == uri
    assert leaf["PrivateKeyPEM"].startswith("-----BEGIN EC PRIVATE KEY-----")
    assert leaf["SerialNumber"] == ca.serial_hex(cert.serial_number)
    assert headers["X-Consul-Index"] == str(leaf["ModifyIndex"])
    again = call(a, "GET", "/v1/agent/connect/ca/leaf/not-registered")[1]
    assert again["SerialNumber"] == leaf["SerialNumber"]  # cached, not re-signed


def test_configuration_and_its_limits(a: AgentProcess) -> None:
    status, conf, _ = call(a, "GET", "/v1/connect/ca/configuration")
    assert status == 200 and conf["Provider"] == "consul" and conf["Config"]["LeafCertTTL"] == "72h"
    status, text, _ = call(a, "PUT", "/v1/connect/ca/configuration",
                           {"Provider": "consul", "Config": {"LeafCertTTL": "10m"}})
    assert (status, text) == (400, "leaf cert TTL must be greater or equal than 1h0m0s")
    status, _, _ = call(a, "PUT", "/v1/connect/ca/configuration", {"Provider": "consul", "Config": {"LeafCertTTL": "96h"}})
    assert status == 200
    assert call(a, "GET", "/v1/connect/ca/configuration")[1]["Config"]["LeafCertTTL"] == "96h"


def test_rotation_cross_signs_keeps_the_old_root_and_renews_leaves(a: AgentProcess) -> None:
    before = a.get_json("/v1/connect/ca/roots")
    status, leaf, headers = call(a, "GET", "/v1/agent/connect/ca/leaf/rotating")
    index = headers["X-Consul-Index"]
    got: dict[str, Any] = {}

    def block() -> None:  # a blocking leaf query returns once rotation makes a new leaf
        started = time.monotonic()
        got["leaf"] = call(a, "GET", f"/v1/agent/connect/ca/leaf/rotating?index={index}&wait=30s")[1]
        got["took"] = time.monotonic() - started

    t = threading.Thread(target=block)
    t.start()
    status, _, _ = call(a, "PUT", "/v1/connect/ca/configuration",
                        {"Provider": "consul", "Config": {"LeafCertTTL": "96h", "RotateRoot": True}})
    assert status == 200
    t.join(20)
    after = a.get_json("/v1/connect/ca/roots")
    assert after["ActiveRootID"] != before["ActiveRootID"]
    old = next(r for r in after["Roots"] if r["ID"] == before["ActiveRootID"])
    new = next(r for r in after["Roots"] if r["Active"])
    assert not old["Active"] and len(new["IntermediateCerts"]) == 1
    cross = ca.load_cert(new["IntermediateCerts"][0])
    cross.verify_directly_issued_by(ca.load_cert(old["RootCert"]))
    assert got["leaf"]["SerialNumber"] != leaf["SerialNumber"] and got["took"] < 15
    new_leaf = x509.load_pem_x509_certificates(got["leaf"]["CertPEM"].encode())
    new_leaf[0].verify_directly_issued_by(ca.load_cert(new["RootCert"]))
    assert len(new_leaf) == 2  # the cross-signed root rides along for peers that know only the old one


def test_intentions_exact_and_legacy(a: AgentProcess) -> None:
    assert call(a, "GET", "/v1/connect/intentions/exact?source=i-web&destination=i-db")[0] == 404
    status, body, _ = call(a, "PUT", "/v1/connect/intentions/exact?source=i-web&destination=i-db",
                           {"SourceType": "consul", "Action": "allow", "Description": "d"})
    assert (status, body) == (200, True)
    status, ixn, _ = call(a, "GET", "/v1/connect/intentions/exact?source=i-web&destination=i-db")
    assert status == 200 and "ID" not in ixn
    assert {k: ixn[k] for k in ("SourceName", "DestinationName", "Action", "Precedence", "Description")} == {
        "SourceName": "i-web", "DestinationName": "i-db", "Action": "allow", "Precedence": 9, "Description": "d"}
    status, created, _ = call(a, "POST", "/v1/connect/intentions",
                              {"SourceName": "*", "DestinationName": "i-db", "Action": "deny", "Meta": {"k": "v"}})
    assert status == 200
    status, legacy, _ = call(a, "GET", f"/v1/connect/intentions/{created['ID']}")
    assert status == 200 and legacy["Meta"] == {"k": "v"} and legacy["CreatedAt"] and legacy["Precedence"] == 8
    status, text, _ = call(a, "POST", "/v1/connect/intentions",
                           {"SourceName": "*", "DestinationName": "i-db", "Action": "allow"})
    assert status == 500 and text.startswith("duplicate intention found: * => i-db")
    status, matched, _ = call(a, "GET", "/v1/connect/intentions/match?by=destination&name=i-db")
    assert [i["SourceName"] for i in matched["i-db"]] == ["i-web", "*"]
    # both pairs live in one service-intentions entry for the destination
    listed = [i for i in call(a, "GET", "/v1/connect/intentions")[1] if i["DestinationName"] == "i-db"]
    assert len(listed) == 2
    assert call(a, "DELETE", f"/v1/connect/intentions/{created['ID']}")[:2] == (200, True)
    assert call(a, "GET", f"/v1/connect/intentions/{created['ID']}")[:2] == (404, "Intention not found")
    assert call(a, "DELETE", "/v1/connect/intentions/exact?source=i-web&destination=i-db")[:2] == (200, True)
    assert call(a, "GET", "/v1/connect/intentions/match?by=destination&name=i-db")[1] == {"i-db": []}


@pytest.mark.parametrize("path,body,text", [
    ("/v1/connect/intentions/exact?source=w*&destination=db", {"Action": "allow"},
     "Invalid Intention: wildcard character '*' cannot be used with partial values"),
    ("/v1/connect/intentions/exact?source=web&destination=db", {"Action": "maybe"},
     "Invalid Intention: Action must be set to 'allow' or 'deny'"),
    ("/v1/connect/intentions/exact?destination=db", {"Action": "allow"}, "required query parameter 'source' not set"),
])
def test_bad_intentions_are_400(a: AgentProcess, path: str, body: Any, text: str) -> None:
    assert call(a, "PUT", path, body)[:2] == (400, text)


def test_match_and_check_parameters(a: AgentProcess) -> None:
    assert call(a, "GET", "/v1/connect/intentions/match?name=x")[:2] == (400, "required query parameter 'by' not set")
    assert call(a, "GET", "/v1/connect/intentions/match?by=nope&name=x")[:2] == (
        400, "'by' parameter must be one of 'source' or 'destination'")
    assert call(a, "GET", "/v1/connect/intentions/check?source=c-web&destination=c-db")[:2] == (200, {"Allowed": True})


def test_authorize(a: AgentProcess) -> None:
    td = a.get_json("/v1/connect/ca/roots")["TrustDomain"]
    uri = f"spiffe://{td}/ns/default/dc/dc1/svc/z-web"
    body = {"Target": "z-db", "ClientCertURI": uri, "ClientCertSerial": "01"}
    assert call(a, "POST", "/v1/agent/connect/authorize", body)[1] == {
        "Authorized": True, "Reason": "Default behavior configured by ACLs"}
    call(a, "PUT", "/v1/connect/intentions/exact?source=z-web&destination=z-db", {"Action": "deny"})
    answer = call(a, "POST", "/v1/agent/connect/authorize", body)[1]
    assert answer == {"Authorized": False,
                      "Reason": "Matched L4 intention: z-web => z-db (Precedence: 9, Action: DENY)"}
    other_td = {**body, "ClientCertURI": "spiffe://other.consul/ns/default/dc/dc1/svc/z-api"}
    assert call(a, "POST", "/v1/agent/connect/authorize", other_td)[1]["Authorized"] is True  # td not checked
    for bad, text in [({}, "Target service must be specified"),
                      ({"Target": "z-db", "ClientCertURI": "nope"}, "ClientCertURI not a valid Connect identifier"),
                      ({"Target": "z-db", "ClientCertURI": f"spiffe://{td}/agent/client/dc/dc1/id/n"},
                       "ClientCertURI not a valid Service identifier")]:
        assert call(a, "POST", "/v1/agent/connect/authorize", bad)[:2] == (400, text)


def test_leaf_for_a_name_longer_than_a_common_name_may_be(a: AgentProcess) -> None:
    name = "s" * 300  # X.509 caps a CN at 64 characters; the identity is the URI SAN
    status, leaf, _ = call(a, "GET", f"/v1/agent/connect/ca/leaf/{name}")
    assert status == 200, leaf
    cert = x509.load_pem_x509_certificates(leaf["CertPEM"].encode())[0]
    assert ca.leaf_uri(cert).endswith(f"/svc/{name}")


@pytest.mark.parametrize("value, pem", [("t", True), ("TRUE", True), ("0", False), ("False", False), ("", False)])
def test_pem_takes_gos_booleans(a: AgentProcess, value: str, pem: bool) -> None:
    status, body, headers = call(a, "GET", f"/v1/connect/ca/roots?pem={value}")
    assert status == 200 and headers["Content-Type"].startswith(
        "application/pem-certificate-chain" if pem else "application/json")


def test_pem_that_is_no_boolean_is_a_400(a: AgentProcess) -> None:
    assert call(a, "GET", "/v1/connect/ca/roots?pem=yes")[:2] == (
        400, "The 'pem' query parameter must be a boolean value")


def test_intention_meta_is_the_config_entrys(a: AgentProcess) -> None:
    """Exact upserts may not set Meta; the entry's Meta shows on its intentions and may be sent back."""
    path = "/v1/connect/intentions/exact?source=m-web&destination=m-db"
    assert call(a, "PUT", path, {"Action": "allow", "Meta": {"k": "v"}})[:2] == (500, "Meta must not be specified")
    entry = {"Kind": "service-intentions", "Name": "m-db", "Meta": {"team": "db"},
             "Sources": [{"Name": "m-web", "Action": "allow"}]}
    assert call(a, "PUT", "/v1/config", entry)[:2] == (200, True)
    try:
        status, ixn, _ = call(a, "GET", path)
        assert status == 200 and ixn["Meta"] == {"team": "db"}
        assert call(a, "PUT", path, {"Action": "deny", "Meta": {"team": "db"}})[:2] == (200, True)
        assert call(a, "PUT", path, {"Action": "deny", "Meta": {"team": "x"}})[:2] == (
            500, "Meta must not be specified, or should be unchanged during an update.")
        assert call(a, "GET", path)[1]["Action"] == "deny"
    finally:
        call(a, "DELETE", "/v1/config/service-intentions/m-db")


def test_authorize_takes_put_too(a: AgentProcess) -> None:
    leaf = a.get_json("/v1/agent/connect/ca/leaf/p-web")
    body = {"Target": "p-db", "ClientCertURI": leaf["ServiceURI"], "ClientCertSerial": leaf["SerialNumber"]}
    assert call(a, "PUT", "/v1/agent/connect/authorize", body)[:2] == call(a, "POST", "/v1/agent/connect/authorize", body)[:2]
