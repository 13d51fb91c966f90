"""pyregistrator against a default-deny agent: a registration the token may not write is one
error line naming the permission, and it is not retried until something changes."""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Iterator

import pytest

from pyregistrator.consul_client import ConsulAgentClient, parse_registry_uri
from pyregistrator.events import StreamConnected
from pyregistrator.mapping import MappingConfig
from pyregistrator.reconciler import Reconciler, ReconcilerOptions
from tests.pyregistrator.fakes import MemoryEngine
from tests.support.agents import AgentProcess, start_agent

ROOT = "9d2c-registrator-root"
MAPPING = MappingConfig("vm", host_ip="127.0.0.1")


def _put(agent: AgentProcess, path: str, body: object) -> dict[str, object]:
    req = urllib.request.Request(agent.base_url + path, data=json.dumps(body).encode(), method="PUT",
                                 headers={"X-Consul-Token": ROOT})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def acl_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    work = tmp_path_factory.mktemp("reg-acl")
    conf = work / "acl.hcl"
    conf.write_text(f'acl {{\n enabled = true\n default_policy = "deny"\n tokens {{ initial_management = "{ROOT}" }}\n}}\n')
    agent = start_agent(work, f"-config-file={conf}", name="reg-acl")
    yield agent
    agent.stop()


async def test_a_refused_registration_is_one_line_naming_the_permission(
        acl_agent: AgentProcess, caplog: pytest.LogCaptureFixture) -> None:
    _put(acl_agent, "/v1/acl/policy", {"Name": "api-only", "Rules": 'service "api" { policy = "write" }'})
    token = str(_put(acl_agent, "/v1/acl/token", {"Policies": [{"Name": "api-only"}]})["SecretID"])
    client = ConsulAgentClient(parse_registry_uri(f"consul://{acl_agent.http_addr}"), token=token)
    engine = MemoryEngine()
    rec = Reconciler(engine, client, MAPPING, ReconcilerOptions())
    try:
        engine.create_and_start("c1", "api", {"80/tcp": "8080"}, ["SERVICE_NAME=api"])
        engine.create_and_start("c2", "web", {"80/tcp": "8081"}, ["SERVICE_NAME=web"])
        rec.notice(StreamConnected(1))
        with caplog.at_level(logging.INFO, logger="pyregistrator"):
            await rec.step()
            for _ in range(3):  # later passes do not try the refused one again
                await rec.step()
        held = await ConsulAgentClient(parse_registry_uri(f"consul://{acl_agent.http_addr}"), token=ROOT).services()
        assert {s["Service"] for s in held.values()} == {"api"}
        refused = [r.getMessage() for r in caplog.records if "vm:web:80" in r.getMessage()]
        assert len(refused) == 1, refused
        assert "HTTP 403" in refused[0] and "lacks permission 'service:write' on \"web\"" in refused[0]
    finally:
        await client.close()


async def test_an_unknown_token_is_said_once_while_it_keeps_trying(
        acl_agent: AgentProcess, caplog: pytest.LogCaptureFixture) -> None:
    client = ConsulAgentClient(parse_registry_uri(f"consul://{acl_agent.http_addr}"), token="not-a-secret")
    engine = MemoryEngine()
    rec = Reconciler(engine, client, MAPPING, ReconcilerOptions())
    try:
        engine.create_and_start("c1", "api", {"80/tcp": "8080"}, ["SERVICE_NAME=api"])
        rec.notice(StreamConnected(1))
        with caplog.at_level(logging.INFO, logger="pyregistrator"):
            for _ in range(3):
                await rec.step()
        said = [r.getMessage() for r in caplog.records if "cannot read the agent's services" in r.getMessage()]
        assert said == ["cannot read the agent's services: HTTP 403: ACL not found; check -token/CONSUL_HTTP_TOKEN"]
    finally:
        await client.close()
