"""Operator endpoints on three real servers: leadership transfer and autopilot health after a kill."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator

import pytest

from tests.raft.procs import HOSTS, Cluster
from tests.support.wait import wait_until


@pytest.fixture
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("opcluster"))
    try:
        c.start_all()
        yield c
    finally:
        c.stop_all()


def health(cluster: Cluster, host: str) -> tuple[int, dict[str, object]]:
    status, _, body = cluster.agents[host].request("GET", "/v1/operator/autopilot/health")
    return status, json.loads(body)


def test_a_follower_the_leader_stops_hearing_is_unhealthy_before_gossip_notices(cluster: Cluster) -> None:
    """Autopilot health honours LastContactThreshold: a frozen follower (SIGSTOP) turns the
    answer to 429 once the leader has not heard from it for 200 ms, while gossip still says
    alive; it is healthy again once it answers."""
    lead = cluster.leader()
    assert wait_until(lambda: health(cluster, lead)[0] == 200, 10, "healthy cluster")
    victim = next(h for h in HOSTS if h != lead)
    name = f"srv{HOSTS.index(victim)}"
    cluster.agents[victim].signal(signal.SIGSTOP)
    try:
        def stale_follower() -> dict[str, object] | None:
            status, body = health(cluster, lead)
            srv = next(s for s in body["Servers"] if s["Name"] == name)  # type: ignore[union-attr]
            return srv if status == 429 and not srv["Healthy"] else None

        srv = wait_until(stale_follower, 10, "429 for the frozen follower")
        assert srv["SerfStatus"] == "alive"  # the Raft contact rule, not gossip, caught it
        assert str(srv["LastContact"]).endswith(("ms", "s")) and srv["LastContact"] != "0s"
    finally:
        cluster.agents[victim].signal(signal.SIGCONT)
    assert wait_until(lambda: health(cluster, lead)[0] == 200, 20, "healthy again")


def test_transfer_leader_moves_leadership_then_a_dead_server_makes_health_429(cluster: Cluster) -> None:
    old = cluster.leader()
    status, _, body = cluster.agents[old].request("POST", "/v1/operator/raft/transfer-leader")
    assert (status, json.loads(body)) == (200, {"Success": True})
    new = wait_until(lambda: (lead := cluster.leader()) != old and lead, 10, "a new leader")
    assert new in HOSTS and new != old
    assert wait_until(lambda: health(cluster, new)[0] == 200, 10, "healthy cluster")
    victim = next(h for h in HOSTS if h != new)
    cluster.agents[victim].kill9()
    # Consul answers 429 with the whole body while a server is unhealthy; failure tolerance drops.
    status, body = wait_until(lambda: (got := health(cluster, new))[0] == 429 and got, 30, "429 health")
    assert body["Healthy"] is False and body["FailureTolerance"] == 0
    assert [s["Healthy"] for s in body["Servers"] if s["Name"] == f"srv{HOSTS.index(victim)}"] == [False]


def test_a_follower_relays_restore_and_remove_peer_to_the_leader(cluster: Cluster) -> None:
    # Raft accepts a restore or a removal only from the leader itself; a follower's HTTP
    # endpoint sends the request on to it and answers with its reply.
    lead = wait_until(cluster.leader, 15, "a leader")
    follower, other = [h for h in HOSTS if h != lead]
    assert cluster.put(lead, "relay/k", b"old")[0] == 200
    status, _, archive = cluster.agents[lead].request("GET", "/v1/snapshot")
    assert status == 200
    assert cluster.put(lead, "relay/k", b"new")[0] == 200
    status, _, body = cluster.agents[follower].request("PUT", "/v1/snapshot", archive, timeout=30)
    assert (status, body) == (200, b"")
    for h in HOSTS:
        wait_until(lambda h=h: cluster.get(h, "relay/k", "?stale")[2] == b"old", 15, f"restored on {h}")
    cluster.agents[other].kill9()
    gone = f"{other}:{cluster.server_port}"
    status, _, body = cluster.agents[follower].request("DELETE", f"/v1/operator/raft/peer?address={gone}")
    assert status == 200, body
    peers = json.loads(cluster.agents[lead].request("GET", "/v1/status/peers")[2])
    assert gone not in peers
