"""examples/ingress: the three HTTPS modes with real nginx, pytemplate, a dev agent and backends
as processes on this test's own loopback addresses; requests made with the curl binary.

Services choose a mode by tag (https-terminate, https-reencrypt, tls-passthrough) and are reached
as <service>.ingress.test; every route here comes from the catalog, none from an edited file.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.agents import AgentProcess, start_agent
from tests.support.ports import free_port, loopback
from tests.support.wait import wait_until

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "ingress"
DOMAIN = "ingress.test"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
STREAM_MODULE = Path("/usr/lib/nginx/modules/ngx_stream_module.so")

pytestmark = [
    pytest.mark.xdist_group("ingress-examples"),
    pytest.mark.skipif(not Path(NGINX).exists() or not STREAM_MODULE.exists(),
                       reason="needs nginx and libnginx-mod-stream (scripts/ci.sh installs them)"),
]


@dataclass
class Ingress:
    agent: AgentProcess
    addr: str
    workdir: Path
    certs: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def nginx(self, *args: str) -> tuple[int, str]:
        """Run nginx with this workdir's config; (exit code, its output so far)."""
        log_path = self.workdir / "nginx.log"
        # A file, not a pipe: the daemonised master keeps stderr open.
        with open(log_path, "ab") as log:
            rc = subprocess.run([NGINX, "-p", f"{self.workdir}/", "-c", str(self.workdir / "nginx.conf"), *args],
                                stdout=log, stderr=subprocess.STDOUT, timeout=30).returncode
        return rc, log_path.read_text()[-2000:]

    def backend(self, name: str, *tls: str) -> tuple[str, int]:
        """Start a backend process; returns its address."""
        addr, port = loopback(10), free_port()
        log = open(self.workdir / f"backend-{name}-{port}.log", "ab")
        proc = subprocess.Popen([sys.executable, str(EXAMPLE / "backend.py"), name, addr, str(port), *tls],
                                stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        wait_until(lambda: socket.create_connection((addr, port), timeout=1).close() or True, timeout=10,
                   what=f"backend {name} listening")
        return addr, port

    def register(self, name: str, tag: str, where: tuple[str, int]) -> None:
        status, _, body = self.agent.request("PUT", "/v1/agent/service/register", {
            "ID": f"{name}-{where[1]}", "Name": name, "Tags": [tag], "Address": where[0], "Port": where[1]})
        assert status == 200, body

    def tls_backend(self, name: str, cert: str, *extra: str) -> tuple[str, int]:
        return self.backend(name, "--cert", str(self.certs / f"{cert}.pem"),
                            "--key", str(self.certs / f"{cert}-key.pem"), *extra)


def curl(ing: Ingress, host: str, port: int, *args: str, scheme: str = "https") -> tuple[int, str]:
    """curl as a user would: the name resolved to nginx's address, our CA trusted."""
    proc = subprocess.run(
        ["curl", "-sS", "-m", "5", "--cacert", str(ing.certs / "consul-agent-ca.pem"),
         "--resolve", f"{host}:{port}:{ing.addr}", *args, f"{scheme}://{host}:{port}/"],
        capture_output=True, text=True, timeout=20)
    return proc.returncode, proc.stdout.strip() or proc.stderr.strip()


def served_certificate(ing: Ingress, host: str, port: int) -> bytes:
    ctx = ssl.create_default_context(cafile=str(ing.certs / "consul-agent-ca.pem"))
    with socket.create_connection((ing.addr, port), timeout=5) as sock:
        with ctx.wrap_socket(sock, server_hostname=host) as tls:
            return tls.getpeercert(binary_form=True) or b""


def pem_to_der(path: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(path.read_text())


def make_certs(target: Path, *backends: str) -> None:
    subprocess.run(["bash", str(EXAMPLE / "make-certs.sh"), str(target), DOMAIN, *backends], check=True,
                   capture_output=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)


@pytest.fixture(scope="module")
def ingress(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ingress]:
    work = tmp_path_factory.mktemp("ingress")
    certs = work / "certs"
    make_certs(certs, "api", "vault")
    for sub in ("http.d", "stream.d", "tmp"):
        (work / sub).mkdir()
    shutil.copy(EXAMPLE / "nginx.conf", work / "nginx.conf")
    agent = start_agent(work / "agent", host=loopback(1))
    ing = Ingress(agent, loopback(2), work, certs)
    try:
        reload_cmd = f"{NGINX} -p {work}/ -c {work}/nginx.conf -s reload"
        templates = [
            f"-template={EXAMPLE}/termination.ctmpl:{work}/http.d/termination.conf:{reload_cmd}",
            f"-template={EXAMPLE}/reencrypt.ctmpl:{work}/http.d/reencrypt.conf:{reload_cmd}",
            f"-template={EXAMPLE}/passthrough.ctmpl:{work}/stream.d/passthrough.conf:{reload_cmd}",
        ]
        env = {**os.environ, "PYTHONPATH": str(REPO), "INGRESS_ADDR": ing.addr,
               "INGRESS_CERTS": str(certs), "INGRESS_DOMAIN": DOMAIN}
        pt = [sys.executable, "-m", "pytemplate", f"-consul-addr={agent.http_addr}", *templates]
        # The first render happens before nginx runs (its reload would have nothing to signal).
        once = subprocess.run([*pt, "-once"], env=env, capture_output=True, text=True, timeout=60)
        assert (work / "stream.d" / "passthrough.conf").exists(), once.stderr
        rc, out = ing.nginx()
        assert rc == 0, out
        log = open(work / "pytemplate.log", "ab")
        ing.procs.append(subprocess.Popen(pt, env=env, stdout=log, stderr=subprocess.STDOUT))

        shop = ing.backend("shop")
        ing.register("shop", "https-terminate", shop)
        ing.register("blog", "https-terminate", ing.backend("blog"))
        ing.register("api", "https-reencrypt", ing.tls_backend("api", "backend-api"))
        # Its certificate names "api", not "rogue": nginx must refuse to talk to it.
        ing.register("rogue", "https-reencrypt", ing.tls_backend("rogue", "backend-api"))
        ing.register("vault", "tls-passthrough", ing.tls_backend(
            "vault", "backend-vault", "--client-ca", str(certs / "consul-agent-ca.pem")))
        wait_until(lambda: curl(ing, f"vault.{DOMAIN}", 9443, "--cert", str(certs / "client.pem"),
                                "--key", str(certs / "client-key.pem"))[0] == 0,
                   timeout=20, interval=0.2, what="routes rendered and nginx reloaded")
        yield ing
    finally:
        for proc in ing.procs:
            proc.terminate()
        ing.nginx("-s", "stop")
        for proc in ing.procs:
            proc.wait(timeout=10)
        agent.stop()


def test_termination_routes_each_name_to_its_service_over_http2(ingress: Ingress) -> None:
    assert curl(ingress, f"shop.{DOMAIN}", 8443) == (0, "shop")
    assert curl(ingress, f"blog.{DOMAIN}", 8443) == (0, "blog")
    assert curl(ingress, f"shop.{DOMAIN}", 8443, "--http2", "-o", "/dev/null", "-w", "%{http_version}") == (0, "2")
    assert curl(ingress, f"shop.{DOMAIN}", 8443, "--tlsv1.0", "--tls-max", "1.1")[0] != 0


def test_plain_http_to_the_https_port_gets_nginx_400(ingress: Ingress) -> None:
    rc, body = curl(ingress, f"shop.{DOMAIN}", 8443, "-w", "\n%{http_code}", scheme="http")
    assert rc == 0 and body.endswith("400")
    assert "The plain HTTP request was sent to HTTPS port" in body


def test_unknown_name_is_refused_in_every_mode(ingress: Ingress) -> None:
    for port in (8443, 8444, 9443):
        rc, err = curl(ingress, f"nobody.{DOMAIN}", port)
        assert rc != 0, (port, err)


def test_reencrypt_verifies_the_backend_certificate_by_service_name(ingress: Ingress) -> None:
    assert curl(ingress, f"api.{DOMAIN}", 8444) == (0, "api")
    rc, body = curl(ingress, f"rogue.{DOMAIN}", 8444, "-o", "/dev/null", "-w", "%{http_code}")
    assert (rc, body) == (0, "502")


def test_passthrough_backend_holds_tls_and_requires_our_client_certificate(
        ingress: Ingress, tmp_path: Path) -> None:
    certs = ingress.certs
    mine = ("--cert", str(certs / "client.pem"), "--key", str(certs / "client-key.pem"))
    assert curl(ingress, f"vault.{DOMAIN}", 9443, *mine) == (0, "vault client=client.dc1.consul")
    # The certificate seen is the backend's own, not nginx's.
    assert served_certificate(ingress, f"vault.{DOMAIN}", 9443) == pem_to_der(certs / "backend-vault.pem")
    assert curl(ingress, f"vault.{DOMAIN}", 9443)[0] != 0  # no client certificate
    make_certs(tmp_path / "other-ca")  # a client certificate from a CA the backend does not trust
    other = ("--cert", str(tmp_path / "other-ca" / "client.pem"), "--key", str(tmp_path / "other-ca" / "client-key.pem"))
    assert curl(ingress, f"vault.{DOMAIN}", 9443, *other)[0] != 0


def test_a_newly_tagged_service_gets_a_route_with_no_file_edited(ingress: Ingress) -> None:
    ingress.register("late", "https-terminate", ingress.backend("late"))
    wait_until(lambda: curl(ingress, f"late.{DOMAIN}", 8443) == (0, "late"), timeout=15, interval=0.1,
               what="the late service reachable through nginx")


def test_rotated_certificate_is_served_after_reload_without_failed_requests(
        ingress: Ingress, tmp_path: Path) -> None:
    failures: list[str] = []
    done = threading.Event()
    count = 0

    def hammer() -> None:
        nonlocal count
        while not done.is_set():
            rc, body = curl(ingress, f"shop.{DOMAIN}", 8443)
            count += 1
            if (rc, body) != (0, "shop"):
                failures.append(body)

    old = pem_to_der(ingress.certs / "edge.pem")
    thread = threading.Thread(target=hammer)
    thread.start()
    try:
        # A new edge certificate from the same CA, moved into place over the old files.
        fresh = tmp_path / "fresh"
        shutil.copytree(ingress.certs, fresh)
        for f in ("edge.pem", "edge-key.pem"):
            (fresh / f).unlink()
        make_certs(fresh)
        for f in ("edge-key.pem", "edge.pem"):
            os.replace(fresh / f, ingress.certs / f)
        rc, out = ingress.nginx("-s", "reload")
        assert rc == 0, out
        new = pem_to_der(ingress.certs / "edge.pem")
        assert new != old
        wait_until(lambda: served_certificate(ingress, f"shop.{DOMAIN}", 8443) == new, timeout=10,
                   what="nginx serving the rotated certificate")
        # More requests across the old workers' graceful exit.
        seen = count
        wait_until(lambda: count >= seen + 10, timeout=20, what="requests after the reload")
    finally:
        done.set()
        thread.join()
    assert failures == [] and count > 5


def test_a_container_with_the_mode_in_its_labels_gets_a_route_through_pyregistrator(ingress: Ingress) -> None:
    """The convention end to end: `docker run` with SERVICE_NAME/SERVICE_TAGS, pyregistrator
    registers it, pytemplate renders the route, nginx reloads; no file is edited."""
    from tests.pyregistrator.docker_env import Containers, engine_lock, skip_reason, start_registrator

    if (reason := skip_reason()) is not None:
        pytest.skip(reason)
    with engine_lock():
        containers = Containers()
        registrator = start_registrator(ingress.workdir, ingress.agent, "-resync=0")
        try:
            # busybox httpd answering "hello", published on loopback only (its address in the catalog).
            containers.run("labelled", "-p", "127.0.0.1::80", "-e", "SERVICE_NAME=labelled",
                           "-e", "SERVICE_TAGS=https-terminate")
            wait_until(lambda: curl(ingress, f"labelled.{DOMAIN}", 8443) == (0, "hello"), timeout=20,
                       interval=0.1, what="the labelled container reachable through nginx")
            # Stopping it deregisters the service's only instance, so the route goes with it: the
            # name is unknown again and gets no TLS handshake.
            containers.stop("labelled")
            wait_until(lambda: curl(ingress, f"labelled.{DOMAIN}", 8443)[0] != 0, timeout=20, interval=0.1,
                       what="the stopped container's route gone")
        finally:
            registrator.stop()
            containers.remove_all()
