"""The sidecar a `connect { sidecar_service {} }` definition asks for: Consul's defaults, its port
allocation and its errors (pure: pyconsul.mesh.sidecar)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyconsul.api.errors import HTTPError
from pyconsul.api.proxy_defs import connect_problems
from pyconsul.api.validate import service_from_request
from pyconsul.mesh.sidecar import SidecarError, allocate_port, expand_sidecar

RANGE = (21000, 21255)


def svc(body: dict[str, object]) -> dict[str, object]:
    return service_from_request(body, "structs.ServiceDefinition")


def test_minimal_sidecar_has_consuls_defaults() -> None:
    out = expand_sidecar(svc({"name": "socat", "port": 8181, "connect": {"sidecar_service": {}}}), RANGE, set(), None)
    assert out is not None
    assert out.parent["Connect"] == {}  # the parent no longer carries the sidecar
    side = out.service
    assert (side["ID"], side["Service"], side["Kind"], side["Port"]) == (
        "socat-sidecar-proxy", "socat-sidecar-proxy", "connect-proxy", 21000)
    assert side["Proxy"] == {
        "DestinationServiceName": "socat", "DestinationServiceID": "socat", "LocalServiceAddress": "127.0.0.1",
        "LocalServicePort": 8181, "Mode": "", "MeshGateway": {}, "Expose": {}}
    assert out.checks == [
        {"Name": "Connect Sidecar Listening", "TCP": "127.0.0.1:21000", "Interval": "10s"},
        {"Name": "Connect Sidecar Aliasing socat", "AliasService": "socat"},
    ]


def test_hcl_blocks_and_upstreams_decode_like_json() -> None:
    # The config loader hands HCL blocks over as lists of one object.
    hcl = svc({"Name": "web", "ID": "web-1", "Port": 8080, "Tags": ["v1"], "Meta": {"team": "a"}, "Address": "10.0.0.5",
               "Connect": [{"sidecar_service": [{"proxy": [{"upstreams": [
                   {"destination_name": "socat", "local_bind_port": 9191}]}]}]}]})
    out = expand_sidecar(hcl, RANGE, {21000}, None)
    assert out is not None
    side = out.service
    assert side["ID"] == "web-1-sidecar-proxy" and side["Service"] == "web-sidecar-proxy"
    assert side["Port"] == 21001  # 21000 is taken by another local service
    assert (side["Tags"], side["Meta"], side["Address"]) == (["v1"], {"team": "a"}, "10.0.0.5")
    assert side["Proxy"]["DestinationServiceID"] == "web-1"
    assert side["Proxy"]["Upstreams"] == [{"DestinationType": "service", "DestinationName": "socat", "Datacenter": "",
                                           "LocalBindPort": 9191, "MeshGateway": {}}]
    assert out.checks[0]["TCP"] == "10.0.0.5:21001"
    assert out.checks[1] == {"Name": "Connect Sidecar Aliasing web", "AliasService": "web-1"}


def test_sidecar_settings_win_over_defaults() -> None:
    out = expand_sidecar(svc({"Name": "db", "Port": 5432, "Tags": ["parent"], "Connect": {"SidecarService": {
        "Port": 30000, "Tags": ["mine"], "Check": {"Name": "up", "TTL": "30s"},
        "Proxy": {"LocalServicePort": 6543, "LocalServiceAddress": "10.1.1.1"}}}}), RANGE, set(), None)
    assert out is not None
    assert out.service["Port"] == 30000 and out.service["Tags"] == ["mine"]
    assert out.service["Proxy"]["LocalServicePort"] == 6543
    assert out.service["Proxy"]["LocalServiceAddress"] == "10.1.1.1"
    assert out.checks == [{"Name": "up", "TTL": "30s"}]


def test_reregistering_keeps_the_sidecars_port() -> None:
    body = {"Name": "web", "Port": 8080, "Connect": {"SidecarService": {}}}
    first = expand_sidecar(svc(body), RANGE, {21000, 21001}, None)
    assert first is not None and first.service["Port"] == 21002
    # Later the lower ports are free again: the sidecar still keeps the port it had.
    again = expand_sidecar(svc(body), RANGE, set(), first.service)
    assert again is not None and again.service["Port"] == 21002


def test_no_sidecar_asked_for() -> None:
    assert expand_sidecar(svc({"Name": "web", "Port": 1}), RANGE, set(), None) is None
    assert expand_sidecar(svc({"Name": "web", "Port": 1, "Connect": {"Native": True}}), RANGE, set(), None) is None


def test_port_errors_use_consuls_text() -> None:
    with pytest.raises(SidecarError, match=r"^no port provided for sidecar_service and none left in the "
                                           r"configured range \[21000, 21001\]$"):
        allocate_port(21000, 21001, {21000, 21001})
    with pytest.raises(SidecarError, match="auto-assignment disabled in config"):
        allocate_port(0, 21255, set())


@given(low=st.integers(1, 60000), width=st.integers(0, 30), used=st.sets(st.integers(1, 60100), max_size=40))
def test_allocation_takes_the_lowest_free_port_in_range(low: int, width: int, used: set[int]) -> None:
    high = low + width
    free = [p for p in range(low, high + 1) if p not in used]
    if not free:
        with pytest.raises(SidecarError):
            allocate_port(low, high, used)
        return
    assert allocate_port(low, high, used) == free[0]


@pytest.mark.parametrize(("body", "problem"), [
    ({"Name": "p", "Kind": "connect-proxy", "Port": 1}, "Proxy.DestinationServiceName must be non-empty"),
    ({"Name": "p", "Kind": "connect-proxy", "Proxy": {"DestinationServiceName": "web"}},
     "Port or SocketPath must be set for a Connect proxy"),
    ({"Name": "n", "Connect": {"Native": True}}, "Port or SocketPath must be set for a Connect native service."),
    ({"Name": "w", "Port": 1, "Connect": {"SidecarService": {"ID": "x"}}}, "cannot specify an ID"),
    ({"Name": "w", "Port": 1, "Connect": {"SidecarService": {"Connect": {"SidecarService": {}}}}},
     "cannot have a nested SidecarService"),
])
def test_connect_validation(body: dict[str, object], problem: str) -> None:
    assert any(problem in p for p in connect_problems(svc(body)))


def test_bad_types_are_decode_errors_not_crashes() -> None:
    with pytest.raises(HTTPError, match="LocalServicePort of type int"):
        svc({"Name": "p", "Kind": "connect-proxy", "Port": 1, "Proxy": {"LocalServicePort": "x"}})
    with pytest.raises(HTTPError, match="Native of type bool"):
        svc({"Name": "n", "Port": 1, "Connect": {"Native": "yes"}})
