"""One typed TLS setting per interface, resolved from the `tls {}` stanza and the old keys.

Consul 1.12 moved the top-level TLS keys into `tls { defaults, internal_rpc, https, grpc }`.
The rules kept here (Consul's agent/config/deprecated.go and builder):
- a deprecated top-level key fills its new key only when the new key is unset, and warns
  `The '<old>' field is deprecated. Use the '<new>' field instead.`;
- the old `verify_incoming` also sets `tls.grpc.verify_incoming = false` when that is unset
  (gRPC never checked client certificates before 1.12);
- an interface's own key wins over `tls.defaults`; unset everywhere, verify_* are false and the
  minimum version is TLSv1_2;
- `verify_server_hostname` (internal RPC only) implies `verify_outgoing` (the PR #5069 bug: a
  hostname check that never runs because nothing dials with TLS);
- `tls_min_version` takes `TLSv1_0..TLSv1_3` and `TLS_AUTO`; the old `tls10..tls13` spellings
  only in the deprecated top-level key, with their own warning.

`resolve` is pure: the merged canonical config dict in (None or missing means unset), the
settings and the warnings out; bad values raise TLSSettingsError with the text the agent prints.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class TLSSettingsError(ValueError):
    pass


INTERFACES = ("internal_rpc", "https", "grpc")
_FILE_KEYS = ("ca_file", "ca_path", "cert_file", "key_file")
# Which keys each interface block takes (Consul's docs: grpc has no verify_outgoing, only
# internal_rpc has verify_server_hostname).
_KEYS: dict[str, tuple[str, ...]] = {
    "defaults": (*_FILE_KEYS, "tls_min_version", "tls_cipher_suites", "verify_incoming", "verify_outgoing"),
    "internal_rpc": (*_FILE_KEYS, "tls_min_version", "tls_cipher_suites", "verify_incoming", "verify_outgoing",
                     "verify_server_hostname"),
    "https": (*_FILE_KEYS, "tls_min_version", "tls_cipher_suites", "verify_incoming", "verify_outgoing"),
    "grpc": (*_FILE_KEYS, "tls_min_version", "tls_cipher_suites", "verify_incoming", "use_auto_cert"),
}

# The deprecated top-level keys and the (block, key) each one fills.
DEPRECATED: dict[str, tuple[str, str]] = {
    "ca_file": ("defaults", "ca_file"),
    "ca_path": ("defaults", "ca_path"),
    "cert_file": ("defaults", "cert_file"),
    "key_file": ("defaults", "key_file"),
    "tls_cipher_suites": ("defaults", "tls_cipher_suites"),
    "tls_min_version": ("defaults", "tls_min_version"),
    "verify_incoming": ("defaults", "verify_incoming"),
    "verify_incoming_https": ("https", "verify_incoming"),
    "verify_incoming_rpc": ("internal_rpc", "verify_incoming"),
    "verify_outgoing": ("defaults", "verify_outgoing"),
    "verify_server_hostname": ("internal_rpc", "verify_server_hostname"),
}

TLS_VERSIONS = ("TLS_AUTO", "TLSv1_0", "TLSv1_1", "TLSv1_2", "TLSv1_3")
_OLD_VERSIONS = {"tls10": "TLSv1_0", "tls11": "TLSv1_1", "tls12": "TLSv1_2", "tls13": "TLSv1_3"}
DEFAULT_MIN_VERSION = "TLSv1_2"

# Go's cipher suite names (what Consul's config takes) to OpenSSL's (what ssl.set_ciphers takes).
# TLS 1.3 suites are not configurable in either.
CIPHER_SUITES: dict[str, str] = {
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256": "ECDHE-ECDSA-AES128-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256": "ECDHE-RSA-AES128-SHA256",
}


@dataclass(frozen=True)
class InterfaceTLS:
    """What one interface (internal_rpc, https, grpc) does with TLS once every rule applied."""

    ca_file: str = ""
    ca_path: str = ""
    cert_file: str = ""
    key_file: str = ""
    min_version: str = DEFAULT_MIN_VERSION
    cipher_suites: tuple[str, ...] = ()  # Go names, in the operator's order; () = the library's
    verify_incoming: bool = False
    verify_outgoing: bool = False
    verify_server_hostname: bool = False
    use_auto_cert: bool = False

    @property
    def has_ca(self) -> bool:
        return bool(self.ca_file or self.ca_path)

    @property
    def has_cert(self) -> bool:
        return bool(self.cert_file and self.key_file)


@dataclass(frozen=True)
class TLSSettings:
    internal_rpc: InterfaceTLS = field(default_factory=InterfaceTLS)
    https: InterfaceTLS = field(default_factory=InterfaceTLS)
    grpc: InterfaceTLS = field(default_factory=InterfaceTLS)
    server_name: str = ""
    enable_agent_tls_for_checks: bool = False
    warnings: tuple[str, ...] = ()

    @property
    def rpc_tls(self) -> bool:
        """Consul: without verify_incoming or verify_outgoing TLS is not enabled on the server
        port at all, whatever files are set."""
        return self.internal_rpc.verify_incoming or self.internal_rpc.verify_outgoing


def _block(conf: Mapping[str, Any], name: str) -> dict[str, Any]:
    tls = conf.get("tls") or {}
    block = tls.get(name) if isinstance(tls, Mapping) else None
    return {k: v for k, v in (block or {}).items() if v is not None} if isinstance(block, Mapping) else {}


def _min_version(value: str, where: str, old_key: bool, warnings: list[str]) -> str:
    if old_key and value in _OLD_VERSIONS:
        new = _OLD_VERSIONS[value]
        warnings.append(f"'tls_min_version' value '{value}' is deprecated, please specify '{new}' instead")
        return new
    if value not in TLS_VERSIONS:
        raise TLSSettingsError(
            f"{where}: TLS version {value!r} is not supported; use one of {', '.join(TLS_VERSIONS)}")
    return value


def _cipher_suites(value: str, where: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    for n in names:
        if n not in CIPHER_SUITES:
            raise TLSSettingsError(f"{where}: unsupported cipher suite {n!r}")
    return names


def resolve(conf: Mapping[str, Any]) -> TLSSettings:
    """The per-interface TLS settings of merged config `conf` (see the module's rules)."""
    warnings: list[str] = []
    blocks = {name: _block(conf, name) for name in ("defaults", *INTERFACES)}
    old_min_version = False
    for old, (block, key) in DEPRECATED.items():
        value = conf.get(old)
        if value is None:
            continue
        warnings.append(f"The '{old}' field is deprecated. Use the 'tls.{block}.{key}' field instead.")
        if key not in blocks[block]:
            blocks[block][key] = value
            old_min_version = old_min_version or old == "tls_min_version"
        if old == "verify_incoming":
            blocks["grpc"].setdefault("verify_incoming", False)
    if conf.get("tls_prefer_server_cipher_suites") is not None:
        warnings.append("The 'tls_prefer_server_cipher_suites' field is deprecated and will be ignored.")

    defaults = blocks["defaults"]
    resolved: dict[str, InterfaceTLS] = {}
    for name in INTERFACES:
        own = blocks[name]

        def pick(key: str, default: Any, own: dict[str, Any] = own, name: str = name) -> Any:
            if key not in _KEYS[name]:
                return default
            if key in own:
                return own[key]
            return defaults.get(key, default)

        version_where = f"tls.{name}.tls_min_version" if "tls_min_version" in own else "tls.defaults.tls_min_version"
        min_version = _min_version(
            str(pick("tls_min_version", DEFAULT_MIN_VERSION)), version_where,
            old_min_version and "tls_min_version" not in own, warnings)
        suites_where = f"tls.{name}.tls_cipher_suites" if "tls_cipher_suites" in own else "tls.defaults.tls_cipher_suites"
        verify_server_hostname = bool(pick("verify_server_hostname", False))
        resolved[name] = InterfaceTLS(
            ca_file=str(pick("ca_file", "")),
            ca_path=str(pick("ca_path", "")),
            cert_file=str(pick("cert_file", "")),
            key_file=str(pick("key_file", "")),
            min_version=min_version,
            cipher_suites=_cipher_suites(str(pick("tls_cipher_suites", "")), suites_where),
            verify_incoming=bool(pick("verify_incoming", False)),
            verify_outgoing=bool(pick("verify_outgoing", False)) or verify_server_hostname,
            verify_server_hostname=verify_server_hostname,
            use_auto_cert=bool(pick("use_auto_cert", False)),
        )
    # One warning per distinct text: the min-version spelling warns once even though three
    # interfaces inherit it.
    return TLSSettings(
        internal_rpc=resolved["internal_rpc"],
        https=resolved["https"],
        grpc=resolved["grpc"],
        server_name=str(conf.get("server_name") or ""),
        enable_agent_tls_for_checks=bool(conf.get("enable_agent_tls_for_checks") or False),
        warnings=tuple(dict.fromkeys(warnings)),
    )
