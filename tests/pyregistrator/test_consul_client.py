"""The agent client over consul://, consul-unix:// and consul-tls:// against a real agent.

socat puts a Unix socket or a TLS listener in front of the agent's HTTP port, as a reverse proxy
or a TLS-enabled agent would be."""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pyregistrator.consul_client import (
    ConsulAgentClient,
    RegistryRejected,
    RegistryUnavailable,
    parse_registry_uri,
)
from pyregistrator.mapping import MappingConfig, container_services
from tests.pyregistrator.inspections import inspection
from tests.support.agents import AgentProcess
from tests.support.ports import free_port
from tests.support.wait import async_wait_until, wait_until

pytestmark = pytest.mark.skipif(shutil.which("socat") is None, reason="socat is not installed")


def self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1)).not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "agent.crt", tmp / "agent.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture
def proxies(tmp_path: Path, agent: AgentProcess) -> Iterator[dict[str, str]]:
    sock = tmp_path / "consul.sock"
    cert, key = self_signed(tmp_path)
    tls_port = free_port()
    target = f"TCP:{agent.host}:{agent.http_port}"
    procs = [
        subprocess.Popen(["socat", f"UNIX-LISTEN:{sock},fork", target]),
        subprocess.Popen(
            ["socat", f"OPENSSL-LISTEN:{tls_port},bind=127.0.0.1,reuseaddr,fork,cert={cert},key={key},verify=0", target]
        ),
    ]
    try:
        wait_until(sock.exists, 5, what="the unix socket", interval=0.02)
        yield {
            "consul": f"consul://{agent.http_addr}",
            "consul-unix": f"consul-unix://{sock}",
            "consul-tls": f"consul-tls://127.0.0.1:{tls_port}",
            "cacert": str(cert),
        }
    finally:
        for p in procs:
            p.terminate()
            p.wait(5)


@pytest.mark.parametrize("scheme", ["consul", "consul-unix", "consul-tls"])
async def test_register_list_deregister(
    scheme: str, proxies: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONSUL_CACERT", proxies["cacert"])
    client = ConsulAgentClient(parse_registry_uri(proxies[scheme]))
    (service,) = container_services(
        inspection("web", "nginx", {"80/tcp": "8080"}, env=["SERVICE_TAGS=a,b", "SERVICE_VERSION=2",
                                                             "SERVICE_CHECK_TTL=30s"]),
        MappingConfig("vm", host_ip="127.0.0.1"),
    )
    try:
        # socat may still be starting its listener: poll with a deadline.
        async def answers() -> bool:
            await client.ping()
            return True

        await async_wait_until(answers, 5, what="the registry through socat", ignore=(RegistryUnavailable,))
        await client.register(service.to_consul())
        held = (await client.services())[service.id]
        assert service.matches_agent(held), held
        await client.deregister(service.id)
        await client.deregister(service.id)  # already gone: not an error
        assert service.id not in await client.services()
    finally:
        await client.close()


async def test_bad_registration_is_rejected_not_unavailable(agent: AgentProcess) -> None:
    client = ConsulAgentClient(parse_registry_uri(f"consul://{agent.http_addr}"))
    try:
        with pytest.raises(RegistryRejected) as err:
            await client.register({"ID": "x", "Name": "x", "Port": "not a number"})
        assert 400 <= err.value.status < 500
    finally:
        await client.close()


async def test_nothing_listening_is_unavailable() -> None:
    client = ConsulAgentClient(parse_registry_uri(f"consul://127.0.0.1:{free_port()}"))
    try:
        with pytest.raises(RegistryUnavailable):
            await client.services()
    finally:
        await client.close()
