"""The datacenter router's distance order and coordinate maps (pure; Consul's
GetDatacentersByDistance: the median RTT to a datacenter's servers, local first)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from pyconsul.agent.dc_router import DatacenterRouter
from pyconsul.clock import SYSTEM_CLOCK
from pyconsul.coordinate import wire
from pyconsul.coordinate.vivaldi import origin


@dataclass
class M:
    name: str
    addr: str
    tags: dict[str, str] = field(default_factory=dict)
    status: str = "alive"


def at(x: float) -> dict[str, object]:
    c = origin()
    c["Vec"] = [x] + [0.0] * 7
    return c


def server(name: str, dc: str, x: float | None) -> M:
    tags = {"role": "consul", "dc": dc, "port": "8300"}
    if x is not None:
        tags[wire.TAG] = wire.encode(at(x))
    return M(f"{name}.{dc}", "10.0.0.1", tags)


def router(*members: M) -> DatacenterRouter:
    r = DatacenterRouter("dc1", SYSTEM_CLOCK)
    for m in members:
        r.on_member("member-join", m)
    r.local_coord = at(0.0)
    return r


def test_sorted_by_median_rtt_local_first_unknown_last_by_name() -> None:
    r = router(server("a", "dc1", 0.5), server("b", "far", 0.3), server("c", "far", 0.3), server("d", "far", 0.001),
               server("e", "near", 0.05), server("f", "zzz", None), server("g", "aaa", None))
    assert r.datacenters() == ["dc1", "near", "far", "aaa", "zzz"]
    # far's median is 0.3 s away (the one near server does not pull it in); dc1 is always 0.
    assert 0.3 <= r.distance_to("far") < 0.31 and r.distance_to("dc1") == 0.0


def test_no_local_coordinate_keeps_name_order_after_the_local_one() -> None:
    r = router(server("b", "dc3", 0.01), server("c", "dc2", 0.5))
    r.local_coord = None
    assert r.datacenters() == ["dc1", "dc2", "dc3"]


def test_maps_list_servers_with_coordinates_in_consul_shape() -> None:
    r = router(server("b", "dc2", 0.01), server("a", "dc2", 0.02), server("c", "dc3", None))
    maps = {m["Datacenter"]: m for m in r.datacenter_maps()}
    assert [c["Node"] for c in maps["dc2"]["Coordinates"]] == ["a.dc2", "b.dc2"]
    assert maps["dc3"]["Coordinates"] == [] and maps["dc2"]["AreaID"] == "wan"


@settings(deadline=None)  # a loaded machine is slow; the examples are derandomized
@given(st.lists(st.floats(-1.0, 1.0, allow_nan=False), min_size=11, max_size=11))
def test_wire_round_trip(nums: list[float]) -> None:
    c = {"Vec": nums[:8], "Error": abs(nums[8]), "Adjustment": nums[9], "Height": abs(nums[10])}
    back = wire.decode(wire.encode(c))
    assert back is not None
    for k in ("Error", "Adjustment", "Height"):
        assert abs(back[k] - c[k]) <= 1e-5 * max(1.0, abs(c[k]))


def test_bad_wire_text_is_no_coordinate() -> None:
    assert wire.decode("") is None and wire.decode("1,2,x") is None and wire.decode(",".join(["1"] * 10)) is None
    assert wire.decode(",".join(["nan"] * 11)) is None


def test_flood_join_targets_the_local_servers_missing_from_the_wan_pool() -> None:
    from pyconsul.agent.wan import flood_targets
    from pyconsul.gossip.membership import Member

    def lan(name: str, role: str = "consul", dc: str = "dc1", status: str = "alive", port: str = "8302") -> Member:
        return Member(name, "10.0.0.9", 8301, {"role": role, "dc": dc, "wan_join_port": port}, status)

    members = [lan("s1"), lan("s2"), lan("c1", role="node"), lan("s3", status="failed"), lan("x", dc="dc2"),
               lan("s4", port="")]
    assert flood_targets(members, {"s1.dc1"}, "dc1") == ["10.0.0.9:8302"]  # s2 only


def test_forward_deadline_follows_the_blocking_wait() -> None:
    from pyconsul.agent.wan import answer_timeout

    assert answer_timeout("/v1/kv/x?dc=dc2", 7.0) == 9.0
    assert answer_timeout("/v1/kv/x?index=3&wait=32s", 7.0) == 32 + 2 + 7
    assert answer_timeout("/v1/kv/x?index=3", 7.0) == 300 + 300 / 16 + 7
    assert answer_timeout("/v1/kv/x?index=3&wait=99h", 7.0) == 600 + 600 / 16 + 7
    assert answer_timeout("/v1/kv/x?index=3&wait=bad", 7.0) == 300 + 300 / 16 + 7
