"""The datacenter router: which datacenters exist and which of their servers to try."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pyconsul.agent.dc_router import FAILURE_COOLDOWN, DatacenterRouter
from pyconsul.clock import FakeClock
from pyconsul.gossip.membership import Member


def server(node: str, dc: str, addr: str, status: str = "alive", port: str = "8300") -> Member:
    return Member(f"{node}.{dc}", addr, 8302, {"role": "consul", "dc": dc, "port": port}, status)


def test_joined_servers_make_their_datacenters_known_local_first() -> None:
    r = DatacenterRouter("dc2", FakeClock())
    for m in (server("a", "dc3", "10.0.3.1"), server("b", "dc1", "10.0.1.1"), server("c", "dc2", "10.0.2.1")):
        r.on_member("member-join", m)
    assert r.datacenters() == ["dc2", "dc1", "dc3"]
    assert r.servers("dc1") == ["10.0.1.1:8300"]


def test_failed_servers_are_not_tried_and_a_left_datacenter_is_forgotten() -> None:
    r = DatacenterRouter("dc1", FakeClock())
    r.on_member("member-join", server("s1", "dc2", "10.0.2.1"))
    r.on_member("member-failed", server("s1", "dc2", "10.0.2.1", "failed"))
    assert r.knows("dc2") and r.servers("dc2") == []
    r.on_member("member-join", server("s1", "dc2", "10.0.2.1"))
    assert r.servers("dc2") == ["10.0.2.1:8300"]
    r.on_member("member-leave", server("s1", "dc2", "10.0.2.1", "left"))
    assert not r.knows("dc2") and r.datacenters() == ["dc1"]


def test_clients_and_members_without_a_server_port_are_ignored() -> None:
    r = DatacenterRouter("dc1", FakeClock())
    r.on_member("member-join", Member("c.dc2", "10.0.2.9", 8302, {"role": "node", "dc": "dc2"}, "alive"))
    r.on_member("member-join", server("s", "dc2", "10.0.2.1", port=""))
    assert not r.knows("dc2")


def test_a_server_that_failed_a_forward_is_tried_last_until_the_cooldown_passes() -> None:
    clock = FakeClock()
    r = DatacenterRouter("dc1", clock)
    r.on_member("member-join", server("a", "dc2", "10.0.2.1"))
    r.on_member("member-join", server("b", "dc2", "10.0.2.2"))
    assert r.servers("dc2") == ["10.0.2.1:8300", "10.0.2.2:8300"]
    r.note_failed("10.0.2.1:8300")
    assert r.servers("dc2") == ["10.0.2.2:8300", "10.0.2.1:8300"]
    clock.advance(FAILURE_COOLDOWN + 1)
    assert r.servers("dc2") == ["10.0.2.1:8300", "10.0.2.2:8300"]


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from(["dc1", "dc2", "dc3"]),
                          st.sampled_from(["alive", "failed", "left"]))))
def test_servers_listed_are_exactly_those_whose_last_event_says_alive(events: list[tuple[str, str, str]]) -> None:
    r = DatacenterRouter("dc1", FakeClock())
    last: dict[tuple[str, str], str] = {}
    for node, dc, status in events:
        kind = {"alive": "member-join", "failed": "member-failed", "left": "member-leave"}[status]
        r.on_member(kind, server(node, dc, f"10.0.{dc[-1]}.{ord(node)}", status))
        last[(node, dc)] = status
    for dc in ("dc2", "dc3"):
        want = sorted(f"10.0.{dc[-1]}.{ord(n)}:8300" for (n, d), s in last.items() if d == dc and s == "alive")
        assert sorted(r.servers(dc)) == want
        assert r.knows(dc) == any(d == dc and s != "left" for (_, d), s in last.items())
    assert r.datacenters()[0] == "dc1"
