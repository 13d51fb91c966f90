"""The jwt auth method's pure core: Config checks, signature and claim checks at the edges of each
leeway (hypothesis, against go-sso's rules written as a small model), claim mappings with JSON
pointers, and the binder's selectors and bind names."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from pyconsul.acl import auth_methods as am
from pyconsul.acl import jwt_method as jm
from tests.support.jwt import pem, sign

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC = ec.generate_private_key(ec.SECP256R1())
NOW = 1_800_000_000


def _cfg(**extra: Any) -> jm.JWTConfig:
    return jm.parse_config({"JWTValidationPubKeys": [pem(KEY), pem(EC)], **extra})


@pytest.mark.parametrize("raw, text", [
    ({}, "exactly one of 'JWTValidationPubKeys', 'JWKSURL', or 'OIDCDiscoveryURL' must be set"),
    ({"JWTValidationPubKeys": ["x"], "OIDCClientID": "c"}, "'OIDCClientID' must not be set for type \"jwt\""),
    ({"JWTValidationPubKeys": ["x"]}, "error parsing public key JWTValidationPubKeys[0]"),
    ({"OIDCDiscoveryURL": "https://idp"}, "'OIDCDiscoveryURL' is not supported by this agent"),
    ({"JWTValidationPubKeys": [pem(KEY)], "JWTSupportedAlgs": ["HS256"]}, "Invalid supported algorithm: HS256"),
    ({"JWTValidationPubKeys": [pem(KEY)], "ClaimMappings": {"a": "x", "b": "x"}},
     'ClaimMappings contains multiple mappings for key "x"'),
    ({"JWTValidationPubKeys": [pem(KEY)], "ExpirationLeeway": "soon"}, "time: invalid duration"),
    ({"JWTValidationPubKeys": [pem(KEY)], "bogus": 1}, "has invalid keys: bogus"),
])
def test_config_refusals(raw: dict[str, Any], text: str) -> None:
    with pytest.raises(jm.ConfigError) as err:
        jm.parse_config(raw)
    assert text in str(err.value)


def test_keys_are_matched_case_insensitively_and_algs_limit() -> None:
    cfg = jm.parse_config({"jwtvalidationpubkeys": [pem(EC)], "JWTSupportedAlgs": ["ES256"]})
    assert jm.verify(cfg, sign(EC, {"iat": NOW}, "ES256"), NOW).values == {}
    only_rs = jm.parse_config({"JWTValidationPubKeys": [pem(KEY), pem(EC)], "JWTSupportedAlgs": ["RS256"]})
    with pytest.raises(jm.LoginError, match="no known key"):
        jm.verify(only_rs, sign(EC, {"iat": NOW}, "ES256"), NOW)


def _model_accepts(iat: int, nbf: int, exp: int, now: int, exp_leeway: int, nbf_leeway: int, skew: int) -> bool:
    """go-sso's claim times, written out plainly (0 = absent; -1 leeway = none, 0 = default)."""
    if not (iat or nbf or exp):
        return False
    lee = lambda v, d: 0 if v < 0 else (d if v == 0 else v)  # noqa: E731
    if not exp:
        exp = max(iat, nbf) + lee(exp_leeway, 150)
    if not nbf:
        nbf = iat if iat else exp - lee(nbf_leeway, 150)
    s = lee(skew, 60)
    return not (now + s < nbf or now - s > exp or (iat and now + s < iat))


_offset = st.one_of(st.just(None), st.integers(-400, 400))
_leeway = st.sampled_from([-1, 0, 10, 300])


@settings(max_examples=150, deadline=None)
@given(_offset, _offset, _offset, _leeway, _leeway, _leeway)
def test_claim_times_follow_go_sso(iat: int | None, nbf: int | None, exp: int | None,
                                   exp_lee: int, nbf_lee: int, skew: int) -> None:
    claims = {k: NOW + v for k, v in (("iat", iat), ("nbf", nbf), ("exp", exp)) if v is not None}
    cfg = _cfg(ExpirationLeeway=f"{exp_lee}s", NotBeforeLeeway=f"{nbf_lee}s", ClockSkewLeeway=f"{skew}s")
    want = _model_accepts(claims.get("iat", 0), claims.get("nbf", 0), claims.get("exp", 0), NOW,
                          exp_lee, nbf_lee, skew)
    try:
        jm.verify(cfg, sign(KEY, claims), NOW)
        got = True
    except jm.LoginError:
        got = False
    assert got == want


def test_claim_mappings_with_pointers_and_lists() -> None:
    cfg = _cfg(ClaimMappings={"sub": "name", "/org/team": "team", "admin": "admin", "n": "n"},
               ListClaimMappings={"groups": "groups", "/org/roles": "roles"})
    token = sign(KEY, {"iat": NOW, "sub": "Web", "org": {"team": "pay", "roles": "lead"}, "admin": True, "n": 3.9,
                       "groups": ["a", 2, ""]})
    who = jm.verify(cfg, token, NOW)
    assert who.values == {"name": "Web", "team": "pay", "admin": "true", "n": "3"}
    assert who.lists == {"groups": ["a", "2"], "roles": ["lead"]}
    with pytest.raises(jm.LoginError, match="error converting claim 'sub' to string"):
        jm.verify(cfg, sign(KEY, {"iat": NOW, "sub": {"x": 1}}), NOW)


def test_issuer_audience_and_malformed_tokens() -> None:
    cfg = _cfg(BoundIssuer="iss", BoundAudiences=["a", "b"])
    assert jm.verify(cfg, sign(KEY, {"iat": NOW, "iss": "iss", "aud": ["x", "b"]}), NOW)
    for claims, text in (({"iss": "other", "aud": "a"}, "invalid issuer claim (iss)"),
                         ({"iss": "iss"}, "aud claim does not match any bound audience")):
        with pytest.raises(jm.LoginError, match=text.replace("(", r"\(").replace(")", r"\)")):
            jm.verify(cfg, sign(KEY, {"iat": NOW, **claims}), NOW)
    with pytest.raises(jm.LoginError, match="audience claim found in JWT but no audiences are bound"):
        jm.verify(_cfg(), sign(KEY, {"iat": NOW, "aud": "a"}), NOW)
    for bad in ("", "a.b", "a.b.c", None, 7):
        with pytest.raises(jm.LoginError):
            jm.verify(cfg, bad, NOW)
    forged = sign(KEY, {"iat": NOW, "iss": "iss", "aud": "a"}).rsplit(".", 1)[0] + ".AAAA"
    with pytest.raises(jm.LoginError, match="no known key"):
        jm.verify(cfg, forged, NOW)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="abcXYZ019-_", min_size=1, max_size=20))
def test_bind_names_are_lowercased_values_or_refused(value: str) -> None:
    who = jm.VerifiedIdentity({"name": value}, {})
    rules = [{"BindType": "service", "BindName": "svc-${value.name}", "Selector": ""}]
    name = f"svc-{value}"
    if not am._IDENTITY_NAME.match(name.lower()):  # Consul checks the lowercased name first
        with pytest.raises(am.MethodError, match="invalid bind name"):
            am.bind(rules, who, "dc1")
        return
    if name != name.lower():
        with pytest.raises(am.MethodError, match="uppercase"):
            am.bind(rules, who, "dc1")
        return
    assert am.bind(rules, who, "dc1").service_identities == [{"ServiceName": name}]


def test_selectors_pick_rules() -> None:
    who = jm.VerifiedIdentity({"name": "web", "team": "pay"}, {"groups": ["ops", "dev"]})
    rules = [
        {"BindType": "node", "BindName": "${value.name}", "Selector": '"ops" in list.groups'},
        {"BindType": "role", "BindName": "r-${value.team}", "Selector": 'value.team == "other"'},
        {"BindType": "policy", "BindName": "p-${value.team}", "Selector": 'value.name matches "^w"'},
        {"BindType": "templated-policy", "BindName": "builtin/service", "BindVars": {"Name": "${value.name}"},
         "Selector": ""},
        {"BindType": "service", "BindName": "x", "Selector": "this is not bexpr"},
    ]
    got = am.bind(rules, who, "dc9")
    assert got.node_identities == [{"NodeName": "web", "Datacenter": "dc9"}]
    assert got.role_names == [] and got.policy_names == ["p-pay"] and got.service_identities == []
    assert got.templated_policies == [{"TemplateName": "builtin/service", "TemplateVariables": {"Name": "web"}}]
