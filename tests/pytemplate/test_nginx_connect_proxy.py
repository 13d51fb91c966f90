"""consul-template's nginx-connect-proxy recipe with pytemplate: nginx, fed the `ingress` leaf and
the roots by `caLeaf`/`caRoots` and the mesh endpoints of `webserver` by `connect`, reaches
webserver through its sidecar over mTLS; `intention create -deny ingress webserver` makes the
sidecar refuse nginx's certificate and nginx answers 502.

Needs the Connect CA endpoints and `pyconsul connect proxy`; skipped on an agent without them."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.connect.test_mesh_catalog import mesh_host
from tests.pytemplate.nginx_proc import Nginx
from tests.support.agents import start_agent
from tests.support.ports import free_port
from tests.support.wait import wait_until

CA_TMPL = "{{range caRoots}}{{.RootCertPEM}}{{end}}"
CERT_TMPL = '{{with caLeaf "ingress"}}{{.CertPEM}}{{end}}'
KEY_TMPL = '{{with caLeaf "ingress"}}{{.PrivateKeyPEM}}{{end}}'
CONF_TMPL = """server {
    listen 127.0.0.1:%(port)d;
    location / {
{{range connect "webserver"}}        proxy_pass https://{{.Address}}:{{.Port}};
{{end}}        proxy_ssl_certificate %(dir)s/cert.pem;
        proxy_ssl_certificate_key %(dir)s/cert.key;
        proxy_ssl_trusted_certificate %(dir)s/ca.crt;
    }
}
"""


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = b"hello from webserver\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def get(port: int) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except (urllib.error.URLError, OSError):
        return 0, ""


@pytest.mark.skipif(not Nginx.available(), reason="nginx is not installed")
def test_nginx_connect_proxy_recipe(tmp_path: Path) -> None:
    sidecar_port = free_port()
    conf = tmp_path / "agent.json"
    conf.write_text(json.dumps({"ports": {"sidecar_min_port": sidecar_port, "sidecar_max_port": sidecar_port}}))
    agent = start_agent(tmp_path, "-config-file", str(conf), host=mesh_host(4), name="recipe")
    backend = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Hello)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    procs: list[subprocess.Popen[bytes]] = []
    nginx = Nginx(tmp_path / "nginx")
    env = {**os.environ, "CONSUL_HTTP_ADDR": agent.http_addr}
    py = [sys.executable, "-m", "pyconsul"]
    try:
        if agent.request("GET", "/v1/agent/connect/ca/roots")[0] == 404:
            pytest.skip("this agent does not serve the Connect CA endpoints")
        wait_until(lambda: agent.get_json("/v1/agent/connect/ca/roots")["Roots"], what="the CA's root")
        for svc in ({"Name": "webserver", "Port": backend.server_port, "Connect": {"SidecarService": {}}},
                    {"Name": "ingress", "Port": nginx.port, "Connect": {}}):
            assert agent.request("PUT", "/v1/agent/service/register", svc)[0] == 200
        log = open(tmp_path / "sidecar.log", "wb")  # noqa: SIM115 - closed with the process
        procs.append(subprocess.Popen([*py, "connect", "proxy", "-sidecar-for", "webserver"], env=env,
                                      stdout=log, stderr=subprocess.STDOUT))
        # pytemplate writes the three TLS files and the vhost once everything is known.
        work = tmp_path / "tls"
        work.mkdir()
        args: list[str] = []
        for name, text in (("ca.crt", CA_TMPL), ("cert.pem", CERT_TMPL), ("cert.key", KEY_TMPL)):
            (work / f"{name}.tmpl").write_text(text)
            args += ["-template", f"{work / (name + '.tmpl')}:{work / name}"]
        (work / "proxy.conf.tmpl").write_text(CONF_TMPL % {"port": nginx.port, "dir": work})
        args += ["-template", f"{work / 'proxy.conf.tmpl'}:{nginx.vhost_dir / 'proxy.conf'}"]
        # The sidecar becomes a `connect` endpoint once its listening check passes.
        wait_until(lambda: agent.get_json("/v1/health/connect/webserver?passing"), 30, what="a passing sidecar")
        rendered = subprocess.run([sys.executable, "-m", "pytemplate", "once", "-consul-addr",
                                   agent.http_addr, *args], capture_output=True, text=True, timeout=60)
        assert rendered.returncode == 0, rendered.stderr
        assert "proxy_pass https://" in (nginx.vhost_dir / "proxy.conf").read_text()
        nginx.start()
        assert wait_until(lambda: get(nginx.port) == (200, "hello from webserver\n"), 20, what="nginx over the mesh")

        out = subprocess.run([*py, "intention", "create", "-deny", "ingress", "webserver"], env=env,
                             capture_output=True, text=True, timeout=30)
        assert out.stdout == "Created: ingress => webserver (deny)\n", out.stderr
        # The sidecar's authorize now refuses nginx's `ingress` certificate on new connections.
        assert wait_until(lambda: get(nginx.port)[0] == 502, 20, what="502 once denied")
    finally:
        nginx.stop()
        for p in procs:
            p.terminate()
            p.wait(10)
        backend.shutdown()
        agent.stop()
