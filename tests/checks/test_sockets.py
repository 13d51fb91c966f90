"""TCP and UDP checks against real listeners the test opens and closes."""

from __future__ import annotations

import asyncio
import socket

from pyconsul.checks import CheckScheduler
from pyconsul.clock import FakeClock
from tests.checks.conftest import Recorder, run_once
from tests.support.ports import free_port


async def test_tcp_check_follows_the_listener(scheduler: CheckScheduler, recorder: Recorder, clock: FakeClock) -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    addr = f"127.0.0.1:{port}"
    scheduler.add({"CheckID": "db", "TCP": addr, "Interval": "10s"})
    await run_once(scheduler, clock, 10)
    assert recorder.last("db") == ("passing", f"TCP connect {addr}: Success")

    server.close()
    await server.wait_closed()
    await run_once(scheduler, clock, 10)
    assert recorder.last("db") == ("critical", f"dial tcp {addr}: connect: connection refused")

    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", port)
    try:
        await run_once(scheduler, clock, 10)
        assert recorder.last("db")[0] == "passing"
    finally:
        server.close()
        await server.wait_closed()


async def test_udp_check(scheduler: CheckScheduler, recorder: Recorder, clock: FakeClock) -> None:
    # A UDP service that answers, one that stays silent (still passing, as in Consul), and a
    # closed port (ICMP port unreachable -> critical).
    loop = asyncio.get_running_loop()

    class Echo(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.t = transport

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            self.t.sendto(data, addr)  # type: ignore[attr-defined]

    echo, _ = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    closed = free_port()
    try:
        echo_addr = f"127.0.0.1:{echo.get_extra_info('sockname')[1]}"
        silent_addr = f"127.0.0.1:{silent.getsockname()[1]}"
        scheduler.add({"CheckID": "echo", "UDP": echo_addr, "Interval": "10s", "Timeout": "2s"})
        scheduler.add({"CheckID": "silent", "UDP": silent_addr, "Interval": "10s", "Timeout": "200ms"})
        scheduler.add({"CheckID": "closed", "UDP": f"127.0.0.1:{closed}", "Interval": "10s", "Timeout": "2s"})
        await run_once(scheduler, clock, 10)
        assert recorder.last("echo") == ("passing", f"UDP connect {echo_addr}: Success")
        assert recorder.last("silent") == ("passing", f"UDP connect {silent_addr}: Success")
        status, output = recorder.last("closed")
        assert status == "critical" and output.endswith("recvfrom: connection refused")
    finally:
        echo.close()
        silent.close()
