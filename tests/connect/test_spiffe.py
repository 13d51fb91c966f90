"""SPIFFE IDs: formatting, parsing, and the proxy's service comparison."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyconsul.connect import spiffe

names = st.text(st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters="/%"), min_size=1, max_size=20)


def test_trust_domain_is_lower_cased_dot_consul() -> None:
    assert spiffe.trust_domain("878E0A5E-842A") == "878e0a5e-842a.consul"


@given(names, names, names)
def test_service_uri_round_trips(ns: str, dc: str, svc: str) -> None:
    uri = spiffe.ServiceID("td.consul", ns, dc, svc).uri()
    assert spiffe.parse(uri) == spiffe.ServiceID("td.consul", ns, dc, svc)


def test_other_identities_and_rubbish() -> None:
    assert spiffe.parse("spiffe://td.consul") == spiffe.SigningID("td.consul")
    assert spiffe.parse("spiffe://td.consul/agent/client/dc/dc1/id/n1") == spiffe.AgentID("td.consul", "dc1", "n1")
    for bad in ("http://td.consul/ns/default/dc/dc1/svc/web", "spiffe://td.consul/svc/web", "web", ""):
        with pytest.raises(spiffe.SpiffeError):
            spiffe.parse(bad)


def test_same_service_ignores_trust_domain_and_case() -> None:
    a = "spiffe://aaa.consul/ns/default/dc/dc1/svc/Web"
    assert spiffe.same_service(a, "spiffe://bbb.consul/ns/default/dc/dc1/svc/web")
    assert not spiffe.same_service(a, "spiffe://aaa.consul/ns/default/dc/dc1/svc/db")
    assert not spiffe.same_service("not a uri", a)
