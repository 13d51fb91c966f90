"""The shared asyncio transport against a real TLS listener: the TLS context, SNI, the token
header, and failures that never got an HTTP answer."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyconsul.client.aio import AsyncClient
from pyconsul.client.errors import ConfigError, TransportError
from pyconsul.client.settings import ClientOverrides, ClientSettings
from tests.cli.tls_server import CertFiles, https_agent, make_certs
from tests.support.ports import free_port


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CertFiles]:
    yield make_certs(tmp_path_factory.mktemp("certs"))


def get(settings: ClientSettings, path: str = "/v1/agent/self") -> tuple[int, bytes]:
    async def once() -> tuple[int, bytes]:
        client = AsyncClient(settings, user_agent="test")
        try:
            resp = await client.request("GET", path, {"dc": "dc1"}, timeout=10)
            return resp.status, resp.body
        finally:
            await client.close()

    return asyncio.run(once())


def tls_settings(port: int, **layer: object) -> ClientSettings:
    return ClientSettings().with_overrides(ClientOverrides(address=f"https://127.0.0.1:{port}", **layer))  # type: ignore[arg-type]


def test_tls_with_ca_client_cert_and_token(certs: CertFiles) -> None:
    with https_agent(certs, require_client_cert=True) as (port, seen):
        status, body = get(tls_settings(port, ca_file=str(certs.ca), cert_file=str(certs.client_cert),
                                        key_file=str(certs.client_key), token="s3cret"))
    assert status == 200 and b"tls-node" in body
    assert seen.tokens == ["s3cret"] and seen.paths == ["/v1/agent/self?dc=dc1"]


def test_ca_path_is_a_directory_of_pem_files(certs: CertFiles, tmp_path: Path) -> None:
    cas = tmp_path / "cas"
    cas.mkdir()
    shutil.copy(certs.ca, cas / "any-name.crt")  # no c_rehash names needed, as with Go's rootcerts
    with https_agent(certs) as (port, _seen):
        assert get(tls_settings(port, ca_path=str(cas)))[0] == 200


def test_server_name_is_checked_and_can_be_set(certs: CertFiles) -> None:
    with https_agent(certs) as (port, _seen):
        wrong = tls_settings(port, ca_file=str(certs.ca), tls_server_name="other.dc1.consul")
        with pytest.raises(TransportError) as err:
            get(wrong)
        assert err.value.cause is not None and "CERTIFICATE_VERIFY_FAILED" in str(err.value)
        assert get(tls_settings(port, ca_file=str(certs.ca), tls_server_name="server.dc1.consul"))[0] == 200


def test_unknown_ca_unless_verification_is_off(certs: CertFiles) -> None:
    with https_agent(certs) as (port, _seen):
        with pytest.raises(TransportError, match="CERTIFICATE_VERIFY_FAILED"):
            get(tls_settings(port))
        assert get(tls_settings(port, insecure_skip_verify=True))[0] == 200


def test_refused_connection_is_a_transport_error() -> None:
    with pytest.raises(TransportError) as err:
        get(ClientSettings.at(f"127.0.0.1:{free_port()}"))
    assert isinstance(err.value.cause, OSError)


def test_bad_tls_files_fail_the_request_not_the_program(tmp_path: Path) -> None:
    with pytest.raises(TransportError) as err:
        get(tls_settings(1, ca_file=str(tmp_path / "none.pem")))
    assert isinstance(err.value.cause, ConfigError)
    assert f"open {tmp_path / 'none.pem'}: no such file or directory" in str(err.value)
