"""The `jwt` auth method: a method's Config checked as Consul checks it, and a bearer JWT verified
against static public keys into the claims binding rules select on.

Pure: the time comes from the caller. Only `JWTValidationPubKeys` is served; `JWKSURL` and
`OIDCDiscoveryURL` need a network fetch this agent does not do, so a config naming them is
refused (400) rather than accepted and ignored. Unknown Config keys are refused as Consul's
decoder refuses them. `JWTSupportedAlgs`, when set, limits the accepted `alg`s.

Claim checks follow go-sso/go-jose: a token needs at least one of iat/nbf/exp; a missing exp
is latest-start + ExpirationLeeway (default 150s, -1 = none), a missing nbf is iat or
exp - NotBeforeLeeway; ClockSkewLeeway (default 60s, -1 = none) applies to nbf/exp/iat;
BoundIssuer must equal iss; BoundAudiences must meet aud, and an aud with no bound audiences
is refused.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509 import load_pem_x509_certificate

from pyconsul.gocompat.durations import parse_duration

# Config keys as Consul's struct names them (matched case-insensitively, as mapstructure does).
_KEYS = ("JWTValidationPubKeys", "JWKSURL", "JWKSCACert", "OIDCDiscoveryURL", "OIDCDiscoveryCACert",
         "JWTSupportedAlgs", "BoundAudiences", "BoundIssuer", "ClaimMappings", "ListClaimMappings",
         "ExpirationLeeway", "NotBeforeLeeway", "ClockSkewLeeway",
         "OIDCClientID", "OIDCClientSecret", "OIDCScopes", "OIDCACRValues", "AllowedRedirectURIs",
         "VerboseOIDCLogging")
_OIDC_ONLY = ("OIDCClientID", "OIDCClientSecret", "OIDCScopes", "OIDCACRValues", "AllowedRedirectURIs",
              "VerboseOIDCLogging")
_HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
ALGS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA")
DEFAULT_LEEWAY = 150.0
DEFAULT_CLOCK_SKEW = 60.0


class ConfigError(ValueError):
    """The method's Config is not valid; the API answers 400 `Invalid Auth Method: <text>`."""


class LoginError(ValueError):
    """The bearer token is not accepted; the text says why (go-sso's wording)."""


@dataclass(frozen=True)
class JWTConfig:
    keys: tuple[Any, ...]
    algs: tuple[str, ...] = ()
    bound_issuer: str = ""
    bound_audiences: tuple[str, ...] = ()
    claim_mappings: dict[str, str] = field(default_factory=dict)
    list_claim_mappings: dict[str, str] = field(default_factory=dict)
    expiration_leeway: float = 0.0
    not_before_leeway: float = 0.0
    clock_skew_leeway: float = 0.0


@dataclass(frozen=True)
class VerifiedIdentity:
    """What binding rules see: `value.<k>` (ClaimMappings) and `list.<k>` (ListClaimMappings)."""

    values: dict[str, str]
    lists: dict[str, list[str]]

    def selectable(self) -> dict[str, Any]:
        return {"value": dict(self.values), "list": {k: list(v) for k, v in self.lists.items()}}

    def projected(self) -> dict[str, str]:
        return {f"value.{k}": v for k, v in self.values.items()}


def blank_identity(cfg: JWTConfig) -> VerifiedIdentity:
    """Every mapped name with an empty value: what rule validation checks selectors against."""
    return VerifiedIdentity({k: "" for k in cfg.claim_mappings.values()},
                            {k: [] for k in cfg.list_claim_mappings.values()})


def parse_public_key(pem: str) -> Any:
    data = pem.encode() if isinstance(pem, str) else b""
    try:
        key: Any = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        try:
            key = load_pem_x509_certificate(data).public_key()
        except (ValueError, TypeError):
            key = None
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        raise ConfigError("data does not contain any valid RSA, ECDSA, or ED25519 public keys")
    return key


def _strings(value: Any, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)  # mapstructure's weak decoding takes a lone string as a list of one
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(f"1 error(s) decoding:\n\n* '{key}' expected a list of strings")


def _mapping(value: Any, key: str) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return {str(k): v for k, v in value.items()}
    raise ConfigError(f"1 error(s) decoding:\n\n* '{key}' expected a map of strings")


def _duration(value: Any, key: str) -> float:
    if value is None or value == "":
        return 0.0
    try:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, int | float):
            return float(value) / 1e9  # a Go client sends nanoseconds
        return parse_duration(str(value))
    except ValueError:
        raise ConfigError(f"1 error(s) decoding:\n\n* error decoding '{key}': time: invalid duration "
                          f'"{value}"') from None


def parse_config(raw: Any) -> JWTConfig:
    """Check a jwt method's Config; raises ConfigError with Consul's text."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("1 error(s) decoding:\n\n* '' expected a map, got '" + type(raw).__name__ + "'")
    canon = {k.lower(): k for k in _KEYS}
    unknown = sorted(str(k) for k in raw if str(k).lower() not in canon)
    if unknown:
        raise ConfigError(f"1 error(s) decoding:\n\n* '' has invalid keys: {', '.join(unknown)}")
    cfg = {canon[str(k).lower()]: v for k, v in raw.items()}
    for key in _OIDC_ONLY:
        if cfg.get(key):
            raise ConfigError(f"'{key}' must not be set for type \"jwt\"")
    pubkeys = _strings(cfg.get("JWTValidationPubKeys"), "JWTValidationPubKeys")
    sources = sum(1 for present in (pubkeys, cfg.get("JWKSURL"), cfg.get("OIDCDiscoveryURL")) if present)
    if sources != 1:
        raise ConfigError("exactly one of 'JWTValidationPubKeys', 'JWKSURL', or 'OIDCDiscoveryURL' must be set "
                          'for type "jwt"')
    for key in ("JWKSURL", "OIDCDiscoveryURL"):
        if cfg.get(key):
            raise ConfigError(f"'{key}' is not supported by this agent (no remote key fetching); "
                              "give the keys in 'JWTValidationPubKeys'")
    for key in ("JWKSCACert", "OIDCDiscoveryCACert"):
        if cfg.get(key):
            raise ConfigError(f"'{key}' should not be set unless '{key[:-6]}URL' is set")
    keys = []
    for i, pem in enumerate(pubkeys):
        try:
            keys.append(parse_public_key(pem))
        except ConfigError as exc:
            raise ConfigError(f"error parsing public key JWTValidationPubKeys[{i}]: {exc}") from None
    algs = _strings(cfg.get("JWTSupportedAlgs"), "JWTSupportedAlgs")
    for alg in algs:
        if alg not in ALGS:
            raise ConfigError(f"Invalid supported algorithm: {alg}")
    claims = _mapping(cfg.get("ClaimMappings"), "ClaimMappings")
    lists = _mapping(cfg.get("ListClaimMappings"), "ListClaimMappings")
    for what, mapping in (("ClaimMappings", claims), ("ListClaimMappings", lists)):
        seen: set[str] = set()
        for target in mapping.values():
            if target in seen:
                raise ConfigError(f'{what} contains multiple mappings for key "{target}"')
            seen.add(target)
    issuer = cfg.get("BoundIssuer") or ""
    if not isinstance(issuer, str):
        raise ConfigError("1 error(s) decoding:\n\n* 'BoundIssuer' expected type 'string'")
    return JWTConfig(tuple(keys), algs, issuer, _strings(cfg.get("BoundAudiences"), "BoundAudiences"),
                     claims, lists, _duration(cfg.get("ExpirationLeeway"), "ExpirationLeeway"),
                     _duration(cfg.get("NotBeforeLeeway"), "NotBeforeLeeway"),
                     _duration(cfg.get("ClockSkewLeeway"), "ClockSkewLeeway"))


# -- verification --------------------------------------------------------------------------------
def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _verify_with(key: Any, alg: str, signed: bytes, sig: bytes) -> bool:
    try:
        if alg == "EdDSA" and isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(sig, signed)
            return True
        digest = _HASHES.get(alg[2:])
        if digest is None:
            return False
        if alg.startswith("RS") and isinstance(key, rsa.RSAPublicKey):
            key.verify(sig, signed, padding.PKCS1v15(), digest())
            return True
        if alg.startswith("PS") and isinstance(key, rsa.RSAPublicKey):
            key.verify(sig, signed, padding.PSS(padding.MGF1(digest()), digest.digest_size), digest())
            return True
        if alg.startswith("ES") and isinstance(key, ec.EllipticCurvePublicKey):
            half = len(sig) // 2
            if len(sig) % 2 or half == 0:
                return False
            der = encode_dss_signature(int.from_bytes(sig[:half], "big"), int.from_bytes(sig[half:], "big"))
            key.verify(der, signed, ec.ECDSA(digest()))
            return True
    except InvalidSignature:
        return False
    return False


def _decode(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    parts = token.split(".")
    if len(parts) != 3:
        raise LoginError("error parsing token: go-jose/go-jose: compact JWS format must have three parts")
    try:
        header = json.loads(_b64(parts[0]))
        claims = json.loads(_b64(parts[1]))
        sig = _b64(parts[2])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise LoginError("error parsing token: illegal base64 data or invalid JSON") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise LoginError("error parsing token: go-jose/go-jose: invalid JWS header or claims")
    return header, claims, f"{parts[0]}.{parts[1]}".encode(), sig


def _numeric(claims: dict[str, Any], name: str) -> float:
    v = claims.get(name)
    if v is None:
        return 0.0
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise LoginError(f"failed to unmarshal claims: json: cannot unmarshal {type(v).__name__} into "
                         f"Go struct field Claims.{name} of type jwt.NumericDate")
    return float(int(v))


def _leeway(configured: float, default: float) -> float:
    return 0.0 if configured < 0 else (default if configured == 0 else configured)


def _check_times(cfg: JWTConfig, claims: dict[str, Any], now: float) -> None:
    iat, exp, nbf = _numeric(claims, "iat"), _numeric(claims, "exp"), _numeric(claims, "nbf")
    if iat == 0 and exp == 0 and nbf == 0:
        raise LoginError("no issue time, notbefore, or expiration time encoded in token")
    if exp == 0:
        exp = max(iat, nbf) + _leeway(cfg.expiration_leeway, DEFAULT_LEEWAY)
    if nbf == 0:
        nbf = iat if iat else exp - _leeway(cfg.not_before_leeway, DEFAULT_LEEWAY)
    skew = _leeway(cfg.clock_skew_leeway, DEFAULT_CLOCK_SKEW)
    if cfg.bound_issuer and claims.get("iss") != cfg.bound_issuer:
        raise LoginError("error validating claims: go-jose/go-jose/jwt: validation failed, invalid issuer claim (iss)")
    if now + skew < nbf:
        raise LoginError("error validating claims: go-jose/go-jose/jwt: validation failed, token not valid yet (nbf)")
    if now - skew > exp:
        raise LoginError("error validating claims: go-jose/go-jose/jwt: validation failed, token is expired (exp)")
    if iat and now + skew < iat:
        raise LoginError("error validating claims: go-jose/go-jose/jwt: validation field, token issued in the "
                         "future (iat)")


def _audiences(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud")
    if aud is None:
        return []
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list) and all(isinstance(a, str) for a in aud):
        return list(aud)
    raise LoginError("failed to unmarshal claims: go-jose/go-jose/jwt: expected string or array value "
                     "to unmarshal to Audience")


def _stringify(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(int(value))  # Go truncates numbers to an integer
    return None


def _claim(claims: dict[str, Any], source: str) -> Any:
    if not source.startswith("/"):
        return claims.get(source)
    node: Any = claims
    for raw in source[1:].split("/"):  # a JSON pointer
        step = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            node = node.get(step)
        elif isinstance(node, list) and step.isdigit() and int(step) < len(node):
            node = node[int(step)]
        else:
            return None
        if node is None:
            return None
    return node


def _mapped(cfg: JWTConfig, claims: dict[str, Any]) -> VerifiedIdentity:
    values: dict[str, str] = {k: "" for k in cfg.claim_mappings.values()}
    for source, target in cfg.claim_mappings.items():
        raw = _claim(claims, source)
        if raw is None:
            continue
        text = _stringify(raw)
        if text is None:
            raise LoginError(f"error converting claim '{source}' to string from unknown type "
                             f"{_go_type(raw)}")
        values[target] = text
    lists: dict[str, list[str]] = {k: [] for k in cfg.list_claim_mappings.values()}
    for source, target in cfg.list_claim_mappings.items():
        raw = _claim(claims, source)
        if raw is None:
            continue
        items = raw if isinstance(raw, list) else [raw]
        if isinstance(raw, dict):
            raise LoginError(f'"{source}" list claim could not be converted to string list')
        out = []
        for item in items:
            text = _stringify(item)
            if text is None:
                raise LoginError(f'value {item} in "{source}" list claim could not be parsed as string')
            if text:
                out.append(text)
        lists[target] = out
    return VerifiedIdentity(values, lists)


def _go_type(v: Any) -> str:
    return "map[string]interface {}" if isinstance(v, dict) else "[]interface {}" if isinstance(v, list) else "<nil>"


def verify(cfg: JWTConfig, token: Any, now: float) -> VerifiedIdentity:
    """Verify a bearer JWT (signature, times, issuer, audience) and map its claims."""
    if not isinstance(token, str) or not token:
        raise LoginError("missing jwt")
    header, claims, signed, sig = _decode(token.strip())
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ALGS or (cfg.algs and alg not in cfg.algs):
        raise LoginError("no known key successfully validated the token signature")
    if not any(_verify_with(key, alg, signed, sig) for key in cfg.keys):
        raise LoginError("no known key successfully validated the token signature")
    _check_times(cfg, claims, now)
    audiences = _audiences(claims)
    if not cfg.bound_audiences and audiences:
        raise LoginError("error validating claims: audience claim found in JWT but no audiences are bound")
    if cfg.bound_audiences and not set(cfg.bound_audiences) & set(audiences):
        raise LoginError("error validating claims: aud claim does not match any bound audience")
    return _mapped(cfg, claims)
