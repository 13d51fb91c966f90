"""The discovery chain compiler (pyconsul.entries.chain): Consul's shapes for known cases and,
for any set of resolver/router/splitter entries, a graph whose every edge lands on a node."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyconsul.entries.chain import ChainError, ChainRequest, compile_chain
from pyconsul.entries.kinds import EntryError, normalize

Row = dict[str, Any]
TD = "11111111-2222-3333-4444-555555555555.consul"


def lookup_of(*raw: Row) -> Any:
    table = {}
    for r in raw:
        e = normalize(r)
        table[(e["Kind"], e["Name"])] = e
    return lambda k, n: table.get((k, n))


def test_default_chain_is_consuls() -> None:
    chain = compile_chain(ChainRequest("web", "dc1", TD), lookup_of())
    assert chain == {
        "ServiceName": "web", "Namespace": "default", "Partition": "default", "Datacenter": "dc1",
        "Default": True, "Protocol": "tcp", "ServiceMeta": {}, "StartNode": "resolver:web.default.default.dc1",
        "Nodes": {"resolver:web.default.default.dc1": {
            "Type": "resolver", "Name": "web.default.default.dc1",
            "Resolver": {"ConnectTimeout": "5s", "Default": True, "Target": "web.default.default.dc1"}}},
        "Targets": {"web.default.default.dc1": {
            "ID": "web.default.default.dc1", "Service": "web", "Namespace": "default", "Partition": "default",
            "Datacenter": "dc1", "MeshGateway": {}, "Subset": {}, "ConnectTimeout": "5s",
            "SNI": f"web.default.dc1.internal.{TD}", "Name": f"web.default.dc1.internal.{TD}"}},
    }


def test_router_splitter_resolver() -> None:
    lookup = lookup_of(
        {"Kind": "service-defaults", "Name": "web", "Protocol": "http"},
        {"Kind": "service-resolver", "Name": "web", "ConnectTimeout": "15s", "Subsets": {
            "v1": {"Filter": "Service.Meta.version == v1"}, "v2": {"Filter": "Service.Meta.version == v2"}}},
        {"Kind": "service-splitter", "Name": "web", "Splits": [{"Weight": 90, "ServiceSubset": "v1"},
                                                               {"Weight": 10, "ServiceSubset": "v2"}]},
        {"Kind": "service-router", "Name": "web", "Routes": [
            {"Match": {"HTTP": {"PathPrefix": "/beta"}}, "Destination": {"ServiceSubset": "v2"}}]},
    )
    chain = compile_chain(ChainRequest("web", "dc1", TD), lookup)
    assert chain["Default"] is False and chain["Protocol"] == "http"
    assert chain["StartNode"] == "router:web.default.default"
    routes = chain["Nodes"]["router:web.default.default"]["Routes"]
    assert [r["NextNode"] for r in routes] == ["resolver:v2.web.default.default.dc1", "splitter:web.default.default"]
    assert routes[-1]["Definition"] == {"Match": {"HTTP": {"PathPrefix": "/"}}, "Destination": {"Service": "web"}}
    assert chain["Nodes"]["splitter:web.default.default"]["Splits"] == [
        {"Weight": 90, "NextNode": "resolver:v1.web.default.default.dc1"},
        {"Weight": 10, "NextNode": "resolver:v2.web.default.default.dc1"}]
    v1 = chain["Targets"]["v1.web.default.default.dc1"]
    assert v1["ServiceSubset"] == "v1" and v1["Subset"] == {"Filter": "Service.Meta.version == v1"}
    assert v1["ConnectTimeout"] == "15s" and v1["SNI"] == f"v1.web.default.dc1.internal.{TD}"


def test_redirect_failover_and_overrides() -> None:
    lookup = lookup_of(
        {"Kind": "service-resolver", "Name": "old", "Redirect": {"Service": "new"}},
        {"Kind": "service-resolver", "Name": "new", "Failover": {"*": {"Datacenters": ["dc2", "dc3"]}}},
    )
    chain = compile_chain(ChainRequest("old", "dc1", TD, override_connect_timeout="2s"), lookup)
    node = chain["Nodes"][chain["StartNode"]]
    assert chain["StartNode"] == "resolver:new.default.default.dc1"
    assert node["Resolver"]["Failover"] == {"Targets": ["new.default.default.dc2", "new.default.default.dc3"]}
    assert node["Resolver"]["ConnectTimeout"] == "2s" and "CustomizationHash" in chain
    cyclic = lookup_of({"Kind": "service-resolver", "Name": "a", "Redirect": {"Service": "b"}},
                       {"Kind": "service-resolver", "Name": "b", "Redirect": {"Service": "a"}})
    with pytest.raises(ChainError, match="circular resolver redirect"):
        compile_chain(ChainRequest("a", "dc1", TD), cyclic)


def test_routing_on_tcp_is_a_graph_error() -> None:
    lookup = lookup_of({"Kind": "service-splitter", "Name": "web", "Splits": [{"Weight": 100}]})
    with pytest.raises(ChainError, match='discovery chain "web" uses a protocol "tcp" that does not permit'):
        compile_chain(ChainRequest("web", "dc1", TD), lookup)
    # ... and fine once the service speaks HTTP, here through the override.
    chain = compile_chain(ChainRequest("web", "dc1", TD, override_protocol="http"), lookup)
    assert chain["StartNode"] == "splitter:web.default.default"


SERVICES = ("a", "b", "c")
SUBSETS = ("", "v1", "v2")


@st.composite
def entry_sets(draw: st.DrawFn) -> list[Row]:
    raw: list[Row] = []
    for svc in SERVICES:
        protocol = draw(st.sampled_from(["", "tcp", "http", "grpc"]))
        if protocol:
            raw.append({"Kind": "service-defaults", "Name": svc, "Protocol": protocol})
        if draw(st.booleans()):
            res: Row = {"Kind": "service-resolver", "Name": svc,
                        "Subsets": {"v1": {"Filter": "Service.Meta.v == 1"}, "v2": {"OnlyPassing": True}}}
            if draw(st.booleans()):
                res["DefaultSubset"] = draw(st.sampled_from(["v1", "v2"]))
            choice = draw(st.sampled_from(["none", "redirect", "failover"]))
            if choice == "redirect":
                res["Redirect"] = {"Service": draw(st.sampled_from(SERVICES))}
            elif choice == "failover":
                res["Failover"] = {"*": {"Service": draw(st.sampled_from(SERVICES))}}
            raw.append(res)
        if draw(st.booleans()):
            n = draw(st.integers(1, 3))
            cuts = sorted(draw(st.lists(st.integers(0, 100), min_size=n - 1, max_size=n - 1)))
            weights = [b - a for a, b in zip([0, *cuts], [*cuts, 100], strict=True)]
            splits = [{"Weight": w, "Service": draw(st.sampled_from(SERVICES)),
                       "ServiceSubset": draw(st.sampled_from(SUBSETS))} for w in weights]
            raw.append({"Kind": "service-splitter", "Name": svc, "Splits": splits})
        if draw(st.booleans()):
            routes = [{"Match": {"HTTP": {"PathPrefix": f"/{i}"}},
                       "Destination": {"Service": draw(st.sampled_from(SERVICES)),
                                       "ServiceSubset": draw(st.sampled_from(SUBSETS))}}
                      for i in range(draw(st.integers(0, 3)))]
            raw.append({"Kind": "service-router", "Name": svc, "Routes": routes})
    return raw


@given(raw=entry_sets(), start=st.sampled_from(SERVICES))
@settings(max_examples=300, deadline=None)
def test_any_chain_is_a_closed_graph(raw: list[Row], start: str) -> None:
    table: dict[tuple[str, str], Row] = {}
    for r in raw:
        try:
            e = normalize(r)
        except EntryError:
            continue  # e.g. a split list naming one destination twice
        table[(e["Kind"], e["Name"])] = e
    lookup = lambda k, n: table.get((k, n))  # noqa: E731
    try:
        chain = compile_chain(ChainRequest(start, "dc1", TD), lookup)
    except ChainError:
        return  # a cycle, a missing subset, routing on tcp: Consul's graph errors
    nodes, targets = chain["Nodes"], chain["Targets"]
    assert chain["StartNode"] in nodes
    referenced: set[str] = set()
    for name, node in nodes.items():
        assert name == f"{node['Type']}:{node['Name']}"
        if node["Type"] == "resolver":
            tid = node["Resolver"]["Target"]
            assert tid in targets and name == "resolver:" + tid
            referenced.add(tid)
            referenced.update((node["Resolver"].get("Failover") or {}).get("Targets", []))
        elif node["Type"] == "splitter":
            assert all(s["NextNode"] in nodes for s in node["Splits"])
            assert abs(sum(s["Weight"] for s in node["Splits"]) - 100) < 0.1
        else:
            assert node["Type"] == "router" and all(r["NextNode"] in nodes for r in node["Routes"])
            assert node["Routes"][-1]["Definition"]["Match"] == {"HTTP": {"PathPrefix": "/"}}
    assert referenced == set(targets)  # no target without a node naming it
    if chain["Protocol"] not in ("http", "http2", "grpc"):
        assert all(n["Type"] == "resolver" for n in nodes.values())
    shaped = any((k, start) in table for k in ("service-resolver", "service-router", "service-splitter"))
    if shaped:
        assert chain["Default"] is False
    assert compile_chain(ChainRequest(start, "dc1", TD), lookup) == chain  # deterministic
