"""-consul-ssl*, -consul-token, -consul-auth: through a real nginx in front of a real agent."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.tls_server import CertFiles, make_certs
from tests.pytemplate.helpers import TemplateProcess, kv_put, read
from tests.pytemplate.nginx_proc import Nginx
from tests.support.agents import AgentProcess
from tests.support.ports import free_port
from tests.support.wait import wait_until

pytestmark = pytest.mark.skipif(not Nginx.available(), reason="nginx is not installed (.ci/run installs it)")


@pytest.fixture
def tls_front(shared_agent: AgentProcess, tmp_path: Path) -> Iterator[tuple[int, CertFiles]]:
    (tmp_path / "certs").mkdir()
    certs = make_certs(tmp_path / "certs")
    n = Nginx(tmp_path / "nginx")
    port = free_port()
    (n.vhost_dir / "tls.conf").write_text(
        f"server {{\n  listen 127.0.0.1:{port} ssl;\n"
        f"  ssl_certificate {certs.server_cert};\n  ssl_certificate_key {certs.server_key};\n"
        f"  ssl_client_certificate {certs.ca};\n  ssl_verify_client on;\n"
        f"  location / {{ proxy_pass http://{shared_agent.http_addr}; proxy_read_timeout 120s; }}\n}}\n")
    n.start()
    yield port, certs
    n.stop()


def test_mutual_tls_with_ca_and_client_certificate(shared_agent: AgentProcess, tls_front: tuple[int, CertFiles],
                                                   tmp_path: Path) -> None:
    port, certs = tls_front
    kv_put(shared_agent, "tls/v", "secure")
    src = tmp_path / "in.ctmpl"
    src.write_text('{{ key "tls/v" }}')
    base = [sys.executable, "-m", "pytemplate", "-once", "-consul-addr", f"127.0.0.1:{port}", "-consul-ssl",
            "-consul-ssl-cert", str(certs.client_cert), "-consul-ssl-key", str(certs.client_key)]
    ok = subprocess.run([*base, "-consul-ssl-ca-cert", str(certs.ca), "-template", f"{src}:{tmp_path}/a"],
                        capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0, ok.stderr
    assert read(tmp_path / "a") == "secure"
    insecure = subprocess.run([*base, "-consul-ssl-verify=false", "-template", f"{src}:{tmp_path}/b"],
                              capture_output=True, text=True, timeout=30)
    assert insecure.returncode == 0, insecure.stderr
    assert read(tmp_path / "b") == "secure"


@pytest.mark.parametrize(("flags", "symptom"), [
    (["-consul-ssl-ca-cert", "{ca}"], "400"),  # no client certificate: nginx refuses
    (["-consul-ssl-cert", "{cert}", "-consul-ssl-key", "{key}"], "CERTIFICATE_VERIFY_FAILED"),  # unknown CA
])
def test_tls_failures_are_logged_and_retried(tls_front: tuple[int, CertFiles], tmp_path: Path,
                                             flags: list[str], symptom: str) -> None:
    port, certs = tls_front
    src = tmp_path / "in.ctmpl"
    src.write_text('{{ key "tls/v" }}')
    args = [f.format(ca=certs.ca, cert=certs.client_cert, key=certs.client_key) for f in flags]
    p = TemplateProcess(tmp_path, "-consul-addr", f"127.0.0.1:{port}", "-consul-ssl", *args,
                        "-consul-retry-backoff", "50ms", "-template", f"{src}:{tmp_path}/out")
    try:
        wait_until(lambda: p.log().count(symptom) >= 2, 20.0, what=f"{symptom} logged twice (retried)")
        assert p.alive() and not (tmp_path / "out").exists()
    finally:
        assert p.stop() == 0


def test_token_and_basic_auth_reach_consul(shared_agent: AgentProcess, tmp_path: Path) -> None:
    """nginx in front of the agent demands basic auth and checks X-Consul-Token."""
    n = Nginx(tmp_path / "nginx")
    port = free_port()
    (n.root / "htpasswd").write_text("ct:{PLAIN}pa55\n")
    (n.vhost_dir / "auth.conf").write_text(
        f"server {{\n  listen 127.0.0.1:{port};\n  auth_basic consul;\n  auth_basic_user_file {n.root}/htpasswd;\n"
        f"  location / {{\n    if ($http_x_consul_token != \"s3cret\") {{ return 403; }}\n"
        f"    proxy_pass http://{shared_agent.http_addr};\n  }}\n}}\n")
    n.start()
    try:
        kv_put(shared_agent, "auth/v", "let in")
        src = tmp_path / "in.ctmpl"
        src.write_text('{{ key "auth/v" }}')
        ok = subprocess.run([sys.executable, "-m", "pytemplate", "-once", "-consul-addr", f"127.0.0.1:{port}",
                             "-consul-auth", "ct:pa55", "-consul-token", "s3cret", "-template", f"{src}:{tmp_path}/a"],
                            capture_output=True, text=True, timeout=30)
        assert ok.returncode == 0, ok.stderr
        assert read(tmp_path / "a") == "let in"
        for flags, code in ((["-consul-auth", "ct:pa55"], "403"), (["-consul-token", "s3cret"], "401")):
            denied = subprocess.run([sys.executable, "-m", "pytemplate", "-once", "-consul-addr", f"127.0.0.1:{port}",
                                     *flags, "-consul-retry-attempts", "1", "-consul-retry-backoff", "10ms",
                                     "-template", f"{src}:{tmp_path}/b"], capture_output=True, text=True, timeout=30)
            assert denied.returncode == 1
            assert f"unexpected response code: {code}" in denied.stderr
    finally:
        n.stop()
