"""go-sockaddr templates in address settings: pure evaluation, and this host's real interfaces."""

from __future__ import annotations

import ipaddress

import pytest

from pyconsul.config.errors import ConfigError
from pyconsul.config.loader import load_agent_config
from pyconsul.config.sockaddr import IfAddr, TemplateError, render


def ifaddr(name: str, cidr: str, *flags: str, default: bool = False) -> IfAddr:
    iface = ipaddress.ip_interface(cidr)
    return IfAddr(name, iface.ip, iface.network, frozenset(flags or ("up",)), default)


HOST = [
    ifaddr("lo", "127.0.0.1/8", "up", "loopback"),
    ifaddr("lo", "::1/128", "up", "loopback"),
    ifaddr("eth0", "10.1.2.3/16", default=True),
    ifaddr("eth0", "fd00::5/64", default=True),
    ifaddr("eth1", "192.168.50.7/24"),
    ifaddr("eth2", "203.0.113.9/24", default=True),
]


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('{{ GetInterfaceIP "eth1" }}', "192.168.50.7"),
        ('{{ GetInterfaceIP "eth0" }}', "10.1.2.3"),
        ('{{ GetInterfaceIPs "lo" }}', "127.0.0.1"),
        ("{{ GetPrivateIP }}", "10.1.2.3"),
        ('{{ GetAllInterfaces | include "name" "^eth" | include "type" "IPv4" | join "address" "," }}',
         "10.1.2.3,192.168.50.7,203.0.113.9"),
        ('{{ GetAllInterfaces | include "network" "192.168.0.0/16" | attr "address" }}', "192.168.50.7"),
        ('{{ GetAllInterfaces | exclude "flag" "loopback" | include "type" "ipv6" | attr "address" }}', "fd00::5"),
        ('{{ GetDefaultInterfaces | include "type" "IPv4" | sort "address" | limit 1 | attr "name" }}', "eth0"),
        ('{{ GetAllInterfaces | include "name" "lo|eth1" | include "type" "IPv4" | join "address" " " }}',
         "127.0.0.1 192.168.50.7"),
        ("tcp://{{ GetInterfaceIP \"eth1\" }}:8500", "tcp://192.168.50.7:8500"),
    ],
)
def test_templates(template: str, expected: str) -> None:
    assert render(template, HOST) == expected


@pytest.mark.parametrize("template", ["{{ GetNothing }}", '{{ GetAllInterfaces | include "colour" "red" }}',
                                      '{{ GetAllInterfaces | limit "x" }}', "{{ | }}", '{{ GetInterfaceIP }}'])
def test_bad_templates(template: str) -> None:
    with pytest.raises(TemplateError):
        render(template, HOST)


def test_templates_in_agent_settings_use_real_interfaces() -> None:
    rc = load_agent_config([
        "-dev", "-bind", '{{ GetInterfaceIP "lo" }}',
        "-client", '{{ GetAllInterfaces | include "flag" "loopback" | include "type" "IPv4" | join "address" " " }}',
        "-retry-join", '{{ GetInterfaceIP "lo" }}',
    ])
    assert rc.bind_addr == "127.0.0.1"
    assert rc.client_addr == "127.0.0.1"
    assert rc.retry_join == ["127.0.0.1"]


def test_bind_template_must_give_exactly_one_address() -> None:
    with pytest.raises(ConfigError, match="bind_addr: No address found"):
        load_agent_config(["-dev", "-bind", '{{ GetInterfaceIP "no-such-if0" }}'])
    with pytest.raises(ConfigError, match="bind_addr: Multiple addresses found"):
        load_agent_config(["-dev", "-bind", '{{ GetAllInterfaces | include "flag" "loopback" | join "address" " " }}'])
