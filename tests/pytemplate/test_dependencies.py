"""Dependency strings, identities and decoding of real Consul answers."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytemplate import dependencies as d
from pytemplate.consul_json import aggregated_status


def _entry(node: str, sid: str, port: int, checks: list[tuple[str, str]], addr: str = "",
           tags: list[str] | None = None) -> dict[str, object]:
    return {
        "Node": {"ID": f"id-{node}", "Node": node, "Address": "10.1.1.1", "Datacenter": "dc1",
                 "TaggedAddresses": {"lan": "10.1.1.1"}, "Meta": {}},
        "Service": {"ID": sid, "Service": "web", "Tags": tags or [], "Address": addr, "Port": port,
                    "Meta": {"v": "1"}, "Weights": {"Passing": 2, "Warning": 1}},
        "Checks": [{"Node": node, "CheckID": cid, "Name": cid, "Status": st} for cid, st in checks],
    }


@pytest.mark.parametrize(("text", "key", "name", "tag", "dc", "filters"), [
    ("nginx", "health.service(nginx|passing)", "nginx", "", "", ("passing",)),
    ("web.nginx", "health.service(web.nginx|passing)", "nginx", "web", "", ("passing",)),
    ("v1.2.nginx@dc2", "health.service(v1.2.nginx@dc2|passing)", "nginx", "v1.2", "dc2", ("passing",)),
    ("nginx|any", "health.service(nginx|any)", "nginx", "", "", ("any",)),
    ("nginx|warning,passing", "health.service(nginx|passing,warning)", "nginx", "", "", ("passing", "warning")),
])
def test_health_service_forms(text: str, key: str, name: str, tag: str, dc: str, filters: tuple[str, ...]) -> None:
    q = d.HealthServiceQuery.parse(text)
    assert (q.key, q.name, q.tag, q.dc, q.filters) == (key, name, tag, dc, filters)


def test_identity_is_shared_by_equal_queries_and_distinguishes_others() -> None:
    a, b = d.HealthServiceQuery.parse("nginx"), d.HealthServiceQuery.parse("nginx|passing")
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert d.KVGetQuery.parse("k", block=True) != d.KVGetQuery.parse("k")
    assert d.HealthServiceQuery.parse("nginx") != d.HealthServiceQuery.parse("nginx|any")


@pytest.mark.parametrize("bad", ["", "bad name", "nginx|sick", "a@", "nginx@dc 1"])
def test_bad_service_strings_are_clear_errors(bad: str) -> None:
    with pytest.raises(d.DependencyError, match="health.service: invalid"):
        d.HealthServiceQuery.parse(bad)


def test_passing_only_asks_consul_to_filter() -> None:
    assert ("passing", "1") in d.HealthServiceQuery.parse("nginx").request().params
    req = d.HealthServiceQuery.parse("web.nginx@dc2|any").request()
    assert req.path == "/v1/health/service/nginx"
    assert set(req.params) == {("dc", "dc2"), ("tag", "web")}


def test_health_decode_filters_by_aggregated_status_and_sorts_by_node_then_id() -> None:
    body = [
        _entry("n2", "b", 2, [("serfHealth", "passing")]),
        _entry("n1", "z", 3, [("serfHealth", "passing"), ("svc", "warning")]),
        _entry("n1", "a", 1, [("serfHealth", "passing")], addr="192.168.0.9", tags=["z", "a"]),
        _entry("n3", "c", 4, [("serfHealth", "critical")]),
        _entry("n4", "m", 5, [("_service_maintenance:m", "critical"), ("svc", "passing")]),
    ]
    passing = d.HealthServiceQuery.parse("web").decode(200, body)
    assert [(s.Node, s.ID) for s in passing] == [("n1", "a"), ("n2", "b")]
    first = passing[0]
    assert (first.Address, first.NodeAddress, first.Tags, first.Status) == ("192.168.0.9", "10.1.1.1", ["a", "z"], "passing")
    assert passing[1].Address == "10.1.1.1"  # no service address: the node's
    assert first.Weights.Passing == 2 and first.ServiceMeta == {"v": "1"}
    every = d.HealthServiceQuery.parse("web|any").decode(200, body)
    assert [s.Status for s in every] == ["passing", "warning", "passing", "critical", "maintenance"]
    warn = d.HealthServiceQuery.parse("web|warning,critical").decode(200, body)
    assert [s.ID for s in warn] == ["z", "c"]


def _kv(key: str, value: str | None) -> dict[str, object]:
    return {"Key": key, "Value": base64.b64encode(value.encode()).decode() if value is not None else None,
            "CreateIndex": 1, "ModifyIndex": 2, "LockIndex": 0, "Flags": 0}


def test_kv_get_decodes_value_and_absence() -> None:
    q = d.KVGetQuery.parse("/config/max")
    assert q.path == "config/max" and q.key == "kv.get(config/max)"
    assert q.decode(200, [_kv("config/max", "512")]) == "512"
    assert q.decode(200, [_kv("config/max", None)]) == ""
    assert q.decode(404, None) is None
    assert d.KVGetQuery.parse("x", block=True).block_on_nil


def test_kv_list_keys_are_relative_to_the_prefix() -> None:
    q = d.KVListQuery.parse("app")
    pairs = q.decode(200, [_kv("app/", None), _kv("app/db/host", "h"), _kv("app/name", "shop")])
    assert [(p.Key, p.Path, p.Value) for p in pairs] == [("", "app/", ""), ("db/host", "app/db/host", "h"),
                                                         ("name", "app/name", "shop")]
    assert q.decode(404, None) == []
    assert ("recurse", "1") in q.request().params
    keys = d.KVKeysQuery.parse("app/").decode(200, ["app/a", "app/b/c"])
    assert keys == ["a", "b/c"]


def test_catalog_decoders() -> None:
    services = d.CatalogServicesQuery.parse("").decode(200, {"web": ["b", "a"], "consul": []})
    assert [(s.Name, s.Tags) for s in services] == [("consul", []), ("web", ["a", "b"])]
    nodes = d.CatalogNodesQuery.parse("").decode(200, [{"Node": "b", "Address": "2"}, {"Node": "a", "Address": "1"}])
    assert [n.Node for n in nodes] == ["a", "b"]
    node = d.CatalogNodeQuery.parse("n1").decode(200, {
        "Node": {"Node": "n1", "Address": "1.1.1.1"},
        "Services": {"x2": {"ID": "x2", "Service": "web", "Port": 2}, "x1": {"ID": "x1", "Service": "api", "Port": 1}},
    })
    assert node.Node is not None and node.Node.Address == "1.1.1.1"
    assert [s.ID for s in node.Services] == ["x1", "x2"]
    assert d.CatalogNodeQuery.parse("").needs_node_name
    assert d.CatalogNodeQuery.parse("n1").request().path == "/v1/catalog/node/n1"
    assert d.CatalogDatacentersQuery().decode(200, ["dc2", "dc1"]) == ["dc1", "dc2"]
    assert not d.CatalogDatacentersQuery.blocking


statuses = st.lists(st.tuples(st.sampled_from(["serfHealth", "svc", "_node_maintenance", "_service_maintenance:x"]),
                              st.sampled_from(["passing", "warning", "critical"])), max_size=6)


@given(statuses)
def test_aggregated_status_priority(checks: list[tuple[str, str]]) -> None:
    got = aggregated_status([{"CheckID": cid, "Status": s} for cid, s in checks])
    plain = [s for cid, s in checks if not cid.startswith(("_node_maintenance", "_service_maintenance:"))]
    if len(plain) < len(checks):
        assert got == "maintenance"
    elif "critical" in plain:
        assert got == "critical"
    elif "warning" in plain:
        assert got == "warning"
    else:
        assert got == "passing"
