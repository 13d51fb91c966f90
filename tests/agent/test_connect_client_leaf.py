"""A client agent's Connect: its leaf is made locally and signed by the server over the server
port (the forwarded `POST /v1/internal/connect/ca/sign/:service`), its roots and authorize answers come
from the server; the server port refuses the agent-only leaf endpoint."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

from cryptography import x509

from pyconsul.agent.listeners import forwarded_routes
from pyconsul.connect import ca
from tests.support.agents import start_agent
from tests.support.ports import loopback
from tests.support.wait import wait_until

SERVER_HOST, CLIENT_HOST = loopback(41), loopback(42)


def test_the_sign_request_is_a_forwarded_shape_and_the_agent_endpoints_are_not() -> None:
    routes = forwarded_routes()
    assert routes.allows("POST", "/v1/internal/connect/ca/sign/web")
    assert routes.allows("GET", "/v1/connect/ca/roots?index=3&wait=5m")
    assert not routes.allows("GET", "/v1/agent/connect/ca/leaf/web")
    assert not routes.allows("POST", "/v1/agent/connect/authorize")


def test_client_agent_leaf_is_signed_by_the_server(tmp_path: Path) -> None:
    server = start_agent(tmp_path / "s", "-server", "-bootstrap", "-data-dir", str(tmp_path / "s" / "data"),
                         dev=False, name="ca-srv", host=SERVER_HOST)
    client = start_agent(tmp_path / "c", "-data-dir", str(tmp_path / "c" / "data"), "-retry-join",
                         f"{SERVER_HOST}:{server.serf_lan_port}", "-retry-interval", "1s",
                         dev=False, name="ca-cli", host=CLIENT_HOST)
    try:
        roots = wait_until(lambda: client.get_json("/v1/agent/connect/ca/roots")["Roots"] and
                           client.get_json("/v1/agent/connect/ca/roots"), 15, what="roots through the client")
        assert roots["ActiveRootID"] == server.get_json("/v1/connect/ca/roots")["ActiveRootID"]
        leaf = client.get_json("/v1/agent/connect/ca/leaf/edge")
        cert = x509.load_pem_x509_certificates(leaf["CertPEM"].encode())[0]
        active = next(r for r in roots["Roots"] if r["Active"])
        cert.verify_directly_issued_by(ca.load_cert(active["RootCert"]))
        assert leaf["ServiceURI"] == f"spiffe://{roots['TrustDomain']}/ns/default/dc/dc1/svc/edge"
        # Authorize on the client reads the server's intentions.
        server.request("PUT", "/v1/connect/intentions/exact?source=edge&destination=core", {"Action": "deny"})
        status, _, body = client.request("POST", "/v1/agent/connect/authorize", {
            "Target": "core", "ClientCertURI": leaf["ServiceURI"], "ClientCertSerial": leaf["SerialNumber"]})
        assert status == 200 and json.loads(body)["Authorized"] is False
        # The server port does not answer the agent's own leaf endpoint.
        conn = http.client.HTTPConnection(SERVER_HOST, server.server_port, timeout=5)
        try:
            conn.request("GET", "/v1/agent/connect/ca/leaf/edge")
            try:
                resp = conn.getresponse()
                refused = resp.status >= 400 and b"CertPEM" not in resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError):
                refused = True
        finally:
            conn.close()
        assert refused
    finally:
        client.stop()
        server.stop()
