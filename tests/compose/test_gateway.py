"""docker/gateway.py: the stack network's gateway, read from /proc/net/route as pyregistrator's
container does at start (Docker picks the subnet, so it cannot be written in the compose file)."""

from __future__ import annotations

import importlib.util
import ipaddress
import socket
import struct
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("gateway", REPO / "docker" / "gateway.py")
assert _spec and _spec.loader
gateway = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gateway)

HEADER = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
ipv4 = st.ip_addresses(v=4).map(str)


def kernel_hex(addr: str) -> str:
    """An address as the kernel writes it in /proc/net/route (host byte order, little-endian)."""
    return f"{struct.unpack('<L', socket.inet_aton(addr))[0]:08X}"


def row(dest: str, gw: str, flags: int, mask: str = "00000000") -> str:
    return f"eth0\t{dest}\t{kernel_hex(gw)}\t{flags:04X}\t0\t0\t0\t{mask}\t0\t0\t0\n"


def test_a_container_s_real_table() -> None:
    table = HEADER + "eth0\t00000000\t0100DAAC\t0003\t0\t0\t0\t00000000\t0\t0\t0\n" \
                     "eth0\t0000DAAC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n"
    assert gateway.default_gateway(table) == "172.218.0.1"


@given(gw=ipv4, subnet=ipv4)
def test_the_default_route_s_gateway_is_found_among_link_routes(gw: str, subnet: str) -> None:
    link = f"eth0\t{kernel_hex(subnet)}\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
    assert gateway.default_gateway(HEADER + link + row("00000000", gw, 0x3)) == gw
    assert ipaddress.ip_address(gateway.default_gateway(HEADER + row("00000000", gw, 0x3) + link))


@given(gw=ipv4)
def test_no_default_route_or_no_gateway_flag_gives_none(gw: str) -> None:
    assert gateway.default_gateway(HEADER) is None
    assert gateway.default_gateway(HEADER + row("00000000", gw, 0x1)) is None  # up, not via a gateway
    assert gateway.default_gateway(HEADER + row(kernel_hex("10.0.0.0"), gw, 0x3, "000000FF")) is None
