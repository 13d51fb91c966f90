"""The DNS server on real sockets, queried by dig and dnspython over UDP and TCP."""

from __future__ import annotations

import asyncio
import re
import socket
import struct
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import dns.asyncquery
import dns.asyncresolver
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from pyconsul.config.runtime import DNSConfig, RuntimeConfig
from pyconsul.dns.server import DNSServer, start_dns_server
from tests.dns.catalog import Catalog
from tests.dns.procs import dig, dnsmasq
from tests.support.ports import free_port

IPS = {f"10.0.0.{i + 1}" for i in range(5)}


def config(**kw: object) -> RuntimeConfig:
    cfg = RuntimeConfig(**{"node_name": "agent1", "client_addr": "127.0.0.1", **kw})  # type: ignore[arg-type]
    cfg.ports = replace(cfg.ports, dns=free_port())
    return cfg


@pytest.fixture
def cat() -> Catalog:
    c = Catalog()
    for i in range(5):
        c.service(f"n{i}", f"10.0.0.{i + 1}", "web", 8080 + i, status="passing", tags=["prod"])
    c.service("n9", "10.0.0.9", "web", 8089, status="critical")
    c.node("db1", "10.0.1.1", meta={"rack": "r7"})
    return c


@pytest.fixture
async def server(cat: Catalog) -> AsyncIterator[DNSServer]:
    srv = await start_dns_server(config(), cat.store.catalog)
    yield srv
    await srv.close()


def status(out: str) -> str:
    m = re.search(r"status: (\w+)", out)
    assert m, out
    return m.group(1)


def section(out: str, name: str) -> list[str]:
    m = re.search(rf";; {name} SECTION:\n(.*?)(?:\n\n|\Z)", out, re.S)
    return [line for line in m.group(1).splitlines() if line and not line.startswith(";")] if m else []


async def test_dig_a_over_udp_and_tcp(server: DNSServer) -> None:
    out = await dig(server.port, "+noedns", "web.service.consul")
    assert status(out) == "NOERROR" and "flags: qr aa rd" in out
    answers = section(out, "ANSWER")
    # A plain (non-EDNS) UDP client gets udp_answer_limit answers, the critical instance never.
    assert len(answers) == 3 and {a.split()[-1] for a in answers} <= IPS
    edns = await dig(server.port, "+short", "web.service.consul")  # dig speaks EDNS0 by default
    assert set(edns.split()) == IPS
    tcp = await dig(server.port, "+tcp", "+noedns", "+short", "web.service.consul")
    assert set(tcp.split()) == IPS  # TCP is not cut to udp_answer_limit


async def test_dig_srv_with_additional_addresses(server: DNSServer) -> None:
    out = await dig(server.port, "+noedns", "SRV", "_web._tcp.service.consul")
    answers = [line.split() for line in section(out, "ANSWER")]
    assert len(answers) == 3 and all(a[3] == "SRV" and a[4] == "1" for a in answers)
    targets = {a[7] for a in answers}
    additional = {line.split()[0]: line.split()[-1] for line in section(out, "ADDITIONAL") if line.split()[3] == "A"}
    assert set(additional) == targets
    assert all(additional[f"n{i}.node.dc1.consul."] == f"10.0.0.{i + 1}"
               for i in range(5) if f"n{i}.node.dc1.consul." in targets)


async def test_dig_ptr_node_and_tag(server: DNSServer) -> None:
    assert (await dig(server.port, "+short", "-x", "10.0.0.3")).split() == ["n2.node.dc1.consul."]
    assert (await dig(server.port, "+short", "db1.node.consul")).split() == ["10.0.1.1"]
    assert (await dig(server.port, "+short", "TXT", "db1.node.dc1.consul")).split() == ['"rack=r7"']
    assert set((await dig(server.port, "+short", "prod.web.service.consul")).split()) == IPS


async def test_dig_nxdomain_carries_soa_and_nodata_is_noerror(server: DNSServer) -> None:
    out = await dig(server.port, "missing.service.consul")
    assert status(out) == "NXDOMAIN" and "ANSWER: 0" in out
    soa = section(out, "AUTHORITY")
    assert len(soa) == 1 and soa[0].split()[3:6] == ["SOA", "ns.consul.", "hostmaster.consul."]
    out = await dig(server.port, "AAAA", "web.service.consul")
    assert status(out) == "NOERROR" and "ANSWER: 0" in out and "AUTHORITY: 1" in out
    out = await dig(server.port, "+tcp", "SOA", "consul")
    assert status(out) == "NOERROR" and section(out, "ANSWER")[0].split()[3] == "SOA"


async def test_outside_names_are_refused_without_recursors(server: DNSServer) -> None:
    assert status(await dig(server.port, "example.org")) == "REFUSED"


async def test_dnspython_udp_tcp_and_resolver(server: DNSServer) -> None:
    q = dns.message.make_query("web.service.consul", "A")
    udp = await dns.asyncquery.udp(q, "127.0.0.1", port=server.port, timeout=3)
    tcp = await dns.asyncquery.tcp(q, "127.0.0.1", port=server.port, timeout=3)
    assert len(udp.answer[0]) == 3 and {r.address for r in tcp.answer[0]} == IPS
    res = dns.asyncresolver.Resolver(configure=False)
    res.nameservers = ["127.0.0.1"]
    res.port = server.port
    srv = await res.resolve("web.service.consul", "SRV")
    assert {r.port for r in srv} <= {8080, 8081, 8082, 8083, 8084} and len(srv) == 3
    with pytest.raises(dns.resolver.NXDOMAIN):
        await res.resolve("nope.node.consul", "A")


async def test_new_registrations_are_answered_at_once(server: DNSServer, cat: Catalog) -> None:
    q = dns.message.make_query("api.service.consul", "A")
    first = await dns.asyncquery.udp(q, "127.0.0.1", port=server.port, timeout=3)
    assert first.rcode() == dns.rcode.NXDOMAIN
    cat.service("n1", "10.0.0.2", "api", 9000, status="passing")
    again = await dns.asyncquery.udp(q, "127.0.0.1", port=server.port, timeout=3)
    assert [r.address for r in again.answer[0]] == ["10.0.0.2"]


async def test_edns_buffer_is_honoured(cat: Catalog) -> None:
    for i in range(40):
        cat.service(f"big{i}", f"10.2.0.{i + 1}", "big", 80, status="passing")
    srv = await start_dns_server(config(dns_config=DNSConfig(enable_truncate=True)), cat.store.catalog)
    try:
        plain = await dig(srv.port, "+noedns", "+ignore", "SRV", "big.service.consul")
        assert "flags: qr aa tc rd" in plain and len(section(plain, "ANSWER")) == 3
        big = await dig(srv.port, "+bufsize=4096", "big.service.consul")
        assert len(section(big, "ANSWER")) == 40 and "flags: qr aa rd" in big
        retried = await dig(srv.port, "+noedns", "+short", "SRV", "big.service.consul")  # TC → dig retries on TCP
        assert len(retried.splitlines()) == 40
    finally:
        await srv.close()


async def _udp_exchange(port: int, packet: bytes, timeout: float = 2.0) -> bytes | None:
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[bytes] = loop.create_future()

    class P(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: object) -> None:
            if not fut.done():
                fut.set_result(data)

    transport, _ = await loop.create_datagram_endpoint(P, remote_addr=("127.0.0.1", port))
    try:
        transport.sendto(packet)
        return await asyncio.wait_for(fut, timeout)
    except TimeoutError:
        return None
    finally:
        transport.close()


async def test_garbage_over_udp_never_stops_the_server(server: DNSServer) -> None:
    valid = dns.message.make_query("web.service.consul", "A").to_wire()
    assert await _udp_exchange(server.port, b"\x00", 0.3) is None  # too short to answer
    formerr = await _udp_exchange(server.port, valid[:-3])
    assert formerr is not None and formerr[:2] == valid[:2] and formerr[3] & 0xF == 1
    for junk in (b"\xff" * 12, b"\x00\x01" + b"\xc0" * 40, bytes(range(256)) * 3):
        await _udp_exchange(server.port, junk, 0.2)
    assert dns.message.from_wire(await _udp_exchange(server.port, valid) or b"").rcode() == 0


async def test_tcp_garbage_slow_clients_and_pipelining(server: DNSServer) -> None:
    # A client that sends half a message holds only its own connection.
    stalled_r, stalled_w = await asyncio.open_connection("127.0.0.1", server.port)
    stalled_w.write(b"\x00\x40\x12")
    await stalled_w.drain()
    # Garbage with a valid header gets FORMERR on its connection.
    r, w = await asyncio.open_connection("127.0.0.1", server.port)
    junk = b"\xbe\xef\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x05ab"
    w.write(struct.pack("!H", len(junk)) + junk)
    size = struct.unpack("!H", await asyncio.wait_for(r.readexactly(2), 3))[0]
    reply = await r.readexactly(size)
    assert reply[:2] == b"\xbe\xef" and reply[3] & 0xF == 1
    # Two queries in one write: two answers, in order, on the same connection.
    q1 = dns.message.make_query("db1.node.consul", "A")
    q2 = dns.message.make_query("web.service.consul", "A")
    w.write(b"".join(struct.pack("!H", len(m)) + m for m in (q1.to_wire(), q2.to_wire())))
    answers = []
    for _ in range(2):
        size = struct.unpack("!H", await asyncio.wait_for(r.readexactly(2), 3))[0]
        answers.append(dns.message.from_wire(await r.readexactly(size)))
    assert [a.id for a in answers] == [q1.id, q2.id] and len(answers[1].answer[0]) == 5
    w.close()
    stalled_w.close()


async def test_disabled_port_binds_nothing(cat: Catalog) -> None:
    cfg = config()
    cfg.ports = replace(cfg.ports, dns=-1)
    srv = await start_dns_server(cfg, cat.store.catalog)
    assert srv.addresses == [] and srv.port == -1
    await srv.close()


async def test_port_zero_shares_one_port_for_udp_and_tcp(cat: Catalog) -> None:
    cfg = config()
    cfg.ports = replace(cfg.ports, dns=0)
    srv = await start_dns_server(cfg, cat.store.catalog)
    try:
        assert srv.port > 0
        assert (await dig(srv.port, "+short", "db1.node.consul")).split() == ["10.0.1.1"]
        assert (await dig(srv.port, "+tcp", "+short", "db1.node.consul")).split() == ["10.0.1.1"]
    finally:
        await srv.close()


async def test_bad_recursor_is_a_clear_error(cat: Catalog) -> None:
    with pytest.raises(ValueError, match="Invalid recursor address"):
        await start_dns_server(config(recursors=["not-an-ip"]), cat.store.catalog)


# ------------------------------------------------------------------------------- recursors
def silent_udp_port() -> socket.socket:
    """A bound UDP socket that never answers: a recursor that times out."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s


async def test_recursors_are_tried_in_turn(cat: Catalog, tmp_path: Path) -> None:
    silent = silent_udp_port()
    dead = f"127.0.0.1:{silent.getsockname()[1]}"
    with (
        dnsmasq(tmp_path / "up", "host-record=up.example.test,192.0.2.7", "local=/example.test/",
                "ptr-record=99.2.0.192.in-addr.arpa,up.example.test") as good,
        dnsmasq(tmp_path / "refuser") as refuser,  # no upstream: REFUSED for anything not local
    ):
        cfg = config(recursors=[dead, f"127.0.0.1:{refuser}", f"127.0.0.1:{good}"],
                     dns_config=DNSConfig(recursor_timeout=0.3))
        srv = await start_dns_server(cfg, cat.store.catalog)
        try:
            out = await dig(srv.port, "up.example.test")
            assert status(out) == "NOERROR" and section(out, "ANSWER")[0].split()[-1] == "192.0.2.7"
            assert " ra" in out.split("flags:")[1].split(";")[0]
            assert (await dig(srv.port, "+tcp", "+short", "up.example.test")).split() == ["192.0.2.7"]
            assert status(await dig(srv.port, "nope.example.test")) == "NXDOMAIN"
            # Reverse names we do not know go to the recursors too.
            assert (await dig(srv.port, "+short", "-x", "192.0.2.99")).split() == ["up.example.test."]
            # Our own names are still answered locally, with recursion available.
            assert (await dig(srv.port, "+short", "db1.node.consul")).split() == ["10.0.1.1"]
        finally:
            await srv.close()
    silent.close()


async def test_servfail_when_no_recursor_answers(cat: Catalog) -> None:
    silent = silent_udp_port()
    closed = free_port()  # nothing listens: refused at once over TCP
    cfg = config(recursors=[f"127.0.0.1:{silent.getsockname()[1]}", f"127.0.0.1:{closed}"],
                 dns_config=DNSConfig(recursor_timeout=0.3))
    srv = await start_dns_server(cfg, cat.store.catalog)
    try:
        assert status(await dig(srv.port, "example.org")) == "SERVFAIL"
        assert status(await dig(srv.port, "+tcp", "example.org")) == "SERVFAIL"
    finally:
        await srv.close()
        silent.close()


async def test_busy_port_is_a_clear_error(cat: Catalog) -> None:
    cfg = config()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", cfg.ports.dns))
        with pytest.raises(OSError, match=f"DNS cannot listen on 127.0.0.1:{cfg.ports.dns}"):
            await start_dns_server(cfg, cat.store.catalog)


async def test_every_client_address_is_served(cat: Catalog) -> None:
    cfg = config(client_addr="127.0.0.1 127.0.0.2")
    srv = await start_dns_server(cfg, cat.store.catalog)
    try:
        assert [h for h, _ in srv.addresses] == ["127.0.0.1", "127.0.0.2"]
        for host in ("127.0.0.1", "127.0.0.2"):
            assert (await dig(srv.port, "+short", "db1.node.consul", host=host)).split() == ["10.0.1.1"]
            assert (await dig(srv.port, "+tcp", "+short", "db1.node.consul", host=host)).split() == ["10.0.1.1"]
    finally:
        await srv.close()


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback on this machine")
async def test_ipv6_listener_and_aaaa_answers(cat: Catalog) -> None:
    cat.service("v6", "fd00::10", "six", 80, status="passing")
    cfg = config(client_addr="::1")
    cfg.ports = replace(cfg.ports, dns=0)
    srv = await start_dns_server(cfg, cat.store.catalog)
    try:
        assert (await dig(srv.port, "+short", "AAAA", "six.service.consul", host="::1")).split() == ["fd00::10"]
        srv_out = await dig(srv.port, "+tcp", "SRV", "six.service.consul", host="::1")
        assert "v6.node.dc1.consul." in srv_out and "AAAA\tfd00::10" in srv_out
        assert (await dig(srv.port, "+short", "-x", "fd00::10", host="::1")).split() == ["v6.node.dc1.consul."]
    finally:
        await srv.close()
