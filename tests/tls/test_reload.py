"""Certificate rotation by `pyconsul reload` and SIGHUP: new handshakes on HTTPS and on the
server port present the new certificate, a connection opened before keeps working."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
from pathlib import Path

from cryptography import x509

from tests.support.agents import AgentProcess, start_agent
from tests.support.ports import free_port
from tests.support.wait import wait_until
from tests.tls.pki import Pair, make_ca, make_leaf


def _served_serial(port: int, ca: Pair, cli: Pair) -> int:
    ctx = ssl.create_default_context(cafile=str(ca.cert))
    ctx.load_cert_chain(str(cli.cert), str(cli.key))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            ctx.wrap_socket(raw, server_hostname="localhost") as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


def _serial(pair: Pair) -> int:
    return x509.load_pem_x509_certificate(pair.cert.read_bytes()).serial_number


def _start(tmp_path: Path) -> tuple[AgentProcess, int, Pair, Pair, Pair, Pair]:
    ca = make_ca(tmp_path / "pki")
    cli = make_leaf(ca, tmp_path / "pki", "cli", "cli")
    old = make_leaf(ca, tmp_path / "pki", "server", "old")
    new = make_leaf(ca, tmp_path / "pki", "server", "new")
    live = Pair(tmp_path / "server.pem", tmp_path / "server-key.pem")
    shutil.copy(old.cert, live.cert)
    shutil.copy(old.key, live.key)
    https = free_port()
    conf = tmp_path / "tls.json"
    conf.write_text(json.dumps({
        "ports": {"https": https}, "tls": {"defaults": {
            "ca_file": str(ca.cert), "cert_file": str(live.cert), "key_file": str(live.key),
            "verify_incoming": True}}}))
    agent = start_agent(tmp_path, f"-config-file={conf}")
    return agent, https, ca, cli, old, new


def _rotate(live_dir: Path, new: Pair) -> None:
    # Written aside and renamed, as an operator's tooling does: never a half-written file.
    for src, name in ((new.cert, "server.pem"), (new.key, "server-key.pem")):
        tmp = live_dir / (name + ".tmp")
        shutil.copy(src, tmp)
        os.replace(tmp, live_dir / name)


def test_reload_rotates_the_https_and_server_port_certificates(tmp_path: Path) -> None:
    agent, https, ca, cli, old, new = _start(tmp_path)
    try:
        assert _served_serial(https, ca, cli) == _serial(old)
        assert _served_serial(agent.server_port, ca, cli) == _serial(old)
        # A keep-alive HTTPS connection opened before the rotation.
        ctx = ssl.create_default_context(cafile=str(ca.cert))
        ctx.load_cert_chain(str(cli.cert), str(cli.key))
        kept = http.client.HTTPSConnection("127.0.0.1", https, context=ctx, timeout=10)
        kept.request("GET", "/v1/agent/self")
        first = kept.getresponse()
        assert first.status == 200 and first.read()
        _rotate(tmp_path, new)
        r = subprocess.run([sys.executable, "-m", "pyconsul", "reload", f"-http-addr={agent.http_addr}"],
                           capture_output=True, text=True, timeout=30)
        assert (r.returncode, r.stdout) == (0, "Configuration reload triggered\n"), r.stderr
        assert wait_until(lambda: _served_serial(https, ca, cli) == _serial(new), 10)
        assert _served_serial(agent.server_port, ca, cli) == _serial(new)
        kept.request("GET", "/v1/status/leader")
        resp = kept.getresponse()
        assert resp.status == 200 and resp.read()
        kept.close()
    finally:
        agent.stop()


def test_sighup_rotates_and_broken_files_keep_the_old_certificate(tmp_path: Path) -> None:
    agent, https, ca, cli, old, new = _start(tmp_path)
    try:
        (tmp_path / "server.pem").write_text("not a certificate")
        agent.signal(signal.SIGHUP)
        assert wait_until(lambda: "Failed reloading TLS configuration" in agent.log(), 10)
        assert _served_serial(https, ca, cli) == _serial(old)
        _rotate(tmp_path, new)
        agent.signal(signal.SIGHUP)
        assert wait_until(lambda: _served_serial(https, ca, cli) == _serial(new), 10)
    finally:
        agent.stop()
