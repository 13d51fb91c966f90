"""Membership over real UDP/TCP sockets on 127.0.0.x (fast gossip timings, same protocol)."""

from __future__ import annotations

import asyncio
import base64
import datetime
import ipaddress
import os
import ssl
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pyconsul.config.runtime import Ports, RuntimeConfig
from pyconsul.config.stanzas import AdvertiseAddrs
from pyconsul.gossip.config import GossipConfig
from pyconsul.gossip.membership import Member, Membership, consul_tags, member_json, parse_join_address
from tests.support.wait import async_wait_until

FAST = replace(GossipConfig(), probe_interval=0.1, probe_timeout=0.05, gossip_interval=0.02,
               suspicion_mult=4, push_pull_interval=2.0, reconnect_interval=1.0)


def config(host: str, name: str, server: bool = False, encrypt: str = "") -> RuntimeConfig:
    return RuntimeConfig(node_name=name, bind_addr=host, server=server, encrypt=encrypt,
                         ports=Ports(serf_lan=0, server=8300))


def statuses(m: Membership) -> dict[str, str]:
    return {x.name: x.status for x in m.members()}


class Cluster:
    def __init__(self) -> None:
        self.members: list[Membership] = []
        self.events: dict[str, list[tuple[str, str]]] = {}

    async def add(self, host: str, name: str, server: bool = False, encrypt: str = "") -> Membership:
        cfg = config(host, name, server, encrypt)
        log = self.events.setdefault(name, [])
        m = Membership(cfg, consul_tags(cfg), on_event=lambda k, mem: log.append((k, mem.name)),
                       gossip_config=FAST)
        await m.start()
        self.members.append(m)
        return m


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    c = Cluster()
    yield c
    for m in c.members:
        await m.stop()


async def test_three_agents_join_and_list_each_other_with_consul_tags(cluster: Cluster) -> None:
    s1 = await cluster.add("127.0.0.1", "s1", server=True)
    s2 = await cluster.add("127.0.0.2", "s2", server=True)
    c1 = await cluster.add("127.0.0.3", "c1")
    assert await s2.join([f"127.0.0.1:{s1.port}"]) == 1
    assert await c1.join([f"127.0.0.2:{s2.port}"]) == 1
    for m in (s1, s2, c1):
        await async_wait_until(lambda m=m: statuses(m) == {"s1": "alive", "s2": "alive", "c1": "alive"}, 10.0)
    seen = {x.name: x for x in c1.members()}
    assert seen["s1"].addr == "127.0.0.1" and seen["s1"].port == s1.port
    assert seen["s1"].tags["role"] == "consul" and seen["s1"].tags["port"] == "8300"
    assert seen["c1"].tags["role"] == "node" and "port" not in seen["c1"].tags
    js = member_json(seen["s2"])
    assert js["Status"] == 1 and js["Addr"] == "127.0.0.2" and js["Tags"]["dc"] == "dc1"
    assert set(js) >= {"Name", "Port", "ProtocolCur", "DelegateCur"}
    assert ("member-join", "c1") in cluster.events["s1"]


async def test_crashed_member_is_failed_and_leaving_member_is_left(cluster: Cluster) -> None:
    a = await cluster.add("127.0.0.1", "a")
    b = await cluster.add("127.0.0.2", "b")
    c = await cluster.add("127.0.0.3", "c")
    d = await cluster.add("127.0.0.4", "d")
    assert await b.join([f"127.0.0.1:{a.port}"]) + await c.join([f"127.0.0.1:{a.port}"]) == 2
    assert await d.join([f"127.0.0.1:{a.port}"]) == 1
    await async_wait_until(lambda: all(len(statuses(m)) == 4 for m in (a, b, c, d)), 10.0)
    await c.stop()  # no goodbye: a crash
    await async_wait_until(lambda: statuses(a)["c"] == "failed" and statuses(b)["c"] == "failed", 10.0)
    assert ("member-failed", "c") in cluster.events["a"]
    await d.leave()
    assert d.local_member().status == "left"
    await async_wait_until(lambda: statuses(a)["d"] == "left" and statuses(b)["d"] == "left", 10.0)
    assert ("member-failed", "d") not in cluster.events["a"]
    assert a.force_leave("c") and not a.force_leave("nobody")
    await async_wait_until(lambda: statuses(b)["c"] == "left", 10.0)


async def test_join_counts_only_reachable_addresses_and_rejects_bad_ones(cluster: Cluster) -> None:
    a = await cluster.add("127.0.0.1", "a")
    b = await cluster.add("127.0.0.2", "b")
    closed = await cluster.add("127.0.0.3", "gone")
    port = closed.port
    await closed.stop()
    assert await b.join([f"127.0.0.1:{a.port}", f"127.0.0.3:{port}"]) == 1
    assert await b.join([f"127.0.0.3:{port}"]) == 0
    assert b.join_error_text() == (f"1 error occurred:\n\t* Failed to join 127.0.0.3:{port}: "
                                   f"dial tcp 127.0.0.3:{port}: connect: connection refused\n\n")
    with pytest.raises(ValueError, match="invalid port"):
        await b.join(["127.0.0.1:notaport"])
    assert parse_join_address("10.1.2.3", 8301) == ("10.1.2.3", 8301)
    assert parse_join_address("[::1]:9000", 8301) == ("::1", 9000)


async def test_encrypted_pool_admits_only_members_with_the_key(cluster: Cluster) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    a = await cluster.add("127.0.0.1", "a", encrypt=key)
    b = await cluster.add("127.0.0.2", "b", encrypt=key)
    stranger = await cluster.add("127.0.0.3", "x", encrypt=base64.b64encode(os.urandom(32)).decode())
    plain = await cluster.add("127.0.0.4", "p")
    assert await b.join([f"127.0.0.1:{a.port}"]) == 1
    assert await stranger.join([f"127.0.0.1:{a.port}"]) == 0
    assert await plain.join([f"127.0.0.1:{a.port}"]) == 0
    await async_wait_until(lambda: statuses(a) == {"a": "alive", "b": "alive"}, 10.0)


def tls_contexts(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate for 127.0.0.1/.2 and contexts that require it on both ends."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "server.dc1.consul")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.2"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


async def test_push_pull_runs_over_tls_when_contexts_are_given(cluster: Cluster, tmp_path: Path) -> None:
    server_ctx, client_ctx = tls_contexts(tmp_path)
    members = []
    for host, name in (("127.0.0.1", "a"), ("127.0.0.2", "b")):
        cfg = config(host, name)
        m = Membership(cfg, {}, gossip_config=FAST, ssl_server=server_ctx, ssl_client=client_ctx)
        await m.start()
        cluster.members.append(m)
        members.append(m)
    a, b = members
    assert await b.join([f"127.0.0.1:{a.port}"]) == 1
    await async_wait_until(lambda: statuses(a) == {"a": "alive", "b": "alive"}, 10.0)
    plain = await cluster.add("127.0.0.3", "plain")
    assert await plain.join([f"127.0.0.1:{a.port}"]) == 0  # a plaintext peer cannot push/pull


def test_bad_encrypt_key_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="encrypt"):
        Membership(config("127.0.0.1", "a", encrypt="not-base64!"), {})
    with pytest.raises(ValueError, match="16, 24 or 32 bytes"):
        Membership(config("127.0.0.1", "a", encrypt=base64.b64encode(b"short").decode()), {})


def test_member_status_codes_match_consul() -> None:
    codes = {s: member_json(Member("n", "1.2.3.4", 8301, {}, s))["Status"]
             for s in ("alive", "leaving", "left", "failed")}
    assert codes == {"alive": 1, "leaving": 2, "left": 3, "failed": 4}


async def test_restarted_agent_rejoins_known_members_from_its_snapshot(cluster: Cluster, tmp_path: Path) -> None:
    a = await cluster.add("127.0.0.1", "a")

    async def start_b(rejoin_after_leave: bool = False) -> Membership:
        cfg = config("127.0.0.2", "b")
        cfg.data_dir, cfg.rejoin_after_leave = str(tmp_path), rejoin_after_leave
        m = Membership(cfg, {}, gossip_config=FAST)
        await m.start()
        cluster.members.append(m)
        return m

    b = await start_b()
    assert await b.join([f"127.0.0.1:{a.port}"]) == 1
    await async_wait_until(lambda: statuses(a) == {"a": "alive", "b": "alive"}, 10.0)
    await b.stop()  # crash
    b2 = await start_b()  # no join call: the snapshot brings it back
    await async_wait_until(lambda: statuses(b2) == {"a": "alive", "b": "alive"}, 10.0)
    await async_wait_until(lambda: statuses(a)["b"] == "alive" and {m.name: m.port for m in a.members()}["b"] == b2.port, 10.0)
    await b2.leave()
    await async_wait_until(lambda: statuses(a)["b"] == "left", 10.0)
    b3 = await start_b()  # left gracefully: stays out
    await asyncio.sleep(FAST.probe_interval * 3)  # give a wrongful rejoin the time it would need
    assert statuses(b3) == {"b": "alive"} and statuses(a)["b"] == "left"
    await b3.stop()
    b4 = await start_b(rejoin_after_leave=True)
    await async_wait_until(lambda: statuses(a)["b"] == "alive" and statuses(b4)["a"] == "alive", 10.0)


async def test_serf_lan_bind_and_advertise_overrides(cluster: Cluster) -> None:
    a = await cluster.add("127.0.0.1", "a")
    c = config("0.0.0.0", "b")
    c.serf_lan = "127.0.0.2"
    c.advertise_addrs = AdvertiseAddrs(serf_lan="127.0.0.2")
    b = Membership(c, {}, gossip_config=FAST)
    await b.start()
    cluster.members.append(b)
    assert await b.join([f"127.0.0.1:{a.port}"]) == 1
    await async_wait_until(lambda: statuses(a) == {"a": "alive", "b": "alive"}, 10.0)
    seen = {m.name: m for m in a.members()}["b"]
    assert (seen.addr, seen.port) == ("127.0.0.2", b.port)
    assert b.bound == ("127.0.0.2", b.port)


async def test_serf_lan_allowed_cidrs_keeps_other_sources_out(cluster: Cluster) -> None:
    c = config("127.0.0.1", "guarded")
    c.serf_lan_allowed_cidrs = ["127.0.0.2/32"]
    guarded = Membership(c, {}, gossip_config=FAST)
    await guarded.start()
    cluster.members.append(guarded)
    friend = await cluster.add("127.0.0.2", "friend")
    outsider = await cluster.add("127.0.0.3", "outsider")
    assert await outsider.join([f"127.0.0.1:{guarded.port}"]) == 0
    assert await friend.join([f"127.0.0.1:{guarded.port}"]) == 1
    await async_wait_until(lambda: statuses(guarded) == {"guarded": "alive", "friend": "alive"}, 10.0)
    bad = config("127.0.0.1", "x")
    bad.serf_lan_allowed_cidrs = ["10.0.0.0/33"]
    with pytest.raises(ValueError, match="serf_lan_allowed_cidrs"):
        Membership(bad, {})


async def test_a_lone_member_leaves_at_once(cluster: Cluster) -> None:
    alone = await cluster.add("127.0.0.1", "alone")
    loop = asyncio.get_running_loop()
    start = loop.time()
    await alone.leave(timeout=5.0)
    assert loop.time() - start < 1.0
    assert alone.local_member().status == "left"


async def test_members_gossip_over_ipv6(cluster: Cluster) -> None:
    a = await cluster.add("::1", "a6")
    b = await cluster.add("::1", "b6")
    assert await b.join([f"[::1]:{a.port}"]) == 1
    await async_wait_until(lambda: statuses(a) == {"a6": "alive", "b6": "alive"} == statuses(b), 10.0)
    assert {m.name: m.addr for m in a.members()} == {"a6": "::1", "b6": "::1"}
