"""The agent's DNS token is read at each query: `/v1/agent/token/dns` (and `default` as the
fallback) and a config reload change what dig gets, with no restart."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path

from tests.support.agents import AgentProcess, start_agent
from tests.support.wait import wait_until

ROOT = "9d5a1e7c-6f4b-4c2d-9e0a-5b6c7d8e9f0a"


def _put(agent: AgentProcess, path: str, body: object) -> dict:
    req = urllib.request.Request(agent.base_url + path, data=json.dumps(body).encode(), method="PUT")
    req.add_header("X-Consul-Token", ROOT)
    with urllib.request.urlopen(req, timeout=10) as resp:
        raw = resp.read()
        return json.loads(raw) if raw else {}


def _dig(agent: AgentProcess) -> str:
    out = subprocess.run(["dig", f"@{agent.host}", "-p", str(agent.dns_port), "+time=2", "+tries=2",
                          "consul.service.consul", "A"], capture_output=True, text=True, timeout=20)
    return out.stdout


def _answers(agent: AgentProcess) -> bool:
    out = _dig(agent)
    return "status: NOERROR" in out and "ANSWER: 1" in out


def _refused(agent: AgentProcess) -> bool:
    return "status: NXDOMAIN" in _dig(agent)


def _config(path: Path, dns: str = "") -> None:
    tokens = f'initial_management = "{ROOT}"' + (f' dns = "{dns}"' if dns else "")
    path.write_text(f'acl {{\n enabled = true\n default_policy = "deny"\n tokens {{ {tokens} }}\n}}\n')


def test_dns_token_changes_take_effect_without_restart(tmp_path: Path) -> None:
    conf = tmp_path / "acl.hcl"
    _config(conf)
    agent = start_agent(tmp_path, f"-config-file={conf}", name="acl-dns")
    try:
        dns_reader = _put(agent, "/v1/acl/token", {"TemplatedPolicies": [{"TemplateName": "builtin/dns"}]})["SecretID"]
        other = _put(agent, "/v1/acl/token", {"TemplatedPolicies": [{"TemplateName": "builtin/dns"}]})["SecretID"]
        assert _refused(agent)  # anonymous under default deny: nothing
        _put(agent, "/v1/agent/token/dns", {"Token": dns_reader})
        assert _answers(agent)
        _put(agent, "/v1/agent/token/dns", {"Token": ""})
        assert _refused(agent)
        _put(agent, "/v1/agent/token/default", {"Token": dns_reader})  # the fallback
        assert _answers(agent)
        _put(agent, "/v1/agent/token/default", {"Token": ""})
        assert _refused(agent)

        # a reload that names a dns token
        _config(conf, dns=other)
        _put(agent, "/v1/agent/reload", {})
        wait_until(lambda: _answers(agent), timeout=10, what="DNS answers with the reloaded token")
        # the token's rights going away is seen by the next query
        accessor = json.loads(urllib.request.urlopen(urllib.request.Request(
            agent.base_url + "/v1/acl/token/self", headers={"X-Consul-Token": other}), timeout=10).read())["AccessorID"]
        req = urllib.request.Request(agent.base_url + f"/v1/acl/token/{accessor}", method="DELETE")
        req.add_header("X-Consul-Token", ROOT)
        urllib.request.urlopen(req, timeout=10).read()
        assert _refused(agent)
    finally:
        agent.stop()
