"""HTTP(S) checks against a real server the test makes healthy and unhealthy."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from pyconsul.checks import CheckScheduler
from pyconsul.clock import FakeClock
from tests.checks.conftest import HealthServer, Recorder, run_once, self_signed_context
from tests.support.ports import free_port


async def test_status_follows_the_server(
    scheduler: CheckScheduler, recorder: Recorder, clock: FakeClock, http_server: HealthServer
) -> None:
    url = http_server.url()
    scheduler.add({"CheckID": "web", "HTTP": url, "Interval": "10s"})
    await run_once(scheduler, clock, 10)
    assert recorder.last("web") == ("passing", f"HTTP GET {url}: 200 OK Output: ok")

    http_server.status, http_server.body = 503, b"down for maintenance"
    await run_once(scheduler, clock, 10)
    assert recorder.last("web") == ("critical", f"HTTP GET {url}: 503 Service Unavailable Output: down for maintenance")

    http_server.status, http_server.body = 429, b"slow down"
    await run_once(scheduler, clock, 10)
    assert recorder.last("web") == ("warning", f"HTTP GET {url}: 429 Too Many Requests Output: slow down")

    http_server.status, http_server.body = 204, b""
    await run_once(scheduler, clock, 10)
    assert recorder.last("web")[0] == "passing"
    assert scheduler.status("web")[0] == "passing"


async def test_method_headers_and_body_are_sent(
    scheduler: CheckScheduler, recorder: Recorder, clock: FakeClock, http_server: HealthServer
) -> None:
    scheduler.add({
        "CheckID": "post", "HTTP": http_server.url("/check?x=1"), "Method": "put", "Body": '{"probe": true}',
        "Header": {"X-Token": ["abc"], "Accept": ["application/json"]}, "Interval": "5s",
    })
    await run_once(scheduler, clock, 5)
    (req,) = http_server.requests
    assert req["method"] == "PUT" and req["path"] == "/check?x=1"
    headers = req["headers"]
    assert isinstance(headers, dict)
    assert headers["X-Token"] == "abc" and headers["Accept"] == "application/json"
    assert headers["User-Agent"] == "Consul Health Check"
    assert req["body"] == b'{"probe": true}'
    assert recorder.last("post")[1].startswith(f"HTTP PUT {http_server.url('/check?x=1')}: 200 OK")


async def test_output_is_capped_to_the_last_4k(
    scheduler: CheckScheduler, recorder: Recorder, clock: FakeClock, http_server: HealthServer
) -> None:
    http_server.body = b"".join(b"%05d\n" % i for i in range(2000))  # 12,000 bytes
    scheduler.add({"CheckID": "big", "HTTP": http_server.url(), "Interval": "10s"})
    await run_once(scheduler, clock, 10)
    status, output = recorder.last("big")
    body = output.split(" Output: ", 1)[1]
    assert status == "passing"
    assert len(body.encode()) == 4096
    assert body.endswith("01999\n") and http_server.body.decode().endswith(body)


async def test_unreachable_and_slow_servers_are_critical(
    scheduler: CheckScheduler, recorder: Recorder, clock: FakeClock, http_server: HealthServer
) -> None:
    port = free_port()
    scheduler.add({"CheckID": "gone", "HTTP": f"http://127.0.0.1:{port}/", "Interval": "10s"})
    http_server.hold = asyncio.Event()
    scheduler.add({"CheckID": "slow", "HTTP": http_server.url(), "Interval": "10s", "Timeout": "300ms"})
    started = time.monotonic()
    await run_once(scheduler, clock, 10)
    assert time.monotonic() - started < 5
    assert recorder.last("gone") == (
        "critical", f'Get "http://127.0.0.1:{port}/": dial tcp 127.0.0.1:{port}: connect: connection refused'
    )
    status, output = recorder.last("slow")
    assert status == "critical" and "context deadline exceeded" in output


async def test_https_with_tls_skip_verify_and_server_name(
    scheduler: CheckScheduler, recorder: Recorder, clock: FakeClock, tmp_path: Path
) -> None:
    srv = await HealthServer().start(tls=self_signed_context(tmp_path))
    try:
        scheduler.add({"CheckID": "verify", "HTTP": srv.url(), "Interval": "10s"})
        scheduler.add({
            "CheckID": "skip", "HTTP": srv.url(), "TLSSkipVerify": True, "TLSServerName": "health.test",
            "Interval": "10s",
        })
        await run_once(scheduler, clock, 10)
        status, output = recorder.last("verify")
        assert status == "critical" and "certificate" in output.lower()
        assert recorder.last("skip") == ("passing", f"HTTP GET {srv.url()}: 200 OK Output: ok")
        assert "health.test" in srv.sni
    finally:
        await srv.stop()


async def test_agent_tls_for_checks_trusts_the_agents_ca(recorder: Recorder, clock: FakeClock, tmp_path: Path) -> None:
    from pyconsul.config.loader import load_agent_config

    srv = await HealthServer().start(tls=self_signed_context(tmp_path))
    rc = load_agent_config(["-dev", "-hcl", f'enable_agent_tls_for_checks = true\nca_file = "{tmp_path / "cert.pem"}"'])
    s = CheckScheduler.from_config(recorder, rc, clock=clock)
    try:
        s.add({"CheckID": "ca", "HTTP": srv.url(), "Interval": "10s"})
        s.add({"CheckID": "name", "HTTP": srv.url(), "TLSServerName": "health.test", "Interval": "10s"})
        s.add({"CheckID": "wrong-name", "HTTP": srv.url(), "TLSServerName": "other.test", "Interval": "10s"})
        await run_once(s, clock, 10)
        assert recorder.last("ca")[0] == "passing"
        assert recorder.last("name")[0] == "passing"
        status, output = recorder.last("wrong-name")
        assert status == "critical" and "other.test" in output
    finally:
        await s.stop()
        await srv.stop()


async def _raw_server(response: bytes) -> tuple[asyncio.Server, str]:
    """A TCP server that answers any request with exactly `response`, then closes."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(response)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/health"


async def test_response_framings(scheduler: CheckScheduler, recorder: Recorder, clock: FakeClock) -> None:
    chunked, chunked_url = await _raw_server(
        b"HTTP/1.1 200 Fine\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    closed, closed_url = await _raw_server(b"HTTP/1.0 503 Busy\r\n\r\nread until close")
    garbage, garbage_url = await _raw_server(b"SSH-2.0-OpenSSH_9.2\r\n")
    try:
        scheduler.add({"CheckID": "chunked", "HTTP": chunked_url, "Interval": "10s"})
        scheduler.add({"CheckID": "closed", "HTTP": closed_url, "Interval": "10s"})
        scheduler.add({"CheckID": "garbage", "HTTP": garbage_url, "Interval": "10s"})
        await run_once(scheduler, clock, 10)
        assert recorder.last("chunked") == ("passing", f"HTTP GET {chunked_url}: 200 Fine Output: hello world")
        assert recorder.last("closed") == ("critical", f"HTTP GET {closed_url}: 503 Busy Output: read until close")
        status, output = recorder.last("garbage")
        assert status == "critical" and output.startswith(f'Get "{garbage_url}": ')
    finally:
        for srv in (chunked, closed, garbage):
            srv.close()


async def test_redirects_are_followed_unless_disabled(
    scheduler: CheckScheduler, recorder: Recorder, clock: FakeClock, http_server: HealthServer
) -> None:
    moved, moved_url = await _raw_server(
        f"HTTP/1.1 302 Found\r\nLocation: {http_server.url('/final')}\r\nContent-Length: 0\r\n\r\n".encode())
    try:
        scheduler.add({"CheckID": "follow", "HTTP": moved_url, "Interval": "10s"})
        scheduler.add({"CheckID": "stay", "HTTP": moved_url, "DisableRedirects": True, "Interval": "10s"})
        scheduler.add({"CheckID": "head", "HTTP": http_server.url(), "Method": "HEAD", "Interval": "10s"})
        await run_once(scheduler, clock, 10)
        assert recorder.last("follow") == ("passing", f"HTTP GET {moved_url}: 200 OK Output: ok")
        assert recorder.last("stay") == ("critical", f"HTTP GET {moved_url}: 302 Found Output: ")
        assert recorder.last("head") == ("passing", f"HTTP HEAD {http_server.url()}: 200 OK Output: ")
        assert [r["path"] for r in http_server.requests if r["method"] == "GET"] == ["/final"]
    finally:
        moved.close()


def test_http_checks_on_uvloop(tmp_path: Path) -> None:
    """The agent runs on uvloop: the same checks, on its loop and transports."""
    uvloop = pytest.importorskip("uvloop")

    async def main() -> list[tuple[str, str, str]]:
        recorder, clock = Recorder(), FakeClock()
        srv = await HealthServer().start()
        tls = await HealthServer().start(tls=self_signed_context(tmp_path))
        s = CheckScheduler(recorder, clock=clock)
        try:
            s.add({"CheckID": "plain", "HTTP": srv.url(), "Interval": "10s"})
            s.add({"CheckID": "tls", "HTTP": tls.url(), "TLSSkipVerify": True, "Interval": "10s"})
            s.add({"CheckID": "refused", "HTTP": f"http://127.0.0.1:{free_port()}/", "Interval": "10s"})
            await run_once(s, clock, 10)
            return sorted(recorder.updates)
        finally:
            await s.stop()
            await srv.stop()
            await tls.stop()

    updates = uvloop.run(main())
    assert [(cid, status) for cid, status, _ in updates] == [
        ("plain", "passing"), ("refused", "critical"), ("tls", "passing")]
