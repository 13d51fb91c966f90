"""Consul's CONSUL_* environment as the client core reads it, URLs and Go's query encoding
(moved here from the CLI's tests: every program shares these rules now)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyconsul.client.errors import ConfigError
from pyconsul.client.request import encode_query
from pyconsul.client.settings import settings_from_env as config_from_env


def test_default_address() -> None:
    cfg = config_from_env({})
    assert (cfg.scheme, cfg.address) == ("http", "127.0.0.1:8500")
    assert cfg.base_url() == "http://127.0.0.1:8500"


@pytest.mark.parametrize(("value", "scheme", "address"), [
    ("10.0.0.5:8500", "http", "10.0.0.5:8500"),
    ("http://10.0.0.5:8500", "http", "10.0.0.5:8500"),
    ("https://localhost:8501", "https", "localhost:8501"),
    ("unix:///var/run/consul.sock", "unix", "/var/run/consul.sock"),
])
def test_consul_http_addr_forms(value: str, scheme: str, address: str) -> None:
    cfg = config_from_env({"CONSUL_HTTP_ADDR": value})
    assert (cfg.scheme, cfg.address) == (scheme, address)


def test_consul_http_ssl_upgrades_scheme_and_http_prefix_does_not_downgrade() -> None:
    assert config_from_env({"CONSUL_HTTP_SSL": "true"}).scheme == "https"
    cfg = config_from_env({"CONSUL_HTTP_SSL": "1", "CONSUL_HTTP_ADDR": "http://h:1"})
    assert (cfg.scheme, cfg.address) == ("https", "h:1")
    bad = config_from_env({"CONSUL_HTTP_SSL": "yes"})
    assert bad.scheme == "http" and bad.warnings


def test_unknown_scheme_is_an_error() -> None:
    with pytest.raises(ConfigError, match="Unknown protocol scheme: ftp"):
        config_from_env({"CONSUL_HTTP_ADDR": "ftp://x:1"})


def test_tls_environment() -> None:
    cfg = config_from_env({
        "CONSUL_CACERT": "/ca.pem", "CONSUL_CAPATH": "/cas", "CONSUL_CLIENT_CERT": "/c.pem",
        "CONSUL_CLIENT_KEY": "/k.pem", "CONSUL_TLS_SERVER_NAME": "server.dc1.consul",
        "CONSUL_HTTP_SSL_VERIFY": "false",
    })
    assert (cfg.ca_file, cfg.ca_path, cfg.cert_file, cfg.key_file) == ("/ca.pem", "/cas", "/c.pem", "/k.pem")
    assert cfg.tls_server_name == "server.dc1.consul"
    assert cfg.insecure_skip_verify is True


def test_query_encoding_matches_go() -> None:
    assert encode_query({"segment": "_all"}) == "segment=_all"
    assert encode_query({"recurse": "", "dc": "dc1"}) == "dc=dc1&recurse="
    assert encode_query({"node-meta": ["a:b", "c:d"]}) == "node-meta=a%3Ab&node-meta=c%3Ad"
    assert encode_query({"q": "a b/c"}) == "q=a+b%2Fc"


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8), max_size=5))
def test_query_encoding_round_trips(params: dict[str, str]) -> None:
    from urllib.parse import parse_qsl

    assert dict(parse_qsl(encode_query(params), keep_blank_values=True)) == params


@given(st.one_of(st.ip_addresses(v=4).map(str), st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z]{2,5})?", fullmatch=True)),
       st.integers(min_value=1, max_value=65535))
def test_http_addr_host_port_split(host: str, port: int) -> None:
    from pyconsul.client.settings import settings_from_env as config_from_env

    for value in (f"{host}:{port}", f"http://{host}:{port}", f"https://{host}:{port}/"):
        cfg = config_from_env({"CONSUL_HTTP_ADDR": value})
        assert cfg.host_port() == (host, port)


def test_ipv6_http_addr() -> None:
    from pyconsul.client.settings import settings_from_env as config_from_env

    cfg = config_from_env({"CONSUL_HTTP_ADDR": "http://[::1]:8500"})
    assert cfg.host_port() == ("::1", 8500) and cfg.base_url() == "http://[::1]:8500"
