"""/v1/config, /v1/discovery-chain, ?merge-central-config, the gateway endpoints and `pyconsul
config` on a real agent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.connect.test_mesh_catalog import mesh_host
from tests.support.agents import AgentProcess, start_agent


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Any:
    a = start_agent(tmp_path_factory.mktemp("entries"), host=mesh_host(3), name="entries")
    yield a
    a.stop()


def call(a: AgentProcess, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    status, _, text = a.request(method, path, body)
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text.decode()


def cli(a: AgentProcess, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONSUL_HTTP_ADDR": a.http_addr}
    return subprocess.run([sys.executable, "-m", "pyconsul", "config", *args], capture_output=True, text=True,
                          env=env, input=stdin, timeout=30)


def test_put_get_list_delete_with_cas(agent: AgentProcess) -> None:
    assert call(agent, "PUT", "/v1/config?cas=0", {"Kind": "service-defaults", "Name": "api",
                                                    "Protocol": "HTTP"}) == (200, True)
    assert call(agent, "PUT", "/v1/config?cas=0", {"Kind": "service-defaults", "Name": "api"}) == (200, False)
    status, entry = call(agent, "GET", "/v1/config/service-defaults/api")
    assert status == 200 and entry["Protocol"] == "http"  # Consul lower-cases it
    assert entry["MeshGateway"] == {} and entry["Expose"] == {} and entry["TransparentProxy"] == {}
    assert entry["CreateIndex"] == entry["ModifyIndex"] > 0
    # snake_case bodies decode too; a stale cas writes nothing.
    assert call(agent, "PUT", f"/v1/config?cas={entry['ModifyIndex'] - 1}",
                {"kind": "service-defaults", "name": "api", "protocol": "grpc"}) == (200, False)
    assert call(agent, "PUT", f"/v1/config?cas={entry['ModifyIndex']}",
                {"kind": "service-defaults", "name": "api", "protocol": "grpc"}) == (200, True)
    status, listed = call(agent, "GET", "/v1/config/service-defaults")
    assert status == 200 and [(e["Name"], e["Protocol"]) for e in listed if e["Name"] == "api"] == [("api", "grpc")]
    status, now = call(agent, "GET", "/v1/config/service-defaults/api")
    assert call(agent, "DELETE", "/v1/config/service-defaults/api?cas=1") == (200, False)
    assert call(agent, "DELETE", f"/v1/config/service-defaults/api?cas={now['ModifyIndex']}") == (200, True)
    assert call(agent, "GET", "/v1/config/service-defaults/api") == (
        404, 'Config entry not found for "service-defaults" / "api"')
    assert call(agent, "DELETE", "/v1/config/service-defaults/api") == (200, {})


@pytest.mark.parametrize(("body", "status", "text"), [
    ({"Name": "x"}, 400, "Bad request: Request decoding failed: Payload does not contain a kind/Kind key"),
    ({"Kind": "nope", "Name": "x"}, 400, "Bad request: Request decoding failed: invalid config entry kind: nope"),
    ({"Kind": "service-defaults", "Name": "x", "Connect": {}}, 400,
     'Bad request: Request decoding failed: 1 error occurred:\n\t* invalid config key "Connect"\n\n'),
    ({"Kind": "proxy-defaults", "Name": "web"}, 400, 'invalid name ("web"), only "global" is supported'),
    ({"Kind": "service-splitter", "Name": "x", "Splits": [{"Weight": 60}, {"Weight": 30, "ServiceSubset": "b"}]},
     400, "the sum of all split weights must be 100, not 90.000000"),
    ({"Kind": "service-router", "Name": "tcpsvc", "Routes": []}, 400,
     'discovery chain "tcpsvc" uses a protocol "tcp" that does not permit advanced routing or splitting behavior'),
    ({"Kind": "service-resolver", "Name": "x", "DefaultSubset": "v9"}, 400, 'DefaultSubset "v9" is not a valid subset'),
    ({"Kind": "service-resolver", "Name": "x", "Redirect": {"Service": "y"}, "Failover": {"*": {"Service": "z"}}},
     400, "Redirect and Failover cannot both be set"),
    ({"Kind": "ingress-gateway", "Name": "ig", "Listeners": [{"Port": 1, "Services": [{"Name": "a"}, {"Name": "b"}]}]},
     400, "multiple services per listener are only supported for protocol = 'http' (listener on port 1)"),
    ({"Kind": "service-intentions", "Name": "db", "Sources": [{"Name": "web", "Action": "maybe"}]}, 400,
     'Sources[0].Action must be set to "allow" or "deny"'),
])
def test_bad_entries_are_refused_with_consuls_text(agent: AgentProcess, body: Any, status: int, text: str) -> None:
    got_status, got = call(agent, "PUT", "/v1/config", body)
    assert got_status == status and str(got).startswith(text), got
    assert call(agent, "GET", "/v1/config/nope")[0] == 400


def test_intentions_entry_gets_precedence(agent: AgentProcess) -> None:
    body = {"Kind": "service-intentions", "Name": "db",
            "Sources": [{"Name": "web", "Action": "allow"}, {"Name": "*", "Action": "deny"}]}
    assert call(agent, "PUT", "/v1/config", body) == (200, True)
    _, entry = call(agent, "GET", "/v1/config/service-intentions/db")
    assert [(s["Name"], s["Precedence"], s["Type"]) for s in entry["Sources"]] == [("web", 9, "consul"),
                                                                                   ("*", 8, "consul")]


def test_blocking_get_wakes_on_write(agent: AgentProcess) -> None:
    call(agent, "PUT", "/v1/config", {"Kind": "service-defaults", "Name": "blk", "Protocol": "tcp"})
    _, headers, _ = agent.request("GET", "/v1/config/service-defaults/blk")
    index = int(headers["X-Consul-Index"])
    out: dict[str, Any] = {}

    def block() -> None:
        t0 = time.monotonic()
        status, h, body = agent.request("GET", f"/v1/config/service-defaults/blk?index={index}&wait=20s", timeout=30)
        out.update(elapsed=time.monotonic() - t0, entry=json.loads(body), index=int(h["X-Consul-Index"]))

    t = threading.Thread(target=block)
    t.start()
    time.sleep(0.3)  # a head start for the query; the assertions below check what it saw
    call(agent, "PUT", "/v1/config", {"Kind": "service-defaults", "Name": "blk", "Protocol": "http"})
    t.join(15)
    assert out["entry"]["Protocol"] == "http" and out["index"] > index and out["elapsed"] < 10


def test_discovery_chain_get_and_post(agent: AgentProcess) -> None:
    for body in ({"Kind": "service-defaults", "Name": "shop", "Protocol": "http"},
                 {"Kind": "service-resolver", "Name": "shop", "Subsets": {"v1": {}, "v2": {}}},
                 {"Kind": "service-splitter", "Name": "shop", "Splits": [{"Weight": 50, "ServiceSubset": "v1"},
                                                                         {"Weight": 50, "ServiceSubset": "v2"}]}):
        assert call(agent, "PUT", "/v1/config", body) == (200, True)
    status, body = call(agent, "GET", "/v1/discovery-chain/shop")
    chain = body["Chain"]
    assert status == 200 and chain["StartNode"] == "splitter:shop.default.default"
    assert sorted(chain["Targets"]) == ["v1.shop.default.default.dc1", "v2.shop.default.default.dc1"]
    status, body = call(agent, "POST", "/v1/discovery-chain/shop", {"OverrideConnectTimeout": "3s"})
    assert status == 200 and {t["ConnectTimeout"] for t in body["Chain"]["Targets"].values()} == {"3s"}
    assert call(agent, "GET", "/v1/discovery-chain/shop")[1]["Chain"]["Targets"]["v1.shop.default.default.dc1"][
        "ConnectTimeout"] == "5s"  # the override did not stick to the cached GET
    # The splitter needs HTTP: dropping the protocol is refused while it exists.
    status, text = call(agent, "DELETE", "/v1/config/service-defaults/shop")
    assert status == 400 and "does not permit advanced routing" in text


def test_merge_central_config(agent: AgentProcess) -> None:
    call(agent, "PUT", "/v1/config", {"Kind": "proxy-defaults", "Name": "global", "Config": {"handshake_timeout_ms": 5}})
    call(agent, "PUT", "/v1/config", {"Kind": "service-defaults", "Name": "pay", "Protocol": "http"})
    # its own entry for the upstream: another test of this module may have deleted shop's, or run elsewhere
    call(agent, "PUT", "/v1/config", {"Kind": "service-defaults", "Name": "shop", "Protocol": "http"})
    body = {"Node": "pn", "Address": "10.8.0.1", "Service": {
        "ID": "pay-proxy", "Service": "pay-proxy", "Kind": "connect-proxy", "Port": 21000,
        "Proxy": {"DestinationServiceName": "pay", "Config": {"handshake_timeout_ms": 9},
                  "Upstreams": [{"DestinationName": "shop", "LocalBindPort": 9000}]}}}
    assert agent.request("PUT", "/v1/catalog/register", body)[0] == 200
    plain = agent.get_json("/v1/health/service/pay-proxy")[0]["Service"]["Proxy"]
    assert plain["Config"] == {"handshake_timeout_ms": 9}
    merged = agent.get_json("/v1/health/service/pay-proxy?merge-central-config")[0]["Service"]["Proxy"]
    assert merged["Config"] == {"handshake_timeout_ms": 9, "protocol": "http"}  # the registration wins
    assert merged["Upstreams"][0]["Config"] == {"protocol": "http"}  # shop speaks http
    row = agent.get_json("/v1/catalog/service/pay-proxy?merge-central-config")[0]
    assert row["ServiceProxy"]["Config"]["protocol"] == "http"
    assert agent.get_json("/v1/health/connect/pay?merge-central-config")[0]["Service"]["Proxy"]["Config"][
        "protocol"] == "http"


def test_gateway_services_and_health_ingress(agent: AgentProcess) -> None:
    entry = {"Kind": "ingress-gateway", "Name": "edge",
             "Listeners": [{"Port": 8080, "Protocol": "http", "Services": [{"Name": "shop", "Hosts": ["shop.example"]}]},
                           {"Port": 9000, "Services": [{"Name": "pay"}]}]}
    assert call(agent, "PUT", "/v1/config", entry) == (200, True)
    body = {"Node": "gw", "Address": "10.8.0.9", "Service": {"ID": "edge", "Service": "edge",
                                                             "Kind": "ingress-gateway", "Port": 8443}}
    assert agent.request("PUT", "/v1/catalog/register", body)[0] == 200
    rows = agent.get_json("/v1/catalog/gateway-services/edge")
    assert [(r["Service"]["Name"], r["Port"], r["Protocol"], r["Hosts"]) for r in rows] == [
        ("shop", 8080, "http", ["shop.example"]), ("pay", 9000, "tcp", [])]
    assert all(r["Gateway"] == {"Name": "edge"} and r["GatewayKind"] == "ingress-gateway" for r in rows)
    assert [e["Service"]["ID"] for e in agent.get_json("/v1/health/ingress/pay")] == ["edge"]
    assert agent.get_json("/v1/health/ingress/other") == []
    term = {"Kind": "terminating-gateway", "Name": "out", "Services": [{"Name": "legacy", "CAFile": "/ca.pem"}]}
    assert call(agent, "PUT", "/v1/config", term) == (200, True)
    stored = agent.get_json("/v1/config/terminating-gateway/out")
    assert agent.get_json("/v1/catalog/gateway-services/out") == [
        {"Gateway": {"Name": "out"}, "Service": {"Name": "legacy"}, "GatewayKind": "terminating-gateway",
         "Port": 0, "Protocol": "", "Hosts": None, "CAFile": "/ca.pem", "CertFile": "", "KeyFile": "", "SNI": "",
         "FromWildcard": False, "CreateIndex": stored["CreateIndex"], "ModifyIndex": stored["ModifyIndex"]}]


def test_cli_write_read_list_delete(agent: AgentProcess, tmp_path: Path) -> None:
    hcl = tmp_path / "web.hcl"
    hcl.write_text('Kind = "service-defaults"\nName = "cliweb"\nProtocol = "http"\nMeta = {\n  owner = "a"\n}\n')
    out = cli(agent, "write", str(hcl))
    assert (out.returncode, out.stdout) == (0, "Config entry written: service-defaults/cliweb\n")
    out = cli(agent, "write", "-", stdin='{"kind": "service-resolver", "name": "cliweb", "connect_timeout": "15s"}')
    assert (out.returncode, out.stdout) == (0, "Config entry written: service-resolver/cliweb\n")
    out = cli(agent, "read", "-kind", "service-resolver", "-name", "cliweb")
    entry = json.loads(out.stdout)
    assert out.returncode == 0 and entry["ConnectTimeout"] == "15s"
    assert out.stdout.startswith('{\n    "Kind": "service-resolver",\n    "Name": "cliweb",')
    out = cli(agent, "write", "-cas", "-modify-index", "1", str(hcl))
    assert (out.returncode, out.stderr) == (1, "Config entry not updated: service-defaults/cliweb\n")
    out = cli(agent, "list", "-kind", "service-resolver")
    assert out.returncode == 0 and "cliweb" in out.stdout.splitlines()
    out = cli(agent, "delete", "-kind", "service-resolver", "-name", "cliweb")
    assert (out.returncode, out.stdout) == (0, "Config entry deleted: service-resolver/cliweb\n")
    out = cli(agent, "read", "-kind", "service-resolver", "-name", "cliweb")
    assert out.returncode == 1 and out.stderr == (
        "Error reading config entry service-resolver/cliweb: Unexpected response code: 404 "
        '(Config entry not found for "service-resolver" / "cliweb")\n')
    out = cli(agent, "read", "-kind", "service-defaults")
    assert (out.returncode, out.stderr) == (1, "Must specify the -name parameter\n")
    bad = tmp_path / "bad.hcl"
    bad.write_text('Kind = "service-splitter"\nName = "cliweb"\nSplits = [{ Weight = 10 }]\n')
    out = cli(agent, "write", str(bad))
    assert out.returncode == 1 and "Error writing config entry service-splitter/cliweb: Unexpected response code: 400" in out.stderr
