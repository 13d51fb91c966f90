"""The tls {} stanza and the deprecated top-level keys resolved per interface (pure rules)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyconsul.tls.settings import DEPRECATED, INTERFACES, TLSSettingsError, resolve

_BLOCK_KEYS = ("ca_file", "cert_file", "key_file", "verify_incoming", "verify_outgoing")
_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "ca_file": st.sampled_from(["/a.pem", "/b.pem"]),
    "cert_file": st.sampled_from(["/c1.pem", "/c2.pem"]),
    "key_file": st.sampled_from(["/k1.pem", "/k2.pem"]),
    "verify_incoming": st.booleans(),
    "verify_outgoing": st.booleans(),
}


def _blocks() -> st.SearchStrategy[dict[str, Any]]:
    block = st.fixed_dictionaries({}, optional={k: _VALUES[k] for k in _BLOCK_KEYS})
    return st.fixed_dictionaries({}, optional={name: block for name in ("defaults", *INTERFACES)})


_OLD = st.fixed_dictionaries({}, optional={
    "ca_file": _VALUES["ca_file"], "cert_file": _VALUES["cert_file"], "key_file": _VALUES["key_file"],
    "verify_incoming": st.booleans(), "verify_outgoing": st.booleans(), "verify_incoming_rpc": st.booleans(),
    "verify_incoming_https": st.booleans(), "verify_server_hostname": st.booleans(),
})


@given(tls=_blocks(), old=_OLD)
def test_interface_key_beats_defaults_beats_the_old_key(tls: dict[str, Any], old: dict[str, Any]) -> None:
    got = resolve({**old, "tls": tls})
    for name in INTERFACES:
        iface = getattr(got, name)
        own, defaults = tls.get(name, {}), tls.get("defaults", {})
        for key in ("ca_file", "cert_file", "key_file"):
            want = own.get(key, defaults.get(key, old.get(key, "")))
            assert getattr(iface, key) == want, (name, key)
        # verify_incoming: the interface's own key, then the interface's old key, then defaults.
        specific = {"internal_rpc": "verify_incoming_rpc", "https": "verify_incoming_https"}.get(name)
        if "verify_incoming" in own:
            want_in = own["verify_incoming"]
        elif specific and specific in old:
            want_in = old[specific]
        elif name == "grpc" and "verify_incoming" in old:
            want_in = False  # the old key never reached gRPC
        else:
            want_in = defaults.get("verify_incoming", old.get("verify_incoming", False))
        assert iface.verify_incoming == want_in, name


@given(tls=_blocks(), old=_OLD)
def test_verify_server_hostname_implies_verify_outgoing_on_internal_rpc_only(
        tls: dict[str, Any], old: dict[str, Any]) -> None:
    got = resolve({**old, "tls": tls})
    if got.internal_rpc.verify_server_hostname:
        assert got.internal_rpc.verify_outgoing
    assert not got.https.verify_server_hostname and not got.grpc.verify_server_hostname
    assert not got.grpc.verify_outgoing  # gRPC takes no verify_outgoing


@given(old=_OLD)
def test_every_old_key_given_warns_once_naming_its_new_key(old: dict[str, Any]) -> None:
    warnings = resolve(old).warnings
    assert len(warnings) == len(old)
    for key in old:
        block, new = DEPRECATED[key]
        assert f"The '{key}' field is deprecated. Use the 'tls.{block}.{new}' field instead." in warnings


def test_nothing_set_means_no_tls_and_tls12() -> None:
    got = resolve({})
    assert not got.rpc_tls
    for name in INTERFACES:
        iface = getattr(got, name)
        assert iface.min_version == "TLSv1_2"
        assert not (iface.verify_incoming or iface.verify_outgoing or iface.has_ca or iface.has_cert)
    assert got.warnings == ()


def test_seed_001_server_keys() -> None:
    got = resolve({"verify_incoming": True, "verify_outgoing": True, "verify_server_hostname": True,
                   "ca_file": "/ca.pem", "cert_file": "/s.pem", "key_file": "/s-key.pem"})
    rpc = got.internal_rpc
    assert (rpc.verify_incoming, rpc.verify_outgoing, rpc.verify_server_hostname) == (True, True, True)
    assert (rpc.ca_file, rpc.cert_file, rpc.key_file) == ("/ca.pem", "/s.pem", "/s-key.pem")
    assert got.https.verify_incoming and got.https.cert_file == "/s.pem"
    assert not got.grpc.verify_incoming
    assert got.rpc_tls


def test_old_min_version_spelling_is_accepted_with_its_warning_only_at_top_level() -> None:
    got = resolve({"tls_min_version": "tls13"})
    assert got.https.min_version == got.internal_rpc.min_version == "TLSv1_3"
    assert "'tls_min_version' value 'tls13' is deprecated, please specify 'TLSv1_3' instead" in got.warnings
    with pytest.raises(TLSSettingsError, match="tls.https.tls_min_version: TLS version 'tls13' is not supported"):
        resolve({"tls": {"https": {"tls_min_version": "tls13"}}})


def test_prefer_server_cipher_suites_is_ignored_with_a_warning() -> None:
    assert resolve({"tls_prefer_server_cipher_suites": True}).warnings == (
        "The 'tls_prefer_server_cipher_suites' field is deprecated and will be ignored.",)


@given(names=st.lists(st.sampled_from([
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305"]), min_size=1, unique=True))
def test_cipher_suites_keep_the_operators_order(names: list[str]) -> None:
    got = resolve({"tls": {"defaults": {"tls_cipher_suites": ", ".join(names)}}})
    assert got.https.cipher_suites == tuple(names)


def test_unknown_cipher_suite_is_an_error_naming_the_key() -> None:
    with pytest.raises(TLSSettingsError, match="tls.internal_rpc.tls_cipher_suites: unsupported cipher suite 'RC4'"):
        resolve({"tls": {"internal_rpc": {"tls_cipher_suites": "RC4"}}})
