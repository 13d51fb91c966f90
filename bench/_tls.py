"""What the TLS benchmarks share: one CA with a server certificate for every bench address, the
agent configs that turn TLS on, nginx's HTTPS lines and etcd's TLS flags — so pyconsul, nginx
and etcd are measured with the same CA, certificate, key type (EC P-256) and protocol versions."""

from __future__ import annotations

import datetime
import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path

from pyconsul.tls.certs import build_ca, build_leaf, leaf_names


@dataclass(frozen=True)
class Pki:
    ca: Path
    cert: Path
    key: Path


def make_pki(d: Path, hosts: tuple[str, ...] | list[str] = ("127.0.0.1",)) -> Pki:
    """A CA and one server certificate (server.dc1.consul, localhost and `hosts` as IP SANs),
    readable by nginx's unprivileged workers."""
    d.mkdir(parents=True, exist_ok=True)
    start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)
    ca = build_ca(start, 30)
    ips = tuple(ipaddress.ip_address(h) for h in hosts if h != "127.0.0.1")
    leaf = build_leaf(ca.cert.encode(), ca.key.encode(), leaf_names("server", "dc1", "consul", ip_addresses=ips),
                      start, 30)
    out = Pki(d / "ca.pem", d / "server.pem", d / "server-key.pem")
    for path, text in ((out.ca, ca.cert), (out.cert, leaf.cert), (out.key, leaf.key)):
        path.write_text(text)
        path.chmod(0o644)
    d.chmod(0o755)
    return out


def https_config(path: Path, pki: Pki, https_port: int) -> Path:
    """An agent config serving HTTPS on `https_port` with the bench certificate (no client
    certificate asked for: wrk has none, and nginx asks for none either)."""
    path.write_text(json.dumps({"ports": {"https": https_port}, "ca_file": str(pki.ca), "cert_file": str(pki.cert),
                                "key_file": str(pki.key), "log_level": "warn"}))
    return path


def cluster_tls_config(path: Path, pki: Pki, https_port: int | None = None) -> Path:
    """Servers with mutually authenticated TLS on the server port (Raft, replication, forwarded
    requests: verify_incoming, verify_outgoing, verify_server_hostname) and, with `https_port`,
    HTTPS for the load generator without client certificates."""
    conf: dict[str, object] = {
        "tls": {
            "defaults": {"ca_file": str(pki.ca), "cert_file": str(pki.cert), "key_file": str(pki.key),
                         "verify_incoming": True, "verify_outgoing": True},
            "internal_rpc": {"verify_server_hostname": True},
            "https": {"verify_incoming": False},
        },
    }
    if https_port is not None:
        conf["ports"] = {"https": https_port}
    path.write_text(json.dumps(conf))
    return path


def nginx_ssl_lines(pki: Pki) -> str:
    """nginx's TLS settings matching the agent's: TLS 1.2/1.3, no session reuse (wrk resumes none)."""
    return (f"ssl_certificate {pki.cert}; ssl_certificate_key {pki.key}; ssl_protocols TLSv1.2 TLSv1.3; "
            "ssl_session_cache off; ssl_session_tickets off;")


def etcd_tls_flags(pki: Pki) -> list[str]:
    """etcd with peer TLS (both ends authenticated by the CA, as Raft on pyconsul's server port)
    and client TLS (server certificate only, as the agent's HTTPS for wrk)."""
    return ["--peer-cert-file", str(pki.cert), "--peer-key-file", str(pki.key),
            "--peer-trusted-ca-file", str(pki.ca), "--peer-client-cert-auth",
            "--cert-file", str(pki.cert), "--key-file", str(pki.key)]
