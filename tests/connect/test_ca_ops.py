"""The server's CA operations through a real state machine: first root once, rotation with a
cross-signed intermediate, leaves signed by the active root, old roots pruned after 2 × LeafCertTTL."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pyconsul.clock import FakeClock
from pyconsul.connect import ca, ca_ops, spiffe
from pyconsul.fsm import commands as c
from pyconsul.fsm.machine import StateMachine
from pyconsul.state.store import StateStore


class Applier:
    """The Raft seam: commands go straight to a state machine at the next index."""

    def __init__(self) -> None:
        self.store = StateStore()
        self.machine = StateMachine(self.store)
        self.index = 0

    async def write(self, cmd: c.Command) -> Any:
        self.index += 1
        return self.machine.apply(self.index, c.encode(cmd))


async def test_initialize_once_rotate_sign_and_prune() -> None:
    clock = FakeClock(1_800_000_000)
    raft = Applier()
    store = raft.store
    assert await ca_ops.initialize(raft.write, store, clock, {"leaf_cert_ttl": "1h"}) is True
    assert await ca_ops.initialize(raft.write, store, clock) is False
    first = store.connect_ca.active_root()
    assert first is not None and ca_ops.leaf_ttl(store) == 3600
    cluster = store.connect_ca.config["ClusterID"]  # type: ignore[index]
    await ca_ops.set_config(raft.write, store, clock, {"Provider": "consul",
                                                        "Config": {"LeafCertTTL": "1h", "RotateRoot": True}})
    new = store.connect_ca.active_root()
    assert new is not None and new["ID"] != first["ID"] and len(store.connect_ca.roots) == 2
    ca.load_cert(new["IntermediateCerts"][0]).verify_directly_issued_by(ca.load_cert(first["RootCert"]))
    _, csr = ca.new_csr(spiffe.service_uri(spiffe.trust_domain(cluster), "dc1", "web"))
    leaf = await ca_ops.sign(raft.write, store, clock, csr, "dc1")
    assert leaf["RootID"] == new["ID"] and leaf["Service"] == "web"
    with pytest.raises(ca.CAError, match="different datacenter"):
        await ca_ops.sign(raft.write, store, clock, csr, "dc2")
    clock.advance(2 * 3600 - 10)
    assert await ca_ops.prune(raft.write, store, clock) is False  # leaves it signed may still be valid
    clock.advance(20)
    assert await ca_ops.prune(raft.write, store, clock) is True
    assert [r["ID"] for r in store.connect_ca.roots] == [new["ID"]]


async def test_a_ttl_change_keeps_the_root() -> None:
    clock = FakeClock(1_800_000_000)
    raft = Applier()
    await ca_ops.initialize(raft.write, raft.store, clock)
    root = raft.store.connect_ca.active_root()
    await ca_ops.set_config(raft.write, raft.store, clock, {"Provider": "consul", "Config": {"LeafCertTTL": "24h"}})
    assert raft.store.connect_ca.active_root() == root
    assert ca_ops.public_config(raft.store.connect_ca.config or {})["Config"]["LeafCertTTL"] == "24h"
    with pytest.raises(ca.CAError, match="unknown CA provider"):
        await ca_ops.set_config(raft.write, raft.store, clock, {"Provider": "vault", "Config": {}})


async def test_a_secondary_follows_the_primary_through_a_rotation() -> None:
    """Two state machines: dc1 (primary) and dc2, whose `fetch` reaches dc1's own operations."""
    clock = FakeClock(1_800_000_000)
    dc1, dc2 = Applier(), Applier()
    await ca_ops.initialize(dc1.write, dc1.store, clock)
    calls: list[str] = []

    async def fetch(method: str, path: str, body: bytes | None) -> tuple[int, int, bytes]:
        calls.append(path.partition("?")[0])
        if path.startswith("/v1/connect/ca/roots"):
            idx, roots = dc1.store.connect_ca.get_roots(None)
            return 200, idx, json.dumps(ca_ops.roots_reply(dc1.store, [ca.public_root(r) for r in roots])).encode()
        assert path == ca_ops.SIGN_INTERMEDIATE and body is not None
        signed = await ca_ops.sign_intermediate(dc1.write, dc1.store, clock, json.loads(body)["CSR"])
        return 200, 0, json.dumps(signed).encode()

    changed, _ = await ca_ops.sync_secondary(dc2.write, dc2.store, fetch, "dc2", now=clock.time())
    assert changed and calls == ["/v1/connect/ca/roots", ca_ops.SIGN_INTERMEDIATE]
    assert ca_ops.roots_reply(dc2.store, dc2.store.connect_ca.roots)["TrustDomain"] == \
        ca_ops.roots_reply(dc1.store, dc1.store.connect_ca.roots)["TrustDomain"]
    calls.clear()
    changed, _ = await ca_ops.sync_secondary(dc2.write, dc2.store, fetch, "dc2", now=clock.time())
    assert not changed and calls == ["/v1/connect/ca/roots"]  # nothing new: no second intermediate
    # A leaf signed in dc2 chains leaf → dc2's intermediate → dc1's root.
    cluster = dc1.store.connect_ca.config["ClusterID"]  # type: ignore[index]
    _, csr = ca.new_csr(spiffe.service_uri(spiffe.trust_domain(cluster), "dc2", "web"))
    leaf = await ca_ops.sign(dc2.write, dc2.store, clock, csr, "dc2")
    chain = ca.load_certs(leaf["CertPEM"])
    root1 = ca.load_cert(dc1.store.connect_ca.active_root()["RootCert"])  # type: ignore[index]
    chain[0].verify_directly_issued_by(chain[1])
    chain[1].verify_directly_issued_by(root1)
    # dc1 rotates: dc2 gets a new intermediate under the new root, the old root still listed.
    await ca_ops.set_config(dc1.write, dc1.store, clock, {"Provider": "consul", "Config": {"RotateRoot": True}})
    calls.clear()
    changed, _ = await ca_ops.sync_secondary(dc2.write, dc2.store, fetch, "dc2", now=clock.time())
    assert changed and calls == ["/v1/connect/ca/roots", ca_ops.SIGN_INTERMEDIATE]
    new1 = dc1.store.connect_ca.active_root()
    new2 = dc2.store.connect_ca.active_root()
    assert new1 is not None and new2 is not None and new2["ID"] == new1["ID"] and len(dc2.store.connect_ca.roots) == 2
    ca.load_cert(new2["SigningCert"]).verify_directly_issued_by(ca.load_cert(new1["RootCert"]))
    # A secondary never signs intermediates itself.
    with pytest.raises(ca_ops.CANotReady):
        await ca_ops.sign_intermediate(dc2.write, dc2.store, clock, ca.intermediate_csr(cluster, "dc3")[1])
