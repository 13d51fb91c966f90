"""gRPC health and HTTP/2 ping checks against a real HTTP/2 server (nginx).

nginx answers the standard health RPC with a static, gRPC-framed HealthCheckResponse file, so the
check's HTTP/2 client, framing and protobuf decoding meet a real HTTP/2 implementation.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyconsul.checks import CheckScheduler
from pyconsul.checks.h2 import health_request, hpack_int, parse_health_response
from pyconsul.clock import FakeClock
from tests.checks.conftest import Recorder, run_once, self_signed_context
from tests.support.ports import free_port
from tests.support.wait import wait_until

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def _health_file(root: Path, status: int) -> None:
    d = root / "grpc.health.v1.Health"
    d.mkdir(parents=True)
    (d / "Check").write_bytes(b"\x00\x00\x00\x00\x02\x08" + bytes([status]))


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[dict[str, int]]:
    if NGINX is None:
        pytest.skip("nginx is not installed")
    ports = {"serving": free_port(), "not_serving": free_port(), "tls": free_port()}
    _health_file(tmp_path / "serving", 1)
    _health_file(tmp_path / "not_serving", 2)
    self_signed_context(tmp_path)  # writes cert.pem / key.pem
    (tmp_path / "logs").mkdir()
    # POST to a static file is a 405 in nginx; error_page turns it into the file itself.
    servers = "".join(
        f"""
  server {{
    listen 127.0.0.1:{port} {'ssl http2' if name == 'tls' else 'http2'};
    {'ssl_certificate ' + str(tmp_path / 'cert.pem') + '; ssl_certificate_key ' + str(tmp_path / 'key.pem') + ';' if name == 'tls' else ''}
    root {tmp_path / ('serving' if name == 'tls' else name)};
    location / {{ default_type application/grpc; error_page 405 =200 $uri; }}
  }}"""
        for name, port in ports.items()
    )
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"""user root;
worker_processes 1;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/logs/error.log;
daemon on;
events {{ worker_connections 64; }}
http {{
  access_log {tmp_path}/logs/access.log;
  client_body_temp_path {tmp_path}/body;
  {servers}
}}
"""
    )
    subprocess.run([NGINX, "-c", str(conf), "-p", str(tmp_path)], check=True, capture_output=True, timeout=30)
    try:
        for port in ports.values():
            wait_until(lambda p=port: socket.create_connection(("127.0.0.1", p), timeout=1).close() or True, 10,
                       what=f"nginx listening on {port}", interval=0.02)
        yield ports
    finally:
        subprocess.run([NGINX, "-c", str(conf), "-p", str(tmp_path), "-s", "stop"], capture_output=True, timeout=30)


async def test_grpc_health(nginx: dict[str, int], scheduler: CheckScheduler, recorder: Recorder, clock: FakeClock) -> None:
    up = f"127.0.0.1:{nginx['serving']}"
    down = f"127.0.0.1:{nginx['not_serving']}/billing"
    gone = f"127.0.0.1:{free_port()}"
    scheduler.add({"CheckID": "up", "GRPC": up, "Interval": "10s"})
    scheduler.add({"CheckID": "down", "GRPC": down, "Interval": "10s"})
    scheduler.add({"CheckID": "gone", "GRPC": gone, "Interval": "10s"})
    tls = f"127.0.0.1:{nginx['tls']}"
    scheduler.add({"CheckID": "tls", "GRPC": tls, "GRPCUseTLS": True, "TLSSkipVerify": True, "Interval": "10s"})
    await run_once(scheduler, clock, 10)
    assert recorder.last("tls") == ("passing", f"gRPC check {tls}: success")
    assert recorder.last("up") == ("passing", f"gRPC check {up}: success")
    assert recorder.last("down") == ("critical", f"gRPC {down} serving status: NOT_SERVING")
    status, output = recorder.last("gone")
    assert status == "critical" and "connection refused" in output


async def test_h2ping(nginx: dict[str, int], scheduler: CheckScheduler, recorder: Recorder, clock: FakeClock) -> None:
    scheduler.add({"CheckID": "h2c", "H2PING": f"127.0.0.1:{nginx['serving']}", "H2PingUseTLS": False, "Interval": "10s"})
    scheduler.add({"CheckID": "h2", "H2PING": f"127.0.0.1:{nginx['tls']}", "TLSSkipVerify": True, "Interval": "10s"})
    scheduler.add({"CheckID": "h2-untrusted", "H2PING": f"127.0.0.1:{nginx['tls']}", "Interval": "10s"})
    await run_once(scheduler, clock, 10)
    assert recorder.last("h2c") == ("passing", "HTTP2 ping was successful")
    assert recorder.last("h2") == ("passing", "HTTP2 ping was successful")
    status, output = recorder.last("h2-untrusted")
    assert status == "critical" and output.startswith("HTTP2 ping failed:")


def _decode_hpack_int(data: bytes, prefix_bits: int) -> int:
    limit = (1 << prefix_bits) - 1
    value = data[0] & limit
    if value < limit:
        return value
    shift = 0
    for b in data[1:]:
        value += (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    return value


@settings(deadline=None)
@given(st.integers(0, 2**24), st.integers(1, 8))
def test_hpack_integers_round_trip(value: int, bits: int) -> None:
    assert _decode_hpack_int(hpack_int(value, bits), bits) == value


@settings(deadline=None)
@given(st.integers(0, 3), st.text(max_size=40))
def test_health_messages(status: int, service: str) -> None:
    request = health_request(service)
    assert request[0] == 0 and int.from_bytes(request[1:5], "big") == len(request) - 5
    body = bytes([0x08, status]) if status else b""
    assert parse_health_response(b"\x00" + len(body).to_bytes(4, "big") + body) == status
