"""/v1/operator/keyring on one encrypted -dev agent: bad input gets Consul's 4xx texts (never a
500), refusals their 500 texts, and a rotation on a lone agent works without a keyring file."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.agents import AgentProcess, start_agent

K1 = base64.b64encode(b"\x05" * 32).decode()
K2 = base64.b64encode(b"\x06" * 16).decode()


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    a = start_agent(tmp_path_factory.mktemp("keyring"), "-encrypt", K1)
    yield a
    a.stop()


def call(agent: AgentProcess, method: str, path: str, body: object = None) -> tuple[int, str]:
    status, _, raw = agent.request(method, path, body)
    return status, raw.decode()


@pytest.mark.parametrize(("method", "path", "body", "text"), [
    ("POST", "/v1/operator/keyring", None, "Request decode failed: EOF"),
    ("POST", "/v1/operator/keyring", b"{", "Request decode failed: "),
    ("PUT", "/v1/operator/keyring", [K2], "Request decode failed: json: cannot unmarshal"),
    ("PUT", "/v1/operator/keyring", {"Key": 7}, "Request decode failed: json: cannot unmarshal"),
    ("GET", "/v1/operator/keyring?relay-factor=6", None, "Error parsing relay-factor: Relay factor must be in range"),
    ("GET", "/v1/operator/keyring?relay-factor=x", None, "Error parsing relay-factor"),
    ("DELETE", "/v1/operator/keyring?local-only=true", {"Key": K2}, "local-only can only be set for list requests"),
])
def test_bad_input_is_a_400_with_consuls_text(agent: AgentProcess, method: str, path: str, body: object,
                                              text: str) -> None:
    status, got = call(agent, method, path, body)
    assert status == 400 and got.startswith(text), (status, got)


def test_refusals_and_a_rotation_on_a_lone_dev_agent(agent: AgentProcess, tmp_path: Path) -> None:
    status, text = call(agent, "POST", "/v1/operator/keyring", {"Key": "bm90IGEga2V5"})  # "not a key"
    assert status == 500 and "key size must be 16, 24 or 32 bytes" in text
    status, text = call(agent, "PUT", "/v1/operator/keyring", {"Key": K2})
    assert status == 500 and "agent: Requested key is not in the keyring" in text
    assert call(agent, "POST", "/v1/operator/keyring", {"Key": K2}) == (200, "")
    assert call(agent, "PUT", "/v1/operator/keyring", {"Key": K2}) == (200, "")
    assert call(agent, "DELETE", "/v1/operator/keyring", {"Key": K1}) == (200, "")
    pools = json.loads(call(agent, "GET", "/v1/operator/keyring")[1])
    assert [(p["WAN"], p["Keys"], p["PrimaryKeys"]) for p in pools] == [(True, {K2: 1}, {K2: 1}),
                                                                       (False, {K2: 1}, {K2: 1})]
    # local-only: this datacenter's LAN pool alone, as Consul answers it.
    pools = json.loads(call(agent, "GET", "/v1/operator/keyring?local-only=true")[1])
    assert [(p["WAN"], p["Keys"]) for p in pools] == [(False, {K2: 1})]
