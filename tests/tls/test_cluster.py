"""Walkthrough 001 with TLS end to end: certificates from our `tls` commands, three servers and a
client from the seed's JSON configs (loopback addresses, standard ports), the CLI over HTTPS with
the seed's environment, and the attacks on the server port that must fail."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.agents import AgentProcess, start_agent
from tests.support.ports import loopbacks
from tests.support.wait import wait_until
from tests.tls.pki import Pair, make_ca, make_expired_leaf, make_leaf

pytestmark = pytest.mark.xdist_group("tls-cluster")

SERVERS = loopbacks(3, first=61)
CLIENT = loopbacks(1, first=64)[0]
PORTS = {"http": -1, "dns": 8600, "server": 8300, "serf_lan": 8301}


def _tls(d: Path, *args: str) -> str:
    r = subprocess.run([sys.executable, "-m", "pyconsul", "tls", *args], cwd=d, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _pair(d: Path, stem: str) -> Pair:
    return Pair(d / f"{stem}.pem", d / f"{stem}-key.pem")


def _conf(tmp: Path, ip: str, certs: Path, n: int, server: bool) -> Path:
    kind = "server" if server else "client"
    conf: dict[str, object] = {
        "data_dir": str(tmp / ip / "data"), "node_name": ip, "bind_addr": ip, "client_addr": ip,
        "datacenter": "dc1", "domain": "consul", "leave_on_terminate": True, "log_level": "INFO",
        "retry_join": SERVERS, "retry_interval": "1s",
        "verify_incoming": True,
        "ca_file": str(certs / "consul-agent-ca.pem"),
        "cert_file": str(certs / f"dc1-{kind}-consul-{n}.pem"),
        "key_file": str(certs / f"dc1-{kind}-consul-{n}-key.pem"),
        "ports": {"http": -1, "dns": 8600, "https": 8501},
    }
    if server:
        conf.update({"bootstrap_expect": 3, "server": True, "ui": False, "verify_outgoing": True,
                     "verify_server_hostname": True})
    else:
        # The seed's client as written: its own certificate files and auto_encrypt.tls, which
        # makes it dial the servers with TLS. The seed's servers do not sign (no allow_tls), so
        # its own certificate stays in use.
        conf.update({"rejoin_after_leave": True, "enable_script_checks": True, "auto_encrypt": {"tls": True}})
    path = tmp / ip / "conf.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(conf))
    return path


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, AgentProcess], Path]]:
    tmp = tmp_path_factory.mktemp("tls-cluster")
    certs = tmp / "certs"
    certs.mkdir()
    _tls(certs, "ca", "create", "-days=36500")
    for _ in SERVERS:
        _tls(certs, "cert", "create", "-server", "-dc=dc1", "-days=36500")
    _tls(certs, "cert", "create", "-client", "-dc=dc1", "-days=36500")
    _tls(certs, "cert", "create", "-cli", "-dc=dc1", "-days=36500")
    agents = {ip: start_agent(tmp / ip, "-config-file", str(_conf(tmp, ip, certs, i, True)), dev=False, name=ip,
                              host=ip, ports=PORTS, wait=False) for i, ip in enumerate(SERVERS)}
    agents[CLIENT] = start_agent(tmp / CLIENT, "-config-file", str(_conf(tmp, CLIENT, certs, 0, False)),
                                 dev=False, name=CLIENT, host=CLIENT, ports=PORTS, wait=False)
    try:
        yield agents, certs
    finally:
        for a in agents.values():
            a.stop()


def _cli(certs: Path, ip: str, *args: str, cert: bool = True) -> subprocess.CompletedProcess[str]:
    # Each machine of the seed dials https://localhost:8501; here the agents share one host on
    # 127.77.x.y, so the CLI names the certificates' "localhost" SAN instead.
    env = {**os.environ, "CONSUL_HTTP_ADDR": f"https://{ip}:8501", "CONSUL_TLS_SERVER_NAME": "localhost",
           "CONSUL_CACERT": str(certs / "consul-agent-ca.pem")}
    if cert:
        env |= {"CONSUL_CLIENT_CERT": str(certs / "dc1-cli-consul-0.pem"),
                "CONSUL_CLIENT_KEY": str(certs / "dc1-cli-consul-0-key.pem")}
    env.pop("CONSUL_HTTP_TOKEN", None)
    return subprocess.run([sys.executable, "-m", "pyconsul", *args], capture_output=True, text=True, timeout=30,
                          env=env)


def _logs(agents: dict[str, AgentProcess]) -> str:
    return "\n".join(f"--- {ip}\n{a.log()[-3000:]}" for ip, a in agents.items())


def test_seed001_cluster_over_tls_and_the_cli_over_https(cluster: tuple[dict[str, AgentProcess], Path]) -> None:
    agents, certs = cluster

    def members_alive() -> bool:
        r = _cli(certs, CLIENT, "members")
        rows = [ln.split() for ln in r.stdout.splitlines()[1:]]
        return r.returncode == 0 and len(rows) == 4 and all(row[2] == "alive" for row in rows)

    assert wait_until(members_alive, 60, what="4 alive members over HTTPS"), _logs(agents)

    def peers() -> list[list[str]]:
        r = _cli(certs, SERVERS[0], "operator", "raft", "list-peers")
        return [ln.split() for ln in r.stdout.splitlines()[1:]] if r.returncode == 0 else []

    rows = wait_until(lambda: (p := peers()) and len(p) == 3 and any(r[3] == "leader" for r in p) and p, 30,
                      what="three raft peers with a leader")
    assert {r[2] for r in rows} == {f"{ip}:8300" for ip in SERVERS}, _logs(agents)
    # A write through the client travels client -> server (TLS) -> leader (Raft over TLS).
    assert wait_until(lambda: _cli(certs, CLIENT, "kv", "put", "tls/hello", "world").returncode == 0, 20)
    for ip in SERVERS:
        assert wait_until(lambda ip=ip: _cli(certs, ip, "kv", "get", "tls/hello").stdout == "world\n", 10)
    # Without the CLI certificate HTTPS refuses (verify_incoming).
    r = _cli(certs, CLIENT, "members", cert=False)
    assert r.returncode == 1 and r.stderr.startswith("Error retrieving members: ")
    # The client asked for an auto_encrypt certificate and was told why not, in Consul's words.
    client_log = agents[CLIENT].log()
    assert "AutoEncrypt.Sign RPC failed" in client_log
    assert "AutoEncrypt.AllowTLS must be enabled in order to use this endpoint" in client_log


def _leader_and_followers(certs: Path) -> tuple[str, list[str]]:
    r = _cli(certs, SERVERS[0], "operator", "raft", "list-peers")
    rows = [ln.split() for ln in r.stdout.splitlines()[1:]]
    leader = [row[2].split(":")[0] for row in rows if row[3] == "leader"]
    assert leader, r.stdout + r.stderr
    return leader[0], [row[2].split(":")[0] for row in rows if row[3] != "leader"]


def test_a_follower_relays_a_snapshot_restore_to_the_leader_over_tls(
        cluster: tuple[dict[str, AgentProcess], Path], tmp_path: Path) -> None:
    agents, certs = cluster
    assert wait_until(lambda: _cli(certs, SERVERS[0], "operator", "raft", "list-peers").returncode == 0, 60)
    leader, followers = _leader_and_followers(certs)
    follower = followers[0]
    assert wait_until(lambda: _cli(certs, follower, "kv", "put", "tls/before", "1").returncode == 0, 20)
    snap = tmp_path / "backup.snap"
    r = _cli(certs, follower, "snapshot", "save", str(snap))
    assert r.returncode == 0, r.stderr
    assert _cli(certs, follower, "kv", "put", "tls/after", "2").returncode == 0
    # The follower relays the restore to the leader's server port: TLS with its own server
    # certificate, the leader's checked for server.dc1.consul (verify_server_hostname).
    r = _cli(certs, follower, "snapshot", "restore", str(snap))
    assert (r.returncode, r.stdout) == (0, "Restored snapshot\n"), r.stderr + _logs(agents)
    for ip in SERVERS:
        assert wait_until(lambda ip=ip: _cli(certs, ip, "kv", "get", "tls/after").returncode == 1, 20), ip
        assert _cli(certs, ip, "kv", "get", "tls/before").stdout == "1\n"


def _ctx(ca: Path | None, pair: Pair | None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    if ca is None:
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx.load_verify_locations(str(ca))
    if pair is not None:
        ctx.load_cert_chain(str(pair.cert), str(pair.key))
    return ctx


RAFT_HELLO = b"\x01PCR"
HTTP_GET = b"GET /v1/status/leader HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def _exchange(ip: str, payload: bytes, ctx: ssl.SSLContext | None) -> bytes:
    """Send `payload` to the server port (plain or TLS) and read until the server closes; b"" when
    refused at the handshake or closed unanswered."""
    try:
        raw = socket.create_connection((ip, 8300), timeout=10)
        sock: socket.socket = ctx.wrap_socket(raw) if ctx is not None else raw
        sock.sendall(payload)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        sock.close()
        return data
    except (ssl.SSLError, ConnectionError, TimeoutError):
        return b""


def test_attacks_on_the_server_port_fail(cluster: tuple[dict[str, AgentProcess], Path], tmp_path: Path) -> None:
    agents, certs = cluster
    ip = SERVERS[0]
    wait_until(lambda: _cli(certs, ip, "members").returncode == 0, 60, what="server answering")
    ca = certs / "consul-agent-ca.pem"
    ca_pair = _pair(certs, "consul-agent-ca")
    client = _pair(certs, "dc1-client-consul-0")
    server = _pair(certs, "dc1-server-consul-1")
    # A client certificate from our CA may forward HTTP over TLS...
    assert _exchange(ip, HTTP_GET, _ctx(ca, client)).startswith(b"HTTP/1.1 200")
    # ...and a server certificate is served Raft (the connection stays open for frames).
    raw = socket.create_connection((ip, 8300), timeout=10)
    tls = _ctx(ca, server).wrap_socket(raw)
    tls.sendall(RAFT_HELLO)
    tls.settimeout(0.5)
    with pytest.raises(TimeoutError):
        tls.recv(1)  # not closed: waiting for Raft frames
    tls.close()
    # Plaintext under verify_incoming: closed unanswered, HTTP and Raft alike.
    assert _exchange(ip, HTTP_GET, None) == b""
    # No client certificate, a certificate from another CA, an expired one: refused at the handshake.
    assert _exchange(ip, HTTP_GET, _ctx(ca, None)) == b""
    other = make_ca(tmp_path / "other", "other-ca")
    assert _exchange(ip, HTTP_GET, _ctx(ca, make_leaf(other, tmp_path / "other", "server", "evil"))) == b""
    assert _exchange(ip, HTTP_GET, _ctx(ca, make_expired_leaf(ca_pair, tmp_path, "expired"))) == b""
    # A client certificate trying to act as a server (verify_server_hostname): Raft is refused.
    raw = socket.create_connection((ip, 8300), timeout=10)
    tls = _ctx(ca, client).wrap_socket(raw)
    tls.sendall(RAFT_HELLO)
    tls.settimeout(5)
    assert tls.recv(1) == b""
    tls.close()
    assert "refused Raft from a peer without a server certificate" in agents[ip].log()


def _propose(ip: str, pair: Pair, ca: Path, key: str) -> list[object] | None:
    """A follower's forwarded write (`raft.propose` on the Raft stream) for KV `key`, sent with
    `pair`'s certificate; the leader's reply, or None when the connection was closed."""
    import time

    import msgpack

    from pyconsul.fsm import commands as c
    from pyconsul.raft.messages import NORMAL
    from pyconsul.raft.tcp_transport import MAGIC, _frame

    data = c.encode(c.KVOp(verb="set", key=key, value=b"proposed"))
    raw = socket.create_connection((ip, 8300), timeout=10)
    tls = _ctx(ca, pair).wrap_socket(raw)
    try:
        tls.sendall(MAGIC + _frame([1, 7, "raft.propose", [data, time.time() + 10, NORMAL]]))
        head = b""
        while len(head) < 4 and (chunk := tls.recv(4 - len(head))):
            head += chunk
        if len(head) < 4:
            return None
        size = int.from_bytes(head, "big")
        body = b""
        while len(body) < size and (chunk := tls.recv(size - len(body))):
            body += chunk
        reply: list[object] = msgpack.unpackb(body, raw=False)
        return reply
    except (ssl.SSLError, ConnectionError):
        return None
    finally:
        tls.close()


def test_only_a_server_certificate_may_propose_a_client_certificate_may_forward_http(
        cluster: tuple[dict[str, AgentProcess], Path]) -> None:
    agents, certs = cluster
    ca = certs / "consul-agent-ca.pem"
    assert wait_until(lambda: _cli(certs, SERVERS[0], "operator", "raft", "list-peers").returncode == 0, 60)
    leader, _ = _leader_and_followers(certs)
    # A server certificate: the leader places the write and answers [index, term].
    reply = _propose(leader, _pair(certs, "dc1-server-consul-2"), ca, "tls/proposed-by-server")
    assert reply is not None and reply[:3] == [2, 7, True], reply
    assert wait_until(lambda: _cli(certs, leader, "kv", "get", "tls/proposed-by-server").stdout == "proposed\n", 10)
    # A client certificate from the same CA: the Raft stream is closed before anything is read.
    client = _pair(certs, "dc1-client-consul-0")
    assert _propose(leader, client, ca, "tls/proposed-by-client") is None
    assert _cli(certs, leader, "kv", "get", "tls/proposed-by-client").returncode == 1
    # ...while the same certificate may forward an API write over HTTP, as client agents do.
    body = b"forwarded"
    request = (f"PUT /v1/kv/tls/forwarded-by-client HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
               "Connection: close\r\n\r\n").encode() + body
    assert _exchange(leader, request, _ctx(ca, client)).startswith(b"HTTP/1.1 200")
    assert _cli(certs, leader, "kv", "get", "tls/forwarded-by-client").stdout == "forwarded\n"
