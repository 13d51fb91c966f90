"""translate_wan_addrs' rules over each endpoint's shape (pure; Consul's TranslateAddresses)."""

from __future__ import annotations

import json

from pyconsul.api.translate_wan import node_address, service_address, translate, translate_body


def test_node_address_prefers_wan_ipv4_then_ipv6_then_wan() -> None:
    assert node_address("10.0.0.1", {"wan": "w", "wan_ipv6": "v6", "wan_ipv4": "v4"}) == "v4"
    assert node_address("10.0.0.1", {"wan": "w", "wan_ipv6": "v6"}) == "v6"
    assert node_address("10.0.0.1", {"wan": "w"}) == "w"
    assert node_address("10.0.0.1", {"lan": "l"}) == "10.0.0.1" and node_address("a", None) == "a"


def test_service_address_only_from_its_own_tagged_wan() -> None:
    assert service_address("", {"wan": {"Address": "s", "Port": 1}}) == "s"
    assert service_address("", None) == "" and service_address("x", {"wan": {"Address": ""}}) == "x"


def test_only_other_datacenters_and_known_shapes() -> None:
    rows = [{"Address": "l", "TaggedAddresses": {"wan": "w"}}]
    assert translate("/v1/catalog/nodes", json.loads(json.dumps(rows)), "dc1", "dc1") == rows
    assert translate("/v1/catalog/nodes", json.loads(json.dumps(rows)), "dc1", "dc2")[0]["Address"] == "w"
    assert translate("/v1/kv/x", rows, "dc1", "dc2") is rows
    execute = {"Datacenter": "dc2", "Nodes": [{"Node": {"Address": "l", "TaggedAddresses": {"wan": "w"}},
                                               "Service": {"Address": ""}}]}
    assert translate("/v1/query/q/execute", execute, "dc1", "")["Nodes"][0]["Node"]["Address"] == "w"
    here = {"Datacenter": "dc1", "Nodes": [{"Node": {"Address": "l", "TaggedAddresses": {"wan": "w"}}}]}
    assert translate("/v1/query/q/execute", here, "dc1", "")["Nodes"][0]["Node"]["Address"] == "l"
    assert translate_body("/v1/catalog/nodes", b"not json", "dc1", "dc2") == b"not json"
