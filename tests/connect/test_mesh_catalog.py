"""The mesh catalog on a real agent: sidecar registrations from the seed's config files and the
agent API, /v1/health/connect, /v1/catalog/connect and `<svc>.connect.consul` answered by dig."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.agents import AgentProcess, start_agent
from tests.support.ports import loopback
from tests.support.wait import wait_until

# The seed's two files, verbatim.
SOCAT_JSON = {"service": {"name": "socat", "port": 8181, "connect": {"sidecar_service": {}}}}
WEB_JSON = {"service": {"name": "web", "port": 8080, "connect": {"sidecar_service": {"proxy": {"upstreams": [
    {"destination_name": "socat", "local_bind_port": 9191}]}}}}}


def mesh_host(n: int) -> str:
    """This worker's own loopback address, in the block the mesh tests use."""
    return loopback(n).replace("127.77.", "127.79.", 1)


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Any:
    work = tmp_path_factory.mktemp("mesh")
    conf = work / "consul.d"
    conf.mkdir()
    (conf / "socat.json").write_text(json.dumps(SOCAT_JSON))
    a = start_agent(work, "-config-dir", str(conf), host=mesh_host(1), name="mesh")
    a.conf_dir = conf  # type: ignore[attr-defined]
    yield a
    a.stop()


def services(a: AgentProcess) -> dict[str, Any]:
    return a.get_json("/v1/agent/services")


def put(a: AgentProcess, path: str, body: Any) -> tuple[int, bytes]:
    status, _, text = a.request("PUT", path, body)
    return status, text


def test_seed_socat_file_registers_its_sidecar(agent: AgentProcess) -> None:
    side = services(agent)["socat-sidecar-proxy"]
    assert side["Kind"] == "connect-proxy" and side["Service"] == "socat-sidecar-proxy"
    assert 21000 <= side["Port"] <= 21255
    assert side["Proxy"]["DestinationServiceName"] == "socat"
    assert side["Proxy"]["DestinationServiceID"] == "socat"
    assert side["Proxy"]["LocalServiceAddress"] == "127.0.0.1" and side["Proxy"]["LocalServicePort"] == 8181
    checks = {c["CheckID"]: c for c in agent.get_json("/v1/agent/checks").values()}
    listening = checks["service:socat-sidecar-proxy:1"]
    assert listening["Name"] == "Connect Sidecar Listening" and listening["Type"] == "tcp"
    assert listening["Interval"] == "10s"
    alias = checks["service:socat-sidecar-proxy:2"]
    assert alias["Name"] == "Connect Sidecar Aliasing socat" and alias["Type"] == "alias"
    # The catalog has it too, listed by the parent's name in the mesh view.
    rows = agent.get_json("/v1/catalog/connect/socat")
    assert [(r["ServiceID"], r["ServiceKind"], r["ServicePort"]) for r in rows] == [
        ("socat-sidecar-proxy", "connect-proxy", side["Port"])]
    assert agent.get_json("/v1/catalog/service/socat")[0]["ServiceConnect"] == {}


def test_reload_adds_web_with_upstreams_and_keeps_ports(agent: AgentProcess) -> None:
    before = services(agent)["socat-sidecar-proxy"]["Port"]
    (agent.conf_dir / "web.json").write_text(json.dumps(WEB_JSON))  # type: ignore[attr-defined]
    assert put(agent, "/v1/agent/reload", None)[0] == 200
    wait_until(lambda: "web-sidecar-proxy" in services(agent), what="web's sidecar after reload")
    now = services(agent)
    assert now["socat-sidecar-proxy"]["Port"] == before  # reloading never moves a sidecar
    web_side = now["web-sidecar-proxy"]
    assert web_side["Port"] != before and 21000 <= web_side["Port"] <= 21255
    assert web_side["Proxy"]["Upstreams"] == [{"DestinationType": "service", "DestinationName": "socat",
                                               "Datacenter": "", "LocalBindPort": 9191, "MeshGateway": {}}]
    health = agent.get_json("/v1/health/connect/web")
    assert [e["Service"]["ID"] for e in health] == ["web-sidecar-proxy"]
    assert {c["CheckID"] for c in health[0]["Checks"]} >= {"serfHealth", "service:web-sidecar-proxy:1",
                                                            "service:web-sidecar-proxy:2"}


def test_api_registration_and_deregistration_with_parent(agent: AgentProcess) -> None:
    body = {"Name": "api", "ID": "api-1", "Port": 7000,
            "Connect": {"SidecarService": {"Port": 27000, "Proxy": {"Upstreams": [
                {"DestinationName": "web", "LocalBindPort": 9292}]}}}}
    assert put(agent, "/v1/agent/service/register", body) == (200, b"")
    side = services(agent)["api-1-sidecar-proxy"]
    assert side["Port"] == 27000 and side["Service"] == "api-sidecar-proxy"
    assert side["Proxy"]["DestinationServiceID"] == "api-1"
    assert [r["ServiceID"] for r in agent.get_json("/v1/catalog/connect/api")] == ["api-1-sidecar-proxy"]
    assert put(agent, "/v1/agent/service/deregister/api-1", None)[0] == 200
    assert "api-1-sidecar-proxy" not in services(agent)
    assert agent.get_json("/v1/catalog/connect/api") == []


def test_bad_registrations_are_400_with_consuls_text(agent: AgentProcess) -> None:
    status, text = put(agent, "/v1/agent/service/register",
                       {"Name": "x", "Port": 1, "Connect": {"SidecarService": {"ID": "mine"}}})
    assert status == 400 and text.decode().startswith("Validation failed: 1 error occurred:\n\t* A SidecarService "
                                                      "cannot specify an ID")
    status, text = put(agent, "/v1/agent/service/register", {"Name": "p", "Kind": "connect-proxy", "Port": 5})
    assert status == 400 and b"Proxy.DestinationServiceName must be non-empty for Connect proxy services" in text
    status, text = put(agent, "/v1/agent/service/register",
                       {"Name": "p", "Kind": "connect-proxy", "Port": 5, "Proxy": {"LocalServicePort": "eighty"}})
    assert status == 400 and text.startswith(b"Request decode failed")
    assert "p" not in services(agent) and "x" not in services(agent)


def test_sidecar_range_exhausted(tmp_path: Path) -> None:
    conf = tmp_path / "c.json"
    conf.write_text(json.dumps({"ports": {"sidecar_min_port": 25001, "sidecar_max_port": 25001}}))
    a = start_agent(tmp_path, "-config-file", str(conf), host=mesh_host(2), name="narrow")
    try:
        assert put(a, "/v1/agent/service/register",
                   {"Name": "a", "Port": 1, "Connect": {"SidecarService": {}}})[0] == 200
        assert services(a)["a-sidecar-proxy"]["Port"] == 25001
        status, text = put(a, "/v1/agent/service/register",
                           {"Name": "b", "Port": 2, "Connect": {"SidecarService": {}}})
        assert status == 400
        assert text == (b"Invalid SidecarService: no port provided for sidecar_service and none left in the "
                        b"configured range [25001, 25001]")
        assert "b" not in services(a)
    finally:
        a.stop()


def register_proxy(a: AgentProcess, node: str, addr: str, sid: str, dest: str, port: int,
                   status: str = "passing") -> None:
    body = {"Node": node, "Address": addr,
            "Service": {"ID": sid, "Service": dest + "-proxy", "Kind": "connect-proxy", "Port": port,
                        "Proxy": {"DestinationServiceName": dest}},
            "Check": {"CheckID": "c-" + sid, "Name": "up", "Status": status, "ServiceID": sid}}
    status_, _, text = a.request("PUT", "/v1/catalog/register", body)
    assert status_ == 200, text


def dig(a: AgentProcess, *args: str) -> list[str]:
    out = subprocess.run(["dig", f"@{a.host}", "-p", str(a.dns_port), "+time=2", "+tries=2", "+short", *args],
                         capture_output=True, text=True, timeout=20).stdout
    return sorted(out.split("\n")[:-1])


def test_dns_connect_answers_healthy_proxies_and_native_instances(agent: AgentProcess) -> None:
    register_proxy(agent, "mesh-n1", "10.9.0.1", "db-proxy-1", "db", 21010)
    register_proxy(agent, "mesh-n2", "10.9.0.2", "db-proxy-2", "db", 21011)
    register_proxy(agent, "mesh-n3", "10.9.0.3", "db-proxy-3", "db", 21012, status="critical")
    # The plain service itself is not an answer for .connect; a native instance is.
    for node, addr, native in (("mesh-n1", "10.9.0.1", False), ("mesh-n4", "10.9.0.4", True)):
        body = {"Node": node, "Address": addr, "Service": {"ID": "db", "Service": "db", "Port": 5432,
                                                           "Connect": {"Native": native}}}
        assert agent.request("PUT", "/v1/catalog/register", body)[0] == 200
    assert dig(agent, "SRV", "db.connect.consul") == [
        "1 1 21010 mesh-n1.node.dc1.consul.", "1 1 21011 mesh-n2.node.dc1.consul.",
        "1 1 5432 mesh-n4.node.dc1.consul."]
    assert dig(agent, "db.connect.consul") == ["10.9.0.1", "10.9.0.2", "10.9.0.4"]
    assert dig(agent, "db.service.consul") == ["10.9.0.1", "10.9.0.4"]
    nx = subprocess.run(["dig", f"@{agent.host}", "-p", str(agent.dns_port), "nothing.connect.consul"],
                        capture_output=True, text=True, timeout=20).stdout
    assert "status: NXDOMAIN" in nx
    passing = agent.get_json("/v1/health/connect/db?passing")
    assert sorted(e["Service"]["ID"] for e in passing) == ["db", "db-proxy-1", "db-proxy-2"]
    assert len(agent.get_json("/v1/health/connect/db")) == 4


def test_blocking_connect_query_wakes_for_its_proxies_only(agent: AgentProcess) -> None:
    status, headers, _ = agent.request("GET", "/v1/health/connect/cache")
    index = int(headers["X-Consul-Index"])
    result: dict[str, Any] = {}

    def block() -> None:
        t0 = time.monotonic()
        s, h, body = agent.request("GET", f"/v1/health/connect/cache?index={index}&wait=20s", timeout=30)
        result.update(elapsed=time.monotonic() - t0, index=int(h["X-Consul-Index"]), rows=json.loads(body))

    waiter = threading.Thread(target=block)
    waiter.start()
    time.sleep(0.3)  # let the query block (a head start, not synchronisation: the answer is checked)
    register_proxy(agent, "mesh-n5", "10.9.0.5", "unrelated-proxy", "other", 21020)
    time.sleep(0.3)
    assert waiter.is_alive(), "a proxy for another service woke the query"
    register_proxy(agent, "mesh-n5", "10.9.0.5", "cache-proxy", "cache", 21021)
    waiter.join(15)
    assert not waiter.is_alive()
    assert result["index"] > index and [e["Service"]["ID"] for e in result["rows"]] == ["cache-proxy"]
    # Repointing the proxy elsewhere removes it from cache's view and adds it to the new one's.
    body = {"Node": "mesh-n5", "Address": "10.9.0.5", "Service": {
        "ID": "cache-proxy", "Service": "cache-proxy", "Kind": "connect-proxy", "Port": 21021,
        "Proxy": {"DestinationServiceName": "cache2"}}}
    assert agent.request("PUT", "/v1/catalog/register", body)[0] == 200
    assert agent.get_json("/v1/health/connect/cache") == []
    assert [e["Service"]["ID"] for e in agent.get_json("/v1/health/connect/cache2")] == ["cache-proxy"]
