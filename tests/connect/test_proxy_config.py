"""The built-in proxy's configuration from flags or a sidecar registration, and its banner."""

from __future__ import annotations

import pytest

from pyconsul.connect import proxy_config as pc


def test_flags_mode_banner_is_consuls() -> None:
    cfg = pc.from_flags("web", ["socat:9191"], "", "")
    assert pc.banner_flags_mode(cfg) == [
        "==> Consul Connect proxy starting...",
        "    Configuration mode: Flags",
        "               Service: web",
        "              Upstream: socat => :9191",
        "       Public listener: Disabled",
    ]
    cfg = pc.from_flags("frontend", ["db:127.0.0.1:8181"], "127.0.0.1:8443", "127.0.0.1:8080")
    assert pc.banner_flags_mode(cfg)[-2:] == ["              Upstream: db => 127.0.0.1:8181",
                                              "       Public listener: 127.0.0.1:8443 => 127.0.0.1:8080"]


def test_agent_mode_banner() -> None:
    assert pc.banner_agent_mode("socat", "socat-sidecar-proxy") == [
        "==> Consul Connect proxy starting...",
        "    Configuration mode: Agent API",
        "        Sidecar for ID: socat",
        "              Proxy ID: socat-sidecar-proxy",
    ]


def test_listen_needs_a_service_address_and_upstreams_need_a_port() -> None:
    with pytest.raises(pc.ProxyConfigError, match="-service-addr must be specified with -listen"):
        pc.from_flags("web", [], "127.0.0.1:8443", "")
    with pytest.raises(pc.ProxyConfigError, match="upstream must be name:addr"):
        pc.parse_upstream("socat")
    with pytest.raises(pc.ProxyConfigError, match="invalid port"):
        pc.parse_upstream("socat:x")


def sidecar(sid: str, dest: str) -> dict[str, object]:
    return {"ID": sid, "Kind": "connect-proxy", "Port": 21000,
            "Proxy": {"DestinationServiceName": dest, "DestinationServiceID": dest, "LocalServicePort": 8181,
                      "Upstreams": [{"DestinationName": "db", "LocalBindPort": 9191},
                                    {"DestinationName": "nope"}]}}


def test_find_sidecar_and_its_errors() -> None:
    services = {"socat": {"ID": "socat"}, "socat-sidecar-proxy": sidecar("socat-sidecar-proxy", "socat")}
    assert pc.find_sidecar(services, "SOCAT") == "socat-sidecar-proxy"
    with pytest.raises(pc.ProxyConfigError, match="^No sidecar proxy registered for web$"):
        pc.find_sidecar(services, "web")
    services["other"] = sidecar("other", "socat")
    with pytest.raises(pc.ProxyConfigError) as err:
        pc.find_sidecar(services, "socat")
    assert str(err.value) == ("More than one sidecar proxy registered for socat.\n"
                              "    Start proxy with -proxy-id and one of the following IDs: other, socat-sidecar-proxy")


def test_registration_defaults() -> None:
    cfg = pc.from_registration(sidecar("socat-sidecar-proxy", "socat"))
    assert cfg.service == "socat" and cfg.proxy_id == "socat-sidecar-proxy"
    assert cfg.public == pc.PublicListener("0.0.0.0", 21000, "127.0.0.1", 8181)
    assert cfg.upstreams == (pc.Upstream("db", "127.0.0.1", 9191),)  # no local port: skipped
    assert cfg.upstreams[0].label() == "127.0.0.1:9191->service:default/db"
