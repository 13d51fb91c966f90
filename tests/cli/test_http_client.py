"""The shared CLI HTTP client: CONSUL_* environment, flags, URLs, TLS and Go-worded errors."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from pyconsul.cli.flags import FlagSet
from pyconsul.cli.http import (
    Client,
    ConfigError,
    StatusError,
    TransportError,
    add_http_flags,
)
from pyconsul.cli.http import settings_from_flags as config_from_flags
from pyconsul.client.settings import resolve_token
from pyconsul.client.settings import settings_from_env as config_from_env
from tests.cli.cli_run import consul
from tests.cli.tls_server import CertFiles, https_agent, make_certs
from tests.support.ports import free_port


def flags(*argv: str) -> dict[str, object]:
    fs = FlagSet("Usage: test")
    add_http_flags(fs)
    return fs.parse_args(list(argv))  # type: ignore[return-value]


def test_flags_override_environment() -> None:
    env = {"CONSUL_HTTP_ADDR": "1.1.1.1:1", "CONSUL_HTTP_TOKEN": "env-token", "CONSUL_CACERT": "/env"}
    cfg = config_from_flags(flags("-http-addr=https://2.2.2.2:2", "-token", "flag-token",  # type: ignore[arg-type]
                                  "-ca-file", "/flag", "-datacenter", "dc2", "-stale"), env)
    assert (cfg.scheme, cfg.address, cfg.token, cfg.ca_file) == ("https", "2.2.2.2:2", "flag-token", "/flag")
    assert cfg.datacenter == "dc2" and cfg.stale


def test_token_sources(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("  file-token\n")
    assert resolve_token(config_from_env({"CONSUL_HTTP_TOKEN_FILE": str(token_file)})) == "file-token"
    # The env token wins over the env token file, as in Consul's api package.
    both = config_from_env({"CONSUL_HTTP_TOKEN_FILE": str(token_file), "CONSUL_HTTP_TOKEN": "t"})
    assert resolve_token(both) == "t"
    # An explicit -token-file beats the environment's token.
    cfg = config_from_flags(flags("-token-file", str(token_file)), {"CONSUL_HTTP_TOKEN": "t"})  # type: ignore[arg-type]
    assert resolve_token(cfg) == "file-token"
    with pytest.raises(ConfigError, match="Error loading token file: open /nope: no such file or directory"):
        resolve_token(config_from_env({"CONSUL_HTTP_TOKEN_FILE": "/nope"}))


def test_connection_refused_reads_like_consul() -> None:
    port = free_port()
    client = Client(config_from_env({"CONSUL_HTTP_ADDR": f"127.0.0.1:{port}"}))
    with pytest.raises(TransportError) as exc:
        client.request("GET", "/v1/agent/members", {"segment": "_all"})
    assert str(exc.value) == (f'Get "http://127.0.0.1:{port}/v1/agent/members?segment=_all": '
                              f"dial tcp 127.0.0.1:{port}: connect: connection refused")


def test_missing_unix_socket_reads_like_consul(tmp_path: Path) -> None:
    path = tmp_path / "consul.sock"
    client = Client(config_from_env({"CONSUL_HTTP_ADDR": f"unix://{path}"}))
    with pytest.raises(TransportError) as exc:
        client.request("PUT", "/v1/agent/leave")
    assert str(exc.value).startswith('Put "http://')
    assert str(exc.value).endswith(f"/v1/agent/leave\": dial unix {path}: connect: no such file or directory")


def test_unix_socket_transport(tmp_path: Path) -> None:
    """A real HTTP exchange over a Unix socket (the agent's `addresses.http = unix://...`)."""
    import threading

    path = str(tmp_path / "agent.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    got: list[bytes] = []

    def serve() -> None:
        conn, _ = srv.accept()
        with conn:
            got.append(conn.recv(65536))
            body = b'"unix-leader:8300"'
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Consul-Index: 3\r\n"
                         b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    client = Client(config_from_env({"CONSUL_HTTP_ADDR": f"unix://{path}"}))
    value, resp = client.get_json("/v1/status/leader")
    t.join(5)
    srv.close()
    assert value == "unix-leader:8300" and resp.index == 3
    assert got[0].startswith(b"GET /v1/status/leader HTTP/1.1")


def test_non_200_is_a_status_error() -> None:
    import threading

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def serve() -> None:
        conn, _ = srv.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 15\r\n"
                         b"Connection: close\r\n\r\nrpc error: boom")

    threading.Thread(target=serve, daemon=True).start()
    client = Client(config_from_env({"CONSUL_HTTP_ADDR": f"127.0.0.1:{srv.getsockname()[1]}"}))
    with pytest.raises(StatusError) as exc:
        client.request("GET", "/v1/kv/x")
    srv.close()
    assert str(exc.value) == "Unexpected response code: 500 (rpc error: boom)"
    assert exc.value.code == 500


# --- TLS against a real HTTPS listener ---------------------------------------------------------

@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    return make_certs(tmp_path_factory.mktemp("tls"))


def test_cli_over_https_with_env_like_the_seed(certs: CertFiles) -> None:
    """The walkthrough's /etc/profile.d/consul-cli.sh: https address, CA, client cert and key."""
    with https_agent(certs, require_client_cert=True) as (port, seen):
        env = {"CONSUL_CACERT": str(certs.ca), "CONSUL_CLIENT_CERT": str(certs.client_cert),
               "CONSUL_CLIENT_KEY": str(certs.client_key), "CONSUL_HTTP_TOKEN": "secret-token"}
        r = consul("info", addr=f"https://localhost:{port}", env=env)
        assert r.code == 0, r.err
        assert "\tleader = true" in r.out
        r = consul("kv", "get", "tls-key", addr=f"https://127.0.0.1:{port}", env=env)
        assert (r.code, r.out) == (0, "secret\n")
        assert seen.tokens[-1] == "secret-token"


def test_https_flags_instead_of_env(certs: CertFiles) -> None:
    with https_agent(certs) as (port, _seen):
        r = consul("kv", "get", f"-http-addr=127.0.0.1:{port}", "-ca-file", str(certs.ca),
                   "-tls-server-name", "server.dc1.consul", "tls-key", env={"CONSUL_HTTP_SSL": "true"})
        assert (r.code, r.out, r.err) == (0, "secret\n", "")


def test_ca_path_directory_of_pem_files(certs: CertFiles, tmp_path: Path) -> None:
    import shutil

    ca_dir = tmp_path / "cas"
    (ca_dir / "nested").mkdir(parents=True)
    shutil.copy(certs.ca, ca_dir / "nested" / "consul-agent-ca.pem")  # plain name, no c_rehash
    with https_agent(certs) as (port, _seen):
        r = consul("kv", "get", "-ca-path", str(ca_dir), "tls-key", addr=f"https://127.0.0.1:{port}")
        assert (r.code, r.out) == (0, "secret\n"), r.err
        r = consul("kv", "get", "tls-key", addr=f"https://127.0.0.1:{port}", env={"CONSUL_CAPATH": str(ca_dir)})
        assert (r.code, r.out) == (0, "secret\n"), r.err
    (ca_dir / "junk.pem").write_text("not a certificate")
    r = consul("kv", "get", "x", addr="https://127.0.0.1:1", env={"CONSUL_CAPATH": str(ca_dir)})
    assert r.code == 1 and "couldn't parse PEM in: " in r.err


def test_unknown_ca_fails_unless_verify_is_off(certs: CertFiles) -> None:
    with https_agent(certs) as (port, _seen):
        r = consul("kv", "get", "tls-key", addr=f"https://127.0.0.1:{port}")
        assert r.code == 1
        assert r.err.startswith(f'Error querying Consul agent: Get "https://127.0.0.1:{port}/v1/kv/tls-key": '
                                "tls: failed to verify certificate: x509: ")
        r = consul("kv", "get", "tls-key", addr=f"https://127.0.0.1:{port}",
                   env={"CONSUL_HTTP_SSL_VERIFY": "false"})
        assert (r.code, r.out) == (0, "secret\n")


def test_missing_client_cert_is_refused_by_the_server(certs: CertFiles) -> None:
    with https_agent(certs, require_client_cert=True) as (port, _seen):
        r = consul("info", addr=f"https://127.0.0.1:{port}", env={"CONSUL_CACERT": str(certs.ca)})
        assert r.code == 1 and r.err.startswith("Error querying agent: Get ")


def test_wrong_server_name_is_rejected(certs: CertFiles) -> None:
    with https_agent(certs) as (port, _seen):
        r = consul("info", addr=f"https://127.0.0.1:{port}",
                   env={"CONSUL_CACERT": str(certs.ca), "CONSUL_TLS_SERVER_NAME": "other.example"})
        assert r.code == 1 and "x509: " in r.err


def test_bad_tls_file_is_a_connect_error(tmp_path: Path) -> None:
    r = consul("kv", "get", "x", addr="https://127.0.0.1:1", env={"CONSUL_CACERT": str(tmp_path / "none.pem")})
    assert r.code == 1
    assert r.err.startswith("Error connecting to Consul agent: open ")


def test_non_json_reply_is_reported_not_a_traceback() -> None:
    """Something that is not an agent answers on the address (a web server, a proxy page)."""
    import threading

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def serve() -> None:
        conn, _ = srv.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nConnection: close\r\n\r\n<html></html>")

    threading.Thread(target=serve, daemon=True).start()
    r = consul("info", addr=f"127.0.0.1:{srv.getsockname()[1]}")
    srv.close()
    assert (r.code, r.out) == (1, "")
    assert r.err == "Error querying agent: invalid character '<' looking for beginning of value\n"
