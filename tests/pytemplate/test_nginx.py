"""Seed step 3.3 for real: pytemplate renders the seed's nginx.ctmpl and reloads a real nginx.

Backends are real HTTP servers registered as `nginx` instances through the agent's HTTP API;
requests go through nginx's upstream; reloads are counted by the reload script itself.
"""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pytemplate.helpers import Backend, TemplateProcess, deregister, read, register
from tests.pytemplate.nginx_proc import Nginx
from tests.support.agents import AgentProcess
from tests.support.wait import wait_until

pytestmark = pytest.mark.skipif(not Nginx.available(), reason="nginx is not installed (.ci/run installs it)")


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Nginx]:
    n = Nginx(tmp_path / "nginx")
    n.start()
    yield n
    n.stop()


@pytest.fixture
def backends() -> Iterator[list[Backend]]:
    made = [Backend(f"test{i} web") for i in range(1, 5)]
    yield made
    for b in made:
        b.close()


def bodies_seen(n: Nginx, tries: int = 12) -> set[str]:
    return {b.strip() for b in (n.get() for _ in range(tries)) if b}


def upstream_servers(conf: Path) -> list[str]:
    return re.findall(r"server (\S+:\d+);", read(conf))


def renders_in(log: str) -> int:
    return log.count("(runner) rendered ")


class KV:
    """One keep-alive connection for a burst of writes."""

    def __init__(self, agent: AgentProcess) -> None:
        self.conn = http.client.HTTPConnection(agent.host, agent.http_port, timeout=10)

    def put(self, path: str, body: bytes) -> None:
        self.conn.request("PUT", path, body=body)
        resp = self.conn.getresponse()
        resp.read()
        assert resp.status == 200, (path, resp.status)

    def close(self) -> None:
        self.conn.close()


def test_seed_walkthrough_with_real_nginx(shared_agent: AgentProcess, nginx: Nginx, backends: list[Backend],
                                          tmp_path: Path) -> None:
    b1, b2, b3, b4 = backends
    register(shared_agent, "nginx", "test-01", b1.port)
    register(shared_agent, "nginx", "test-02", b2.port)
    src = tmp_path / "nginx.ctmpl"
    src.write_text(nginx.template_text())
    conf = nginx.vhost_dir / "byyb.conf"
    # The seed's command line, with our paths: -template "in:out:command with spaces".
    p = TemplateProcess(tmp_path, "--consul-addr", shared_agent.http_addr,
                        "--template", f"{src}:{conf}:{nginx.reload_script}", "--log-level=info")
    try:
        # Step 5: requests round-robin over the registered backends.
        wait_until(lambda: bodies_seen(nginx) == {"this is test1 web", "this is test2 web"}, 20.0, what="nginx serving both backends")
        assert nginx.reload_count() == 1
        assert upstream_servers(conf) == [f"127.0.0.1:{b1.port}", f"127.0.0.1:{b2.port}"]

        # Step 6: a new instance appears in the upstream.
        register(shared_agent, "nginx", "test-05", b3.port)
        wait_until(lambda: "this is test3 web" in bodies_seen(nginx), 20.0, what="third backend")
        assert bodies_seen(nginx, 18) == {"this is test1 web", "this is test2 web", "this is test3 web"}
        assert nginx.reload_count() == 2

        # A deregistered instance disappears; once it is out, stopping it costs no request.
        deregister(shared_agent, "test-01")
        wait_until(lambda: f"127.0.0.1:{b1.port}" not in upstream_servers(conf), 20.0, what="rewrite without test-01")
        wait_until(lambda: "this is test1 web" not in bodies_seen(nginx), 20.0, what="nginx dropped test1")
        b1.close()
        assert all(nginx.get() in ("this is test2 web\n", "this is test3 web\n") for _ in range(10))
        assert nginx.reload_count() == 3

        # 1,000 unrelated KV writes and service changes: no rewrite, no reload.
        before = (nginx.reload_count(), renders_in(p.log()), conf.stat().st_mtime_ns, conf.stat().st_ino)
        kv = KV(shared_agent)
        try:
            for i in range(1000):
                kv.put(f"/v1/kv/unrelated/key{i % 100}", f"value {i}".encode())
            for i in range(40):
                svc = {"Name": "other-svc", "ID": f"other-{i % 5}", "Port": 7000 + i, "Address": "127.0.0.9"}
                kv.put("/v1/agent/service/register", json.dumps(svc).encode())
            for i in range(20):  # nginx instances change (tags, meta) but the output does not
                svc = {"Name": "nginx", "ID": "test-02", "Port": b2.port, "Address": "127.0.0.1",
                       "Tags": [f"rev{i}"], "Meta": {"rev": str(i)}}
                kv.put("/v1/agent/service/register", json.dumps(svc).encode())
        finally:
            kv.close()
        # Sync point: one real change behind the storm on the same view must cost exactly one reload.
        register(shared_agent, "nginx", "test-06", b4.port)
        wait_until(lambda: f"127.0.0.1:{b4.port}" in upstream_servers(conf), 20.0, what="fourth backend rendered")
        wait_until(lambda: nginx.reload_count() == before[0] + 1, 20.0, what="its reload")
        assert renders_in(p.log()) == before[1] + 1, p.log()
        assert nginx.reload_count() == before[0] + 1
        wait_until(lambda: "this is test4 web" in bodies_seen(nginx), 20.0, what="fourth backend served")
        assert p.alive()
    finally:
        assert p.stop() == 0, p.log()
        for sid in ("test-01", "test-02", "test-05", "test-06"):
            shared_agent.request("PUT", f"/v1/agent/service/deregister/{sid}")


def test_nginx_config_error_does_not_kill_the_watcher(shared_agent: AgentProcess, nginx: Nginx,
                                                      backends: list[Backend], tmp_path: Path) -> None:
    b1 = backends[0]
    src = tmp_path / "nginx.ctmpl"
    src.write_text(nginx.template_text().replace('service "nginx"', 'service "cfgerr"'))
    conf = nginx.vhost_dir / "cfgerr.conf"
    register(shared_agent, "cfgerr", "cfgerr-1", b1.port)
    p = TemplateProcess(tmp_path, "-consul-addr", shared_agent.http_addr,
                        "-template", f"{src}:{conf}:{nginx.reload_script}")
    try:
        wait_until(lambda: nginx.get() == "this is test1 web\n", 20.0, what="nginx serving")
        # An address nginx rejects: the rendered config is invalid and the reload fails.
        register(shared_agent, "cfgerr", "cfgerr-bad", 9, address="127.0.0.1 bogus")
        wait_until(lambda: "bogus" in read(conf), 20.0, what="bad config rendered")
        wait_until(lambda: "failed" in p.log(), 20.0, what="reload failure logged")
        assert p.alive()
        assert nginx.get() == "this is test1 web\n"  # nginx keeps its last good config
        reloads = nginx.reload_count()
        deregister(shared_agent, "cfgerr-bad")
        wait_until(lambda: "bogus" not in read(conf), 20.0, what="good config rendered")
        wait_until(lambda: nginx.reload_count() == reloads + 1, 20.0, what="reload after the fix")
        assert nginx.get() == "this is test1 web\n"
        assert p.alive()
    finally:
        assert p.stop() == 0, p.log()
        shared_agent.request("PUT", "/v1/agent/service/deregister/cfgerr-1")
