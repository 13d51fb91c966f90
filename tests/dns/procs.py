"""Real DNS tools for the tests: dig (run without blocking the event loop) and dnsmasq."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.ports import free_port
from tests.support.wait import wait_until

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"


async def dig(port: int, *args: str, host: str = "127.0.0.1", timeout: float = 20.0) -> str:
    """Run dig against host:port; returns its full output."""
    proc = await asyncio.create_subprocess_exec(
        "dig", f"@{host}", "-p", str(port), "+time=2", "+tries=2", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return out.decode()


def udp_query(port: int, packet: bytes, host: str = "127.0.0.1", timeout: float = 3.0) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(packet, (host, port))
        data, _ = s.recvfrom(65535)
        return data


def _answers_udp(port: int, name: str) -> bool:
    packet = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
    packet += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p) + b"\x00\x00\x01\x00\x01"
    return udp_query(port, packet, timeout=0.2)[:2] == b"\x12\x34"


@contextmanager
def dnsmasq(workdir: Path, *options: str, ready_name: str = "ready.test") -> Iterator[int]:
    """Run dnsmasq on a free loopback port with `options` (long options without dashes)."""
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / f"dnsmasq-{port}.conf"
    conf.write_text("\n".join([
        f"port={port}", "listen-address=127.0.0.1", "bind-interfaces", "no-resolv", "no-hosts",
        "pid-file=", f"host-record={ready_name},192.0.2.250", *options,
    ]) + "\n")
    log = open(workdir / f"dnsmasq-{port}.log", "wb")
    proc = subprocess.Popen([DNSMASQ, "--no-daemon", "--log-queries", "-C", str(conf)], stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: _answers_udp(port, ready_name), 10, what=f"dnsmasq on port {port} to answer")
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
