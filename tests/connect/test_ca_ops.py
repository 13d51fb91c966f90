"""The server's CA operations through a real state machine: first root once, rotation with a
cross-signed intermediate, leaves signed by the active root, old roots pruned after 2 × LeafCertTTL."""

from __future__ import annotations

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
