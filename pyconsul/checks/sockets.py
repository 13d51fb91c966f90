"""TCP and UDP checks (Consul's CheckTCP / CheckUDP), worded like Go's net errors.

TCP: passing once a connection opens ("TCP connect <addr>: Success"), critical with the dial
error otherwise. UDP: a datagram is sent; a reply or silence until the timeout is passing (UDP
has no handshake), an ICMP "port unreachable" (connection refused) is critical.
"""

from __future__ import annotations

import asyncio
import socket
import ssl

from pyconsul.checks.base import CRITICAL, PASSING, CheckResult, CheckSpec
from pyconsul.checks.tls import AgentTLS, client_context


def split_host_port(addr: str) -> tuple[str, int]:
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"address {addr}: missing port in address")
    return host.strip("[]"), int(port)


async def run_tcp(spec: CheckSpec, agent_tls: AgentTLS | None = None) -> CheckResult:
    addr = str(spec.definition["TCP"])
    use_tls = bool(spec.definition.get("TCPUseTLS"))
    try:
        host, port = split_host_port(addr)
    except ValueError as exc:
        return CheckResult(CRITICAL, f"dial tcp {exc}")
    ctx: ssl.SSLContext | None = None
    if use_tls:
        ctx = client_context(agent_tls, bool(spec.definition.get("TLSSkipVerify")))
    try:
        _reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                host, port, ssl=ctx,
                server_hostname=(spec.definition.get("TLSServerName") or host) if ctx else None,
            ),
            spec.timeout,
        )
    except TimeoutError:
        return CheckResult(CRITICAL, f"dial tcp {addr}: i/o timeout")
    except ConnectionRefusedError:
        return CheckResult(CRITICAL, f"dial tcp {addr}: connect: connection refused")
    except OSError as exc:
        return CheckResult(CRITICAL, f"dial tcp {addr}: {exc.strerror or exc}")
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass
    return CheckResult(PASSING, f"TCP{'+TLS' if use_tls else ''} connect {addr}: Success")


class _UDPProbe(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.done: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: object) -> None:
        if not self.done.done():
            self.done.set_result(None)

    def error_received(self, exc: Exception) -> None:
        if not self.done.done():
            refused = isinstance(exc, ConnectionRefusedError)
            self.done.set_result("connection refused" if refused else str(exc))


async def run_udp(spec: CheckSpec) -> CheckResult:
    addr = str(spec.definition["UDP"])
    try:
        host, port = split_host_port(addr)
    except ValueError as exc:
        return CheckResult(CRITICAL, f"dial udp {exc}")
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        transport, probe = await loop.create_datagram_endpoint(_UDPProbe, remote_addr=infos[0][4][:2])
    except OSError as exc:
        return CheckResult(CRITICAL, f"dial udp {addr}: {exc.strerror or exc}")
    try:
        local = transport.get_extra_info("sockname")
        transport.sendto(b"hello")  # anything: the point is whether the port refuses it
        try:
            err = await asyncio.wait_for(asyncio.shield(probe.done), spec.timeout)
        except TimeoutError:
            err = None  # silence within the timeout: UDP can't tell, Consul counts it as up
        if err:
            return CheckResult(CRITICAL, f"read udp {local[0]}:{local[1]}->{addr}: recvfrom: {err}")
        return CheckResult(PASSING, f"UDP connect {addr}: Success")
    finally:
        transport.close()
