"""`consul tls ca create` / `tls cert create` as walkthrough 001 runs them, in a temp directory:
printed lines, file names and modes, the certificates read back with `cryptography`, checked with
the real `openssl`, and used for real TLS handshakes."""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import shutil
import socket
import ssl
import stat
import subprocess
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.cli.cli_run import Result, consul

WARNING = """==> WARNING: Server Certificates grants authority to become a
    server and access all state in the cluster including root keys
    and all ACL tokens. Do not distribute them to production hosts
    that are not server nodes. Store them as securely as CA keys.
"""
USING = "==> Using consul-agent-ca.pem and consul-agent-ca-key.pem\n"


def tls(d: Path, *args: str) -> Result:
    return consul("tls", *args, cwd=str(d))


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def sans(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return ext.get_values_for_type(x509.DNSName), [str(i) for i in ext.get_values_for_type(x509.IPAddress)]


@pytest.fixture(scope="module")
def seed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The walkthrough's steps 1-4: a CA for 100 years, three servers, two clients, one cli."""
    d = tmp_path_factory.mktemp("certs")
    r = tls(d, "ca", "create", "-days=36500")
    assert (r.code, r.out, r.err) == (0, "==> Saved consul-agent-ca.pem\n==> Saved consul-agent-ca-key.pem\n", "")
    for i in range(3):
        r = tls(d, "cert", "create", "-server", "-dc=dc1", "-days=36500")
        assert (r.code, r.err) == (0, "")
        assert r.out == (WARNING + USING + f"==> Saved dc1-server-consul-{i}.pem\n"
                         f"==> Saved dc1-server-consul-{i}-key.pem\n")
    for i in range(2):
        r = tls(d, "cert", "create", "-client", "-dc=dc1", "-days=36500")
        assert (r.code, r.out) == (0, USING + f"==> Saved dc1-client-consul-{i}.pem\n"
                                   f"==> Saved dc1-client-consul-{i}-key.pem\n")
    r = tls(d, "cert", "create", "-cli", "-dc=dc1", "-days=36500")
    assert (r.code, r.out) == (0, USING + "==> Saved dc1-cli-consul-0.pem\n==> Saved dc1-cli-consul-0-key.pem\n")
    return d


def test_files_and_modes(seed_dir: Path) -> None:
    names = sorted(p.name for p in seed_dir.iterdir())
    assert names == sorted([
        "consul-agent-ca.pem", "consul-agent-ca-key.pem",
        *(f"dc1-server-consul-{i}{s}.pem" for i in range(3) for s in ("", "-key")),
        *(f"dc1-client-consul-{i}{s}.pem" for i in range(2) for s in ("", "-key")),
        "dc1-cli-consul-0.pem", "dc1-cli-consul-0-key.pem",
    ])
    for p in seed_dir.iterdir():
        mode = stat.S_IMODE(p.stat().st_mode)
        if p.name.endswith("-key.pem"):
            assert mode == 0o600, p.name
            assert p.read_text().startswith("-----BEGIN EC PRIVATE KEY-----\n")
        else:
            assert mode == 0o666 & ~_umask(), p.name


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_ca_certificate(seed_dir: Path) -> None:
    ca = load(seed_dir / "consul-agent-ca.pem")
    subject = {a.oid: a.value for a in ca.subject}
    assert subject[NameOID.COMMON_NAME] == f"Consul Agent CA {ca.serial_number}"
    assert (subject[NameOID.COUNTRY_NAME], subject[NameOID.POSTAL_CODE], subject[NameOID.ORGANIZATION_NAME],
            subject[NameOID.STREET_ADDRESS]) == ("US", "94105", "HashiCorp Inc.", "101 Second Street")
    assert ca.issuer == ca.subject and 0 < ca.serial_number < 2**128
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign and usage.digital_signature
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert len(ski) == 32
    assert ca.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier == ski
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey) and ca.public_key().curve.name == "secp256r1"
    lifetime = ca.not_valid_after_utc - ca.not_valid_before_utc
    assert lifetime == datetime.timedelta(days=36500)


def test_leaf_certificates(seed_dir: Path) -> None:
    ca = load(seed_dir / "consul-agent-ca.pem")
    server, client, cli = (load(seed_dir / f"dc1-{k}-consul-0.pem") for k in ("server", "client", "cli"))
    assert sans(server) == (["server.dc1.consul", "localhost"], ["127.0.0.1"])
    assert sans(client) == (["client.dc1.consul", "localhost"], ["127.0.0.1"])
    assert sans(cli) == (["cli.dc1.consul", "localhost"], [])
    for cert, cn in ((server, "server.dc1.consul"), (client, "client.dc1.consul"), (cli, "cli.dc1.consul")):
        assert [(a.oid, a.value) for a in cert.subject] == [(NameOID.COMMON_NAME, cn)]
        assert cert.issuer == ca.subject
        cert.verify_directly_issued_by(ca)
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        assert usage.digital_signature and usage.key_encipherment and not usage.key_cert_sign
        assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        assert cert.public_key().curve.name == "secp256r1"  # type: ignore[union-attr]
        assert cert.not_valid_after_utc - cert.not_valid_before_utc == datetime.timedelta(days=36500)
    eku = lambda c: list(c.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)  # noqa: E731
    assert eku(server) == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    assert eku(client) == [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]
    with pytest.raises(x509.ExtensionNotFound):
        cli.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    serials = {load(p).serial_number for p in seed_dir.glob("dc1-*-consul-?.pem")}
    assert len(serials) == 6


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl tool")
def test_openssl_verifies_every_certificate(seed_dir: Path) -> None:
    leaves = sorted(str(p) for p in seed_dir.glob("dc1-*-consul-?.pem"))
    out = subprocess.run(["openssl", "verify", "-CAfile", str(seed_dir / "consul-agent-ca.pem"), *leaves],
                         capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [f"{p}: OK" for p in leaves]
    text = subprocess.run(["openssl", "x509", "-noout", "-text", "-in", str(seed_dir / "dc1-server-consul-0.pem")],
                          capture_output=True, text=True, check=True).stdout
    assert "DNS:server.dc1.consul, DNS:localhost, IP Address:127.0.0.1" in text
    assert "Signature Algorithm: ecdsa-with-SHA256" in text and "NIST CURVE: P-256" in text
    # A certificate from another CA fails.
    other = seed_dir.parent / "other-ca"
    other.mkdir(exist_ok=True)
    assert tls(other, "ca", "create").code == 0
    r = subprocess.run(["openssl", "verify", "-CAfile", str(other / "consul-agent-ca.pem"), leaves[0]],
                       capture_output=True, text=True)
    assert r.returncode != 0


def _handshake(seed_dir: Path, cert: str, hostname: str) -> None:
    """A TLS server presenting `cert`; a client trusting the CA that checks `hostname`, as
    verify_server_hostname does. Raises ssl.SSLCertVerificationError on a mismatch."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(seed_dir / f"{cert}.pem", seed_dir / f"{cert}-key.pem")
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    server_ctx.load_verify_locations(seed_dir / "consul-agent-ca.pem")
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    failures: list[BaseException] = []

    def serve() -> None:
        conn, _ = listener.accept()
        try:
            with server_ctx.wrap_socket(conn, server_side=True) as tls_conn:
                tls_conn.sendall(b"ok")
        except (ssl.SSLError, OSError) as exc:
            failures.append(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client_ctx = ssl.create_default_context(cafile=str(seed_dir / "consul-agent-ca.pem"))
    client_ctx.load_cert_chain(seed_dir / "dc1-client-consul-0.pem", seed_dir / "dc1-client-consul-0-key.pem")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
                client_ctx.wrap_socket(raw, server_hostname=hostname) as conn:
            assert conn.recv(2) == b"ok"
    finally:
        thread.join(5)
        listener.close()


def test_server_certificate_passes_server_hostname_verification(seed_dir: Path) -> None:
    _handshake(seed_dir, "dc1-server-consul-0", "server.dc1.consul")
    _handshake(seed_dir, "dc1-server-consul-1", "localhost")


def test_client_certificate_cannot_pose_as_a_server(seed_dir: Path) -> None:
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        _handshake(seed_dir, "dc1-client-consul-0", "server.dc1.consul")


def test_lowest_unused_number_is_taken(tmp_path: Path) -> None:
    assert tls(tmp_path, "ca", "create").code == 0
    for _ in range(3):
        assert tls(tmp_path, "cert", "create", "-server").code == 0
    (tmp_path / "dc1-server-consul-1.pem").unlink()  # its key stays: number 1 is still taken
    (tmp_path / "dc1-server-consul-0.pem").unlink()
    (tmp_path / "dc1-server-consul-0-key.pem").unlink()
    r = tls(tmp_path, "cert", "create", "-server")
    assert r.out.endswith("==> Saved dc1-server-consul-0.pem\n==> Saved dc1-server-consul-0-key.pem\n")
    r = tls(tmp_path, "cert", "create", "-server")
    assert r.out.endswith("==> Saved dc1-server-consul-3.pem\n==> Saved dc1-server-consul-3-key.pem\n")


def test_flags_shape_names(tmp_path: Path) -> None:
    assert tls(tmp_path, "ca", "create", "-domain", "corp").out == (
        "==> Saved corp-agent-ca.pem\n==> Saved corp-agent-ca-key.pem\n")
    r = tls(tmp_path, "cert", "create", "-server", "-dc", "east", "-domain", "corp", "-node", "n1",
            "-additional-dnsname", " api.example.com ", "-additional-dnsname", "", "-additional-ipaddress",
            "10.0.0.5", "-days", "7")
    assert r.code == 0, r.err
    assert "==> Using corp-agent-ca.pem and corp-agent-ca-key.pem\n" in r.out
    cert = load(tmp_path / "east-server-corp-0.pem")
    assert sans(cert) == (["api.example.com", "n1.server.east.corp", "server.east.corp", "localhost"],
                          ["10.0.0.5", "127.0.0.1"])
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == datetime.timedelta(days=7)
    # -cli drops the additional names, as Consul does.
    r = tls(tmp_path, "cert", "create", "-cli", "-domain", "corp", "-additional-dnsname", "x.example.com",
            "-additional-ipaddress", "10.0.0.5")
    assert sans(load(tmp_path / "dc1-cli-corp-0.pem")) == (["cli.dc1.corp", "localhost"], [])
    # An explicit CA path.
    (tmp_path / "sub").mkdir()
    r = tls(tmp_path / "sub", "cert", "create", "-client", "-ca", str(tmp_path / "corp-agent-ca.pem"),
            "-key", str(tmp_path / "corp-agent-ca-key.pem"))
    assert r.code == 0 and f"==> Using {tmp_path}/corp-agent-ca.pem and {tmp_path}/corp-agent-ca-key.pem" in r.out
    assert (tmp_path / "sub" / "dc1-client-consul-0.pem").exists()


def test_name_constrained_ca(tmp_path: Path) -> None:
    r = tls(tmp_path, "ca", "create", "-name-constraint", "-additional-name-constraint", "example.com")
    assert r.code == 0
    nc = load(tmp_path / "consul-agent-ca.pem").extensions.get_extension_for_class(x509.NameConstraints)
    assert nc.critical
    assert [n.value for n in nc.value.permitted_subtrees or []] == ["example.com", "consul", "localhost"]
    assert tls(tmp_path, "cert", "create", "-server", "-additional-dnsname", "ui.example.com").code == 0
    # A name outside the constraints is refused before anything is written.
    r = tls(tmp_path, "cert", "create", "-client", "-additional-dnsname", "evil.org")
    assert r.code == 1 and 'DNS name "evil.org" is not permitted' in r.err
    assert not (tmp_path / "dc1-client-consul-0.pem").exists()


def test_ca_cluster_id_and_common_name(tmp_path: Path) -> None:
    assert tls(tmp_path, "ca", "create", "-cluster-id", "abc", "-common-name", "My CA").code == 0
    ca = load(tmp_path / "consul-agent-ca.pem")
    assert ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "My CA"
    uris = ca.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert uris.get_values_for_type(x509.UniformResourceIdentifier) == ["spiffe://abc.consul"]


@pytest.mark.parametrize(
    ("args", "err"),
    [
        (("cert", "create"), "Please provide either -server, -client, or -cli\n"),
        (("cert", "create", "-server", "-client"), "Please provide either -server, -client, or -cli\n"),
        (("cert", "create", "-client", "-node", "n1"), "-node requires -server\n"),
        (("cert", "create", "-client"),
         "Error reading CA: open consul-agent-ca.pem: no such file or directory\n"),
        (("cert", "create", "-client", "extra"), "Should have no non-flag arguments.\n"),
        (("cert", "create", "-client", "-additional-ipaddress", "nope"), "Invalid IP address: nope\n"),
        (("ca", "create", "extra"), "Should have no non-flag arguments.\n"),
    ],
)
def test_errors(tmp_path: Path, args: tuple[str, ...], err: str) -> None:
    r = tls(tmp_path, *args)
    assert (r.code, r.out, r.err) == (1, "", err)


def test_existing_ca_and_missing_key(tmp_path: Path) -> None:
    assert tls(tmp_path, "ca", "create").code == 0
    r = tls(tmp_path, "ca", "create")
    assert (r.code, r.out, r.err) == (1, "", "consul-agent-ca.pem already exists.\n")
    (tmp_path / "consul-agent-ca-key.pem").unlink()
    r = tls(tmp_path, "cert", "create", "-server")
    assert (r.code, r.out, r.err) == (
        1, "", "Error reading CA key: open consul-agent-ca-key.pem: no such file or directory\n")
    r = tls(tmp_path, "ca", "create")
    assert (r.code, r.err) == (1, "consul-agent-ca.pem already exists.\n")


def test_key_not_matching_the_ca_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert tls(tmp_path / "a", "ca", "create").code == 0 and tls(tmp_path / "b", "ca", "create").code == 0
    r = tls(tmp_path, "cert", "create", "-client", "-ca", str(tmp_path / "a" / "consul-agent-ca.pem"),
            "-key", str(tmp_path / "b" / "consul-agent-ca-key.pem"))
    assert r.code == 1 and r.err == "x509: certificate signed by unknown authority\n"
    assert not list(tmp_path.glob("dc1-client-*"))


def test_help_and_group_help() -> None:
    r = consul("tls", "cert", "create", "-help")
    assert r.code == 0 and r.out.startswith("Usage: consul tls cert create [options]\n")
    for flag in ("-additional-dnsname=<string>", "-additional-ipaddress=<string>", "-ca=<string>", "-cli",
                 "-client", "-days=<int>", "-dc=<string>", "-domain=<string>", "-key=<string>",
                 "-node=<string>", "-server"):
        assert f"\n  {flag}\n" in r.out
    r = consul("tls", "ca", "create", "-h")
    assert r.code == 0 and "-name-constraint\n" in r.out and "-additional-name-constraint=<value>" in r.out
    r = consul("tls")
    assert r.code == 1 and r.err.rstrip().endswith(
        "Subcommands:\n    ca      Helpers for CAs\n    cert    Helpers for certificates")
    r = consul("tls", "cert", "-h")
    assert r.code == 0 and "    create    Create a new certificate" in r.out
    assert re.search(r"\n    tls +Builtin helpers for creating CAs and certificates\n", consul("-h").out)


def test_ip_sans_are_addresses() -> None:
    from pyconsul.tls.certs import leaf_names

    names = leaf_names("client", "dc1", "consul", ip_addresses=(ipaddress.ip_address("::1"),))
    assert [str(i) for i in names.ip_addresses] == ["::1", "127.0.0.1"]
