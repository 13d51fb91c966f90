"""Checks and config-file services in a real agent: the catalog follows real servers; reload; gating."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support.agents import AgentProcess, start_agent
from tests.support.wait import wait_until


class Health:
    """A real threaded HTTP server whose /health status the test sets."""

    def __init__(self) -> None:
        self.status = 200
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                body = b"status %d" % owner.status
                self.send_response(owner.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def health() -> Iterator[Health]:
    h = Health()
    yield h
    h.close()


def check_status(agent: AgentProcess, service: str, check_id: str) -> tuple[str, str] | None:
    for entry in agent.get_json(f"/v1/health/service/{service}"):
        for chk in entry["Checks"]:
            if chk["CheckID"] == check_id:
                return chk["Status"], chk["Output"]
    return None


@pytest.fixture
def conf_dir(tmp_path: Path) -> Path:
    d = tmp_path / "consul.d"
    d.mkdir()
    return d


def test_config_dir_services_and_checks_follow_real_servers(tmp_path: Path, conf_dir: Path, health: Health) -> None:
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen()
    tcp_port = tcp.getsockname()[1]
    (conf_dir / "web.json").write_text(json.dumps({
        "service": {"name": "web", "port": health.port,
                    "check": {"http": f"http://127.0.0.1:{health.port}/health", "interval": "1s"}},
    }))
    (conf_dir / "db.hcl").write_text(
        f'service {{\n  name = "db"\n  port = {tcp_port}\n'
        f'  checks = [{{ tcp = "127.0.0.1:{tcp_port}", interval = "1s" }}]\n}}\n'
    )
    agent = start_agent(tmp_path, "-config-dir", str(conf_dir))
    try:
        url = f"http://127.0.0.1:{health.port}/health"
        assert wait_until(lambda: check_status(agent, "web", "service:web") == (
            "passing", f"HTTP GET {url}: 200 OK Output: status 200"), 15.0, what="web passing")
        assert wait_until(lambda: (check_status(agent, "db", "service:db") or ("",))[0] == "passing", 15.0, what="db passing")

        health.status = 500
        wait_until(lambda: check_status(agent, "web", "service:web") == (
            "critical", f"HTTP GET {url}: 500 Internal Server Error Output: status 500"), 15.0, what="web critical")
        passing = agent.get_json("/v1/health/service/web?passing")
        assert passing == []

        tcp.close()
        wait_until(lambda: check_status(agent, "db", "service:db") == (
            "critical", f"dial tcp 127.0.0.1:{tcp_port}: connect: connection refused"), 15.0, what="db critical")
        health.status = 200
        wait_until(lambda: (check_status(agent, "web", "service:web") or ("",))[0] == "passing", 15.0, what="web back")
    finally:
        agent.stop()
        tcp.close()


def test_ttl_check_through_the_http_api(tmp_path: Path, conf_dir: Path) -> None:
    (conf_dir / "app.json").write_text(json.dumps({
        "service": {"name": "app", "check": {"id": "app-ttl", "ttl": "6s"}},
    }))
    agent = start_agent(tmp_path, "-config-dir", str(conf_dir))
    try:
        assert check_status(agent, "app", "app-ttl") == ("critical", "")
        status, _, _ = agent.request("PUT", "/v1/agent/check/pass/app-ttl?note=working")
        assert status == 200
        wait_until(lambda: check_status(agent, "app", "app-ttl") == ("passing", "working"), 15.0, what="ttl pass")
        wait_until(lambda: check_status(agent, "app", "app-ttl") == (
            "critical", "TTL expired (last output before timeout follows): working"), 20, what="ttl expiry")
    finally:
        agent.stop()


def test_script_checks_refused_over_http_unless_enabled(tmp_path: Path) -> None:
    check = {"Name": "script", "Args": ["sh", "-c", "echo hello"], "Interval": "1s"}
    off = start_agent(tmp_path / "off", name="off")
    try:
        status, _, body = off.request("PUT", "/v1/agent/check/register", check)
        assert status >= 400
        assert b"Scripts are disabled on this agent" in body
        assert "script" not in off.get_json("/v1/agent/checks")
    finally:
        off.stop()
    on = start_agent(tmp_path / "on", "-enable-script-checks", name="on")
    try:
        status, _, body = on.request("PUT", "/v1/agent/check/register", check)
        assert status == 200, body
        wait_until(lambda: on.get_json("/v1/agent/checks").get("script", {}).get("Output") == "hello\n", 15.0, what="ran")
        assert on.get_json("/v1/agent/checks")["script"]["Status"] == "passing"
    finally:
        on.stop()


def test_reload_adds_and_removes_a_service_file(tmp_path: Path, conf_dir: Path, health: Health) -> None:
    (conf_dir / "base.json").write_text(json.dumps({"node_meta": {"rack": "r1"}}))
    agent = start_agent(tmp_path, "-config-dir", str(conf_dir))
    try:
        assert "api" not in agent.get_json("/v1/catalog/services")
        (conf_dir / "api.json").write_text(json.dumps({
            "service": {"name": "api", "port": health.port,
                        "check": {"http": f"http://127.0.0.1:{health.port}/", "interval": "1s"}},
        }))
        status, _, body = agent.request("PUT", "/v1/agent/reload")
        assert status == 200, body
        wait_until(lambda: "api" in agent.get_json("/v1/catalog/services"), 15.0, what="api registered")
        wait_until(lambda: (check_status(agent, "api", "service:api") or ("",))[0] == "passing", 15.0, what="api passing")

        (conf_dir / "api.json").unlink()
        status, _, body = agent.request("PUT", "/v1/agent/reload")
        assert status == 200, body
        wait_until(lambda: "api" not in agent.get_json("/v1/catalog/services"), 15.0, what="api removed")
        assert "service:api" not in agent.get_json("/v1/agent/checks")
    finally:
        agent.stop()



def test_service_deregistered_after_critical_too_long(tmp_path: Path, conf_dir: Path, health: Health) -> None:
    # Consul never lets deregister_critical_service_after go below one minute and reaps every
    # 30 s; the hidden check_deregister_interval_min / check_reap_interval shorten both for the test.
    (conf_dir / "flaky.json").write_text(json.dumps({
        "check_deregister_interval_min": "1s", "check_reap_interval": "500ms",
        "service": {"name": "flaky", "port": health.port,
                    "check": {"http": f"http://127.0.0.1:{health.port}/", "interval": "1s",
                              "deregister_critical_service_after": "4s"}},
    }))
    agent = start_agent(tmp_path, "-config-dir", str(conf_dir))
    try:
        wait_until(lambda: (check_status(agent, "flaky", "service:flaky") or ("",))[0] == "passing", 15.0, what="passing")
        health.status = 503
        wait_until(lambda: (check_status(agent, "flaky", "service:flaky") or ("",))[0] == "critical", 15.0, what="critical")
        assert "flaky" in agent.get_json("/v1/catalog/services")
        wait_until(lambda: "flaky" not in agent.get_json("/v1/catalog/services"), 20, what="deregistered")
        assert "flaky" not in agent.get_json("/v1/agent/services")
    finally:
        agent.stop()


def test_alias_check_follows_the_aliased_service(tmp_path: Path, conf_dir: Path, health: Health) -> None:
    (conf_dir / "services.json").write_text(json.dumps({"services": [
        {"name": "backend", "port": health.port,
         "check": {"http": f"http://127.0.0.1:{health.port}/", "interval": "1s"}},
        {"name": "frontend", "port": 1, "check": {"alias_service": "backend"}},
    ]}))
    agent = start_agent(tmp_path, "-config-dir", str(conf_dir))
    try:
        wait_until(lambda: (check_status(agent, "frontend", "service:frontend") or ("",))[0] == "passing", 15.0, what="alias passing")
        health.status = 503
        wait_until(lambda: (check_status(agent, "frontend", "service:frontend") or ("",))[0] == "critical", 15.0, what="alias critical")
        assert "failing" in (check_status(agent, "frontend", "service:frontend") or ("", ""))[1]
    finally:
        agent.stop()


def test_sighup_reloads_service_files(tmp_path: Path, conf_dir: Path) -> None:
    import signal

    agent = start_agent(tmp_path, "-config-dir", str(conf_dir))
    try:
        # Signals are handled once start-up is complete (Consul installs its handlers then too).
        wait_until(lambda: "Consul agent running!" in agent.log(), 15.0, what="agent running")
        (conf_dir / "cache.hcl").write_text('service {\n  name = "cache"\n  port = 6379\n}\n')
        agent.signal(signal.SIGHUP)
        wait_until(lambda: "cache" in agent.get_json("/v1/catalog/services"), 15.0, what="cache registered")
        (conf_dir / "cache.hcl").write_text('service {\n  name = "cache"\n  port = 6380\n}\n')
        agent.signal(signal.SIGHUP)
        wait_until(lambda: [s["ServicePort"] for s in agent.get_json("/v1/catalog/service/cache")] == [6380], 15.0, what="cache port updated")
        (conf_dir / "cache.hcl").write_text("service {\n")  # broken: the agent keeps running, unchanged
        agent.signal(signal.SIGHUP)
        wait_until(lambda: "reload failed" in agent.log() and "cache.hcl" in agent.log(), 15.0, what="reload error logged")
        assert agent.alive()
        assert [s["ServicePort"] for s in agent.get_json("/v1/catalog/service/cache")] == [6380]
    finally:
        agent.stop()
