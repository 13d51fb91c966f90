"""Auth methods, binding rules, login and logout on a real default-deny agent: a `jwt` method with
static keys, JWTs signed here (RS256 and ES256), the token a login makes enforced on the next
request, and py-consul's own methods against the agent."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import consul
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.support.agents import AgentProcess, start_agent
from tests.support.jwt import pem, sign
from tests.support.wait import wait_until

ROOT = "5f1c9a3e-2b7d-4e8f-9a6c-1d2e3f4a5b6c"


RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def call(agent: AgentProcess, method: str, path: str, token: str | None = None, body: object = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(agent.base_url + path, data=data, method=method)
    if token:
        req.add_header("X-Consul-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    work = tmp_path_factory.mktemp("acl-auth")
    conf = work / "acl.hcl"
    conf.write_text(f'acl {{\n enabled = true\n default_policy = "deny"\n tokens {{ initial_management = "{ROOT}" }}\n}}\n')
    proc = start_agent(work, f"-config-file={conf}", name="acl-auth")
    # the leader writes the initial-management token into the state just after it leads
    wait_until(lambda: call(proc, "GET", "/v1/acl/token/self", ROOT)[0] == 200, timeout=20)
    yield proc
    proc.stop()


def _config(**extra: Any) -> dict[str, Any]:
    return {"JWTValidationPubKeys": [pem(RSA_KEY), pem(EC_KEY)], "BoundIssuer": "https://issuer.test",
            "BoundAudiences": ["consul"], "ClaimMappings": {"sub": "name", "/org/team": "team"},
            "ListClaimMappings": {"groups": "groups"}, **extra}


def _claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": "https://issuer.test", "aud": "consul", "sub": "web", "iat": now, "exp": now + 300,
            "org": {"team": "payments"}, "groups": ["admins", "dev"], **extra}


def test_method_validation_texts(agent: AgentProcess) -> None:
    status, body = call(agent, "PUT", "/v1/acl/auth-method", ROOT, {"Name": "k8s", "Type": "kubernetes", "Config": {}})
    assert status == 400 and body.startswith("Invalid Auth Method: Type should be one of: [jwt]"), body
    status, body = call(agent, "PUT", "/v1/acl/auth-method", ROOT, {"Name": "bad name", "Type": "jwt"})
    assert (status, body) == (400, "Invalid Auth Method: invalid Name. Only alphanumeric characters, '-' and '_' are allowed")
    status, body = call(agent, "PUT", "/v1/acl/auth-method", ROOT, {"Name": "j", "Type": "jwt", "Config": {}})
    assert status == 400 and "exactly one of 'JWTValidationPubKeys', 'JWKSURL', or 'OIDCDiscoveryURL'" in body
    status, body = call(agent, "PUT", "/v1/acl/auth-method", ROOT,
                        {"Name": "j", "Type": "jwt", "Config": {"JWKSURL": "https://example.test/keys"}})
    assert status == 400 and "'JWKSURL' is not supported" in body, body
    status, body = call(agent, "PUT", "/v1/acl/auth-method", ROOT,
                        {"Name": "j", "Type": "jwt", "Config": {"JWTValidationPubKeys": ["nope"]}})
    assert status == 400 and "error parsing public key JWTValidationPubKeys[0]" in body
    status, body = call(agent, "PUT", "/v1/acl/auth-method", ROOT,
                        {"Name": "j", "Type": "jwt", "Config": {**_config(), "Unknown": 1}})
    assert status == 400 and "has invalid keys: Unknown" in body
    status, body = call(agent, "PUT", "/v1/acl/auth-method", ROOT,
                        {"Name": "j", "Type": "jwt", "MaxTokenTTL": "48h", "Config": _config()})
    assert (status, body) == (400, "MaxTokenTTL 48h0m0s cannot be more than 24h0m0s")
    assert call(agent, "GET", "/v1/acl/auth-method/nothing", ROOT)[0] == 404
    assert call(agent, "PUT", "/v1/acl/auth-method", None, {"Name": "j", "Type": "jwt", "Config": _config()})[0] == 403


def test_login_with_binding_rules(agent: AgentProcess) -> None:
    cli = consul.Consul(host=agent.host, port=agent.http_port, token=ROOT)
    method = cli.acl.auth_method.create("issuer", "jwt", config=_config(), max_token_ttl="10m",
                                        description="test issuer")
    assert method["Name"] == "issuer" and method["MaxTokenTTL"] == "10m0s" and method["Type"] == "jwt"
    assert [m["Name"] for m in cli.acl.auth_method.list()] == ["issuer"]
    assert "Config" not in cli.acl.auth_method.list()[0]
    cli.acl.policy.create(name="team-payments", rules={"key_prefix": {"payments/": {"policy": "read"}}})

    status, body = call(agent, "PUT", "/v1/acl/binding-rule", ROOT,
                        {"AuthMethod": "issuer", "BindType": "service", "BindName": "${value.missing}"})
    assert status == 400 and "unknown variable accessed: value.missing" in body, body
    status, body = call(agent, "PUT", "/v1/acl/binding-rule", ROOT,
                        {"AuthMethod": "issuer", "BindType": "service", "BindName": "x", "Selector": "nope ==="})
    assert status == 400 and body.startswith("invalid Binding Rule: Selector is invalid: "), body
    status, body = call(agent, "PUT", "/v1/acl/binding-rule", ROOT,
                        {"AuthMethod": "issuer", "BindType": "bogus", "BindName": "x"})
    assert (status, body) == (400, 'Invalid Binding Rule: unknown BindType "bogus"')
    status, body = call(agent, "PUT", "/v1/acl/binding-rule", ROOT,
                        {"AuthMethod": "nope", "BindType": "service", "BindName": "x"})
    assert (status, body) == (400, 'cannot find auth method with name "nope"')

    svc = cli.acl.binding_rule.create("issuer", "service", "${value.name}", selector='"admins" in list.groups')
    pol = cli.acl.binding_rule.create("issuer", "policy", "team-${value.team}")
    never = cli.acl.binding_rule.create("issuer", "node", "n-${value.name}", selector='value.team == "other"')
    assert svc["Selector"] == '"admins" in list.groups' and svc["BindName"] == "${value.name}"
    assert {r["ID"] for r in cli.acl.binding_rule.list(auth_method="issuer")} == {svc["ID"], pol["ID"], never["ID"]}

    # a stale token on the request does not get in the way of a login (Consul ignores it)
    status, _ = call(agent, "POST", "/v1/acl/login", "5f1c9a3e-1111-4e8f-9a6c-1d2e3f4a5b6c",
                     {"AuthMethod": "issuer", "BearerToken": sign(RSA_KEY, _claims())})
    assert status == 200
    token = cli.acl.login("issuer", sign(EC_KEY, _claims(), "ES256"), meta={"pod": "p1"})
    assert token["AuthMethod"] == "issuer" and token["Local"] is True
    assert token["ServiceIdentities"] == [{"ServiceName": "web"}]
    assert [p["Name"] for p in token["Policies"]] == ["team-payments"]
    assert "NodeIdentities" not in token
    assert token["Description"] == 'token created via login: {"pod":"p1"}'
    assert "ExpirationTime" in token
    secret = token["SecretID"]

    # the login's token works as its bindings say, and no further
    assert call(agent, "PUT", "/v1/kv/payments/a", ROOT, {"v": 1})[0] == 200
    assert call(agent, "GET", "/v1/kv/payments/a", secret)[0] == 200
    assert call(agent, "GET", "/v1/kv/other", secret)[0] == 403
    assert call(agent, "PUT", "/v1/agent/service/register", secret, {"Name": "web", "Port": 80})[0] == 200
    assert call(agent, "PUT", "/v1/agent/service/register", secret, {"Name": "db", "Port": 80})[0] == 403
    assert token["AccessorID"] in [t["AccessorID"] for t in cli.acl.token.list(authmethod="issuer")]
    status, body = call(agent, "PUT", f"/v1/acl/token/{token['AccessorID']}/clone", ROOT, {})
    assert (status, body) == (400, "Cannot clone a token created from an auth method")

    # logout deletes only a login's token
    assert call(agent, "POST", "/v1/acl/logout", ROOT) == (403, "Permission denied")
    assert call(agent, "POST", "/v1/acl/logout", "5f1c9a3e-0000-4e8f-9a6c-1d2e3f4a5b6c") == (403, "ACL not found")
    assert cli.acl.logout(secret) is True
    assert call(agent, "GET", "/v1/kv/payments/a", secret) == (403, "ACL not found")


@pytest.mark.parametrize("claims, key, text", [
    ({"iss": "https://elsewhere"}, RSA_KEY, "invalid issuer claim (iss)"),
    ({"aud": "other"}, RSA_KEY, "aud claim does not match any bound audience"),
    ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, RSA_KEY, "token is expired (exp)"),
    ({"nbf": int(time.time()) + 3600}, RSA_KEY, "token not valid yet (nbf)"),
    ({}, OTHER_KEY, "no known key successfully validated the token signature"),
])
def test_login_refusals(agent: AgentProcess, claims: dict[str, Any], key: Any, text: str) -> None:
    cli = consul.Consul(host=agent.host, port=agent.http_port, token=ROOT)
    if cli.acl.auth_method.read("strict") is None:
        cli.acl.auth_method.create("strict", "jwt", config=_config())
        cli.acl.binding_rule.create("strict", "service", "${value.name}")
    status, body = call(agent, "POST", "/v1/acl/login", None,
                        {"AuthMethod": "strict", "BearerToken": sign(key, _claims(**claims))})
    assert status == 403 and text in body, body


def test_login_without_bindings_and_method_delete(agent: AgentProcess) -> None:
    cli = consul.Consul(host=agent.host, port=agent.http_port, token=ROOT)
    cli.acl.auth_method.create("bare", "jwt", config=_config(), token_locality="global")
    jwt = sign(RSA_KEY, _claims())
    assert call(agent, "POST", "/v1/acl/login", None, {"AuthMethod": "bare", "BearerToken": jwt}) == (403, "Permission denied")
    assert call(agent, "POST", "/v1/acl/login", None, {"AuthMethod": "none", "BearerToken": jwt}) == (
        403, 'ACL not found: auth method "none" not found')
    rule = cli.acl.binding_rule.create("bare", "templated-policy", "builtin/service", bind_vars={"Name": "${value.name}"})
    assert rule["BindVars"] == {"Name": "${value.name}"}
    token = cli.acl.login("bare", jwt)
    assert token["Local"] is False
    assert token["TemplatedPolicies"] == [{"TemplateName": "builtin/service", "TemplateVariables": {"Name": "web"}}]
    assert call(agent, "PUT", "/v1/agent/service/register", token["SecretID"], {"Name": "web", "Port": 81})[0] == 200
    # deleting the method takes its rules and its logins' tokens with it
    assert cli.acl.auth_method.delete("bare") is True
    assert cli.acl.binding_rule.read(rule["ID"]) is None
    assert call(agent, "GET", "/v1/acl/token/self", token["SecretID"]) == (403, "ACL not found")
    assert cli.acl.auth_method.delete("bare") is True


def test_update_keeps_immutable_fields(agent: AgentProcess) -> None:
    cli = consul.Consul(host=agent.host, port=agent.http_port, token=ROOT)
    cli.acl.auth_method.create("upd", "jwt", config=_config())
    updated = cli.acl.auth_method.update("upd", "jwt", description="second", config=_config())
    assert updated["Description"] == "second" and updated["CreateIndex"] < updated["ModifyIndex"]
    status, body = call(agent, "PUT", "/v1/acl/auth-method/upd", ROOT, {"Type": "oidc", "Config": {}})
    assert (status, body) == (400, "the Type field of an Auth Method is immutable")
    rule = cli.acl.binding_rule.create("upd", "role", "r-${value.name}")
    again = cli.acl.binding_rule.update(rule["ID"], "upd", "node", "${value.name}", description="d")
    assert again["BindType"] == "node" and again["Description"] == "d"
    status, body = call(agent, "PUT", f"/v1/acl/binding-rule/{rule['ID']}", ROOT,
                        {"AuthMethod": "strict", "BindType": "node", "BindName": "x"})
    assert (status, body) == (400, "the AuthMethod field of an Binding Rule is immutable")
    assert cli.acl.binding_rule.delete(rule["ID"]) is True
    assert cli.acl.binding_rule.read(rule["ID"]) is None
