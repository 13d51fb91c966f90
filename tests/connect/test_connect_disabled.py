"""`connect { enabled = false }` on a server, as Consul has it: no CA is made, and the CA,
leaf, intentions, authorize and discovery-chain endpoints answer 500 `Connect must be enabled in
order to use this endpoint`; config entries, the mesh catalog and sidecar registration keep
working; the CLI and the built-in proxy report the error and exit 1. auto_encrypt.allow_tls turns
Connect back on (its servers sign with the CA)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyconsul.config.loader import load_agent_config
from tests.cli.cli_run import clean_env, consul
from tests.support.agents import AgentProcess, start_agent
from tests.support.ports import free_port, loopback
from tests.support.wait import wait_until

NOT_ENABLED = b"Connect must be enabled in order to use this endpoint"
REFUSED = [
    ("GET", "/v1/connect/ca/roots", None),
    ("GET", "/v1/connect/ca/roots?pem=true", None),
    ("GET", "/v1/agent/connect/ca/roots", None),
    ("GET", "/v1/connect/ca/configuration", None),
    ("PUT", "/v1/connect/ca/configuration", {"Provider": "consul", "Config": {"LeafCertTTL": "72h"}}),
    ("GET", "/v1/agent/connect/ca/leaf/web", None),
    ("POST", "/v1/agent/connect/authorize", {"Target": "db", "ClientCertURI": "spiffe://x.consul/ns/default/dc/dc1/svc/web"}),
    ("GET", "/v1/connect/intentions", None),
    ("POST", "/v1/connect/intentions", {"SourceName": "web", "DestinationName": "db", "Action": "allow"}),
    ("GET", "/v1/connect/intentions/exact?source=web&destination=db", None),
    ("PUT", "/v1/connect/intentions/exact?source=web&destination=db", {"Action": "allow"}),
    ("DELETE", "/v1/connect/intentions/exact?source=web&destination=db", None),
    ("GET", "/v1/connect/intentions/match?by=destination&name=db", None),
    ("GET", "/v1/connect/intentions/check?source=web&destination=db", None),
    ("GET", "/v1/discovery-chain/web", None),
]


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    work = tmp_path_factory.mktemp("connect-off")
    conf = work / "connect.hcl"
    conf.write_text("connect {\n  enabled = false\n}\n")
    a = start_agent(work, f"-config-file={conf}", host=loopback(66), name="connect-off")
    yield a
    a.stop()


@pytest.mark.parametrize("method, path, body", REFUSED, ids=[f"{m} {p}" for m, p, _ in REFUSED])
def test_connect_endpoints_answer_consuls_500(agent: AgentProcess, method: str, path: str, body: object) -> None:
    status, _, text = agent.request(method, path, body)
    assert (status, text) == (500, NOT_ENABLED)


def test_config_entries_the_mesh_catalog_and_sidecars_still_work(agent: AgentProcess) -> None:
    assert agent.request("PUT", "/v1/config", {"Kind": "service-defaults", "Name": "web", "Protocol": "http"})[0] == 200
    assert agent.get_json("/v1/config/service-defaults/web")["Protocol"] == "http"
    reg = {"Name": "web", "Port": 8080, "Connect": {"SidecarService": {
        "Port": 21000, "Check": {"Name": "up", "TTL": "30s", "Status": "passing"}}}}
    status, _, text = agent.request("PUT", "/v1/agent/service/register", reg)
    assert status == 200, text
    try:
        assert agent.get_json("/v1/agent/services")["web-sidecar-proxy"]["Kind"] == "connect-proxy"
        rows = agent.get_json("/v1/health/connect/web")
        assert [r["Service"]["ID"] for r in rows] == ["web-sidecar-proxy"]
    finally:
        agent.request("PUT", "/v1/agent/service/deregister/web")
    assert "Connect is disabled (connect.enabled = false): no CA on this server" in agent.log()


def test_cli_and_proxy_report_the_error(agent: AgentProcess) -> None:
    env = clean_env(CONSUL_HTTP_ADDR=agent.http_addr)
    r = consul("connect", "ca", "get-config", env=env)
    assert r.code == 1 and "Connect must be enabled in order to use this endpoint" in r.err
    r = consul("intention", "create", "web", "db", env=env)
    assert r.code == 1 and "Connect must be enabled in order to use this endpoint" in r.err
    proxy = subprocess.run([sys.executable, "-m", "pyconsul", "connect", "proxy", "-service", "web"],
                           capture_output=True, text=True, env=env, timeout=30)
    assert proxy.returncode == 1 and "Connect must be enabled in order to use this endpoint" in proxy.stdout


def test_auto_encrypt_allow_tls_turns_connect_on(tmp_path: Path) -> None:
    conf = tmp_path / "c.json"
    conf.write_text(json.dumps({"server": True, "data_dir": str(tmp_path), "connect": {"enabled": False},
                                "auto_encrypt": {"allow_tls": True}}))
    assert load_agent_config([f"-config-file={conf}"]).connect.enabled is True
    conf.write_text(json.dumps({"server": True, "data_dir": str(tmp_path), "connect": {"enabled": False}}))
    assert load_agent_config([f"-config-file={conf}"]).connect.enabled is False
    assert load_agent_config(["-dev"]).connect.enabled is True


def test_a_client_agent_relays_the_servers_refusal(tmp_path: Path) -> None:
    """The servers decide: a client agent (Connect on by default) answers with their 500."""
    conf = tmp_path / "c.hcl"
    conf.write_text("connect { enabled = false }\n")
    server = start_agent(tmp_path / "s", "-server", "-bootstrap", "-data-dir", str(tmp_path / "s" / "data"),
                         f"-config-file={conf}", dev=False, name="off-srv", host=loopback(68))
    client = None
    try:
        ports = {"http": free_port(), "dns": free_port(), "server": free_port(), "serf_lan": free_port()}
        client = start_agent(tmp_path / "c", "-data-dir", str(tmp_path / "c" / "data"), "-retry-join",
                             f"{loopback(68)}:{server.serf_lan_port}", "-retry-interval", "1s", dev=False,
                             name="off-cli", host=loopback(69), ports=ports)
        wait_until(lambda: len(server.get_json("/v1/catalog/nodes")) == 2, 20, what="the client joined")
        for method, path, body in REFUSED[:8]:
            assert client.request(method, path, body)[::2] == (500, NOT_ENABLED), path
    finally:
        if client is not None:
            client.stop()
        server.stop()
