"""The `-http-proxy` listener's reading of requests: which service a request names, and what the
service is sent (pure; the end-to-end run is tests/connect/test_seed003.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyconsul.connect import http_head as hh


def req(text: str) -> hh.Request:
    return hh.parse_request(text.replace("\n", "\r\n").encode() + b"\r\n")


@pytest.mark.parametrize("host", ["hello", "HELLO", "hello:8080", "hello.service.consul", "hello.connect.consul",
                                  "hello.virtual.consul", "hello.service.dc1.consul", "hello.service.consul.:80"])
def test_the_names_an_app_sends_for_a_service(host: str) -> None:
    assert hh.route(req(f"GET http://{host}/p HTTP/1.1\nHost: {host}\n"), "dc1").service == "hello"
    assert hh.route(req(f"GET /p HTTP/1.1\nHost: {host}\n"), "dc1").service == "hello"


@pytest.mark.parametrize("host", ["example.com", "10.0.0.1", "hello.service.example", "hello.node.consul", "a..b"])
def test_names_that_are_no_service_are_a_502(host: str) -> None:
    with pytest.raises(hh.HeadError) as err:
        hh.route(req(f"GET http://{host}/ HTTP/1.1\n"), "dc1")
    assert err.value.status == 502 and "is not a Connect service name" in str(err.value)


def test_another_datacenter_is_refused_by_name() -> None:
    with pytest.raises(hh.HeadError, match="in datacenter dc2; this proxy reaches only dc1"):
        hh.route(req("GET http://hello.service.dc2.consul/ HTTP/1.1\n"), "dc1")


def test_the_agents_own_domain_is_accepted() -> None:
    assert hh.route(req("GET http://hello.service.mesh.example/ HTTP/1.1\n"), "dc1",
                    ("mesh.example", "consul")).service == "hello"


def test_what_the_service_is_sent() -> None:
    r = req("GET http://hello:8080/a?b=1 HTTP/1.1\nHost: hello:8080\nProxy-Connection: keep-alive\n"
            "Proxy-Authorization: Basic eA==\nExpect: 100-continue\nUser-Agent: curl\n")
    rt = hh.route(r, "dc1")
    assert hh.upstream_head(r, rt) == b"GET /a?b=1 HTTP/1.1\r\nHost: hello:8080\r\nUser-Agent: curl\r\n\r\n"


def test_connect_and_bad_requests() -> None:
    assert hh.route(req("CONNECT hello:443 HTTP/1.1\n"), "dc1") == hh.Route("hello", "", "hello:443")
    for text, status in (("GET /x HTTP/1.1\n", 400), ("GET https://hello/ HTTP/1.1\n", 400),
                         ("GET x HTTP/1.1\nHost: hello\n", 400)):
        with pytest.raises(hh.HeadError) as err:
            hh.route(req(text), "dc1")
        assert err.value.status == status
    for bad in ("GET / HTTP/2\n", "GET /\n", "GET / HTTP/1.1\nno-colon\n", "GET / HTTP/1.1\nBad Name: x\n"):
        with pytest.raises(hh.HeadError):
            req(bad)


def test_framing_and_keep_alive() -> None:
    assert hh.body_length(req("POST / HTTP/1.1\nTransfer-Encoding: gzip, chunked\n")) == -1
    assert hh.body_length(req("POST / HTTP/1.1\nContent-Length: 12\n")) == 12
    assert hh.body_length(req("GET / HTTP/1.1\n")) is None
    with pytest.raises(hh.HeadError):
        hh.body_length(req("POST / HTTP/1.1\nContent-Length: -1\n"))
    assert hh.client_keeps_alive(req("GET / HTTP/1.1\n"))
    assert not hh.client_keeps_alive(req("GET / HTTP/1.1\nConnection: close\n"))
    assert not hh.client_keeps_alive(req("GET / HTTP/1.0\n"))
    assert hh.client_keeps_alive(req("GET / HTTP/1.0\nProxy-Connection: Keep-Alive\n"))
    assert not hh.response_has_body("HEAD", 200) and not hh.response_has_body("GET", 304)
    resp = hh.parse_response(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
    assert (resp.status, resp.tokens("connection")) == (204, {"close"})


def test_error_answers_are_complete_messages() -> None:
    raw = hh.error_response(502, "no healthy instances of service 'nope' in the mesh")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 502 Bad Gateway\r\n") and b"Connection: close" in head
    assert f"Content-Length: {len(body)}".encode() in head


names = st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}", fullmatch=True)
paths = st.from_regex(r"/[A-Za-z0-9/._~%-]{0,30}(\?[a-z0-9=&]{0,10})?", fullmatch=True)


@given(names, paths, st.sampled_from(["", ":80", ":8080"]), st.sampled_from(["", ".service.consul"]))
def test_absolute_and_origin_form_reach_the_same_service_and_path(name: str, path: str, port: str, dns: str) -> None:
    host = f"{name}{dns}{port}"
    absolute = hh.route(req(f"GET http://{host}{path} HTTP/1.1\n"), "dc1")
    origin = hh.route(req(f"GET {path} HTTP/1.1\nHost: {host}\n"), "dc1")
    assert absolute == origin == hh.Route(name, path, host)
    sent = hh.parse_request(hh.upstream_head(req(f"GET http://{host}{path} HTTP/1.1\n"), absolute))
    assert (sent.target, sent.header("host")) == (path, host)
