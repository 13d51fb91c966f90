"""Client settings: Consul's precedence (defaults < environment < flags), one rule set for all
three programs."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyconsul.client.errors import ConfigError
from pyconsul.client.settings import (
    ClientOverrides,
    ClientSettings,
    consul_template_settings_from_env,
    registrator_settings,
    resolve_token,
    settings_from_env,
)
from pyregistrator.consul_client import parse_registry_uri
from pytemplate.command import build_config, parse_args

PLAIN = ("datacenter", "ca_file", "ca_path", "cert_file", "key_file", "tls_server_name", "http_auth")

layers = st.lists(st.fixed_dictionaries({}, optional={name: st.sampled_from(["a", "b", "c"]) for name in PLAIN}),
                  max_size=4)


@given(layers)
def test_the_last_layer_that_says_wins(stack: list[dict[str, str]]) -> None:
    settings = ClientSettings()
    for layer in stack:
        settings = settings.with_overrides(ClientOverrides(**layer))
    for name in PLAIN:
        said = [layer[name] for layer in stack if name in layer]
        assert getattr(settings, name) == (said[-1] if said else "")


@pytest.mark.parametrize(("env", "layer", "scheme", "address"), [
    ({}, ClientOverrides(), "http", "127.0.0.1:8500"),
    ({"CONSUL_HTTP_ADDR": "https://h:1"}, ClientOverrides(), "https", "h:1"),
    ({"CONSUL_HTTP_SSL": "true"}, ClientOverrides(address="http://h:2"), "https", "h:2"),  # never downgraded
    ({"CONSUL_HTTP_SSL": "false"}, ClientOverrides(address="h:3"), "http", "h:3"),
    ({"CONSUL_HTTP_SSL": "true"}, ClientOverrides(use_tls=False), "http", "127.0.0.1:8500"),
    ({"CONSUL_HTTP_ADDR": "https://h:4"}, ClientOverrides(use_tls=False), "https", "h:4"),  # the address says https
    ({"CONSUL_HTTP_ADDR": "https://h:5"}, ClientOverrides(address="unix:///run/c.sock"), "unix", "/run/c.sock"),
    ({"CONSUL_HTTP_ADDR": "unix:///run/c.sock"}, ClientOverrides(address="h:6"), "http", "h:6"),
])
def test_scheme_and_address(env: dict[str, str], layer: ClientOverrides, scheme: str, address: str) -> None:
    settings = settings_from_env(env).with_overrides(layer)
    assert (settings.scheme, settings.address) == (scheme, address)


def test_tls_verify_and_bad_booleans() -> None:
    assert settings_from_env({"CONSUL_HTTP_SSL_VERIFY": "0"}).insecure_skip_verify is True
    assert settings_from_env({"CONSUL_HTTP_SSL_VERIFY": "true"}).insecure_skip_verify is False
    odd = settings_from_env({"CONSUL_HTTP_SSL_VERIFY": "nope", "CONSUL_HTTP_SSL": "yes"})
    assert odd.insecure_skip_verify is False and odd.scheme == "http"
    assert odd.warnings == ("[WARN] client: could not parse CONSUL_HTTP_SSL: yes",
                            "[WARN] client: could not parse CONSUL_HTTP_SSL_VERIFY: nope")


def test_empty_variables_are_unset() -> None:
    assert settings_from_env({"CONSUL_HTTP_ADDR": "", "CONSUL_HTTP_TOKEN": ""}) == ClientSettings()


def test_namespace_and_auth_from_env() -> None:
    settings = settings_from_env({"CONSUL_NAMESPACE": "team", "CONSUL_HTTP_AUTH": "u:p"})
    assert (settings.namespace, settings.http_auth) == ("team", "u:p")


def test_a_later_token_file_replaces_an_earlier_token(tmp_path: Path) -> None:
    token_file = tmp_path / "t"
    token_file.write_text("from-file\n")
    env = {"CONSUL_HTTP_TOKEN": "from-env"}
    assert resolve_token(settings_from_env(env).with_overrides(ClientOverrides(token_file=str(token_file)))) == "from-file"
    back = settings_from_env({"CONSUL_HTTP_TOKEN_FILE": str(token_file)}).with_overrides(ClientOverrides(token="flag"))
    assert (back.token, back.token_file, resolve_token(back)) == ("flag", "", "flag")


def test_unreadable_token_file_reads_like_consul(tmp_path: Path) -> None:
    missing = tmp_path / "none"
    with pytest.raises(ConfigError, match=f"^Error loading token file: open {missing}: no such file or directory$"):
        resolve_token(ClientSettings(token_file=str(missing)))


def test_unknown_scheme_in_any_layer() -> None:
    with pytest.raises(ConfigError, match="^Unknown protocol scheme: tcp$"):
        ClientSettings().with_overrides(ClientOverrides(address="tcp://h:1"))


def test_consul_template_reads_its_older_token_variable() -> None:
    assert consul_template_settings_from_env({"CONSUL_TOKEN": "old"}).token == "old"
    assert consul_template_settings_from_env({"CONSUL_TOKEN": "old", "CONSUL_HTTP_TOKEN": "new"}).token == "new"


def test_pytemplate_flags_over_environment(tmp_path: Path) -> None:
    src = tmp_path / "in.ctmpl"
    src.write_text("x")
    tpl = f"{src}:{tmp_path}/out"
    env = {"CONSUL_HTTP_SSL": "true", "CONSUL_HTTP_ADDR": "127.0.0.5:8501", "CONSUL_CACERT": "/env-ca.pem",
           "CONSUL_HTTP_TOKEN": "env-token"}
    cfg = build_config(parse_args(["-template", tpl]), environ=env)
    client = cfg.consul.client
    assert (client.scheme, client.address, client.ca_file, client.token) == ("https", "127.0.0.5:8501",
                                                                           "/env-ca.pem", "env-token")
    cfg = build_config(parse_args(["-template", tpl, "-consul-ssl=false", "-consul-token", "t",
                                   "-consul-ssl-ca-cert", "/flag-ca.pem", "-consul-ssl-verify=false"]), environ=env)
    client = cfg.consul.client
    assert (client.scheme, client.ca_file, client.token, client.insecure_skip_verify) == ("http", "/flag-ca.pem",
                                                                                       "t", True)


def test_pytemplate_bad_address_is_one_line() -> None:
    from pytemplate.config import ConfigError as TemplateConfigError

    with pytest.raises(TemplateConfigError, match="^-consul-addr: Unknown protocol scheme: ftp$"):
        build_config(parse_args(["-template", "in:out", "-consul-addr", "ftp://x:1"]), environ={})


@pytest.mark.parametrize(("uri", "scheme", "address"), [
    ("consul://10.0.0.1:8500", "http", "10.0.0.1:8500"),
    ("consul-tls://10.0.0.1:8501", "https", "10.0.0.1:8501"),
    ("consul-unix:///run/consul.sock", "unix", "/run/consul.sock"),
])
def test_registrator_uri_sets_the_address(uri: str, scheme: str, address: str) -> None:
    parsed = parse_registry_uri(uri)
    settings = registrator_settings(parsed.scheme, parsed.address, {"CONSUL_HTTP_ADDR": "elsewhere:1"})
    assert (settings.scheme, settings.address) == (scheme, address)


def test_registrator_tls_files_are_its_own_variables() -> None:
    env = {"CONSUL_CACERT": "/ca.pem", "CONSUL_TLSCERT": "/c.pem", "CONSUL_TLSKEY": "/k.pem",
           "CONSUL_CLIENT_CERT": "/consul-c.pem", "CONSUL_HTTP_SSL_VERIFY": "false", "CONSUL_HTTP_TOKEN": "tok"}
    settings = registrator_settings("consul-tls", "h:8501", env)
    assert (settings.ca_file, settings.cert_file, settings.key_file) == ("/ca.pem", "/c.pem", "/k.pem")
    assert settings.insecure_skip_verify is False and settings.token == "tok"


def test_registrator_tls_falls_back_to_consuls_client_certificate() -> None:
    env = {"CONSUL_CACERT": "/ca.pem", "CONSUL_CLIENT_CERT": "/cli.pem", "CONSUL_CLIENT_KEY": "/cli-key.pem"}
    settings = registrator_settings("consul-tls", "h:8501", env)
    assert (settings.ca_file, settings.cert_file, settings.key_file) == ("/ca.pem", "/cli.pem", "/cli-key.pem")
    assert settings.scheme == "https"
