"""The reply cache's key rule: both HTTP paths key a request by its decoded query pairs, so two
queries the handler tells apart never share a cached answer, and the cache is bounded in bytes."""

from __future__ import annotations

import json
import socket
from urllib.parse import quote

import yarl
from hypothesis import given, settings
from hypothesis import strategies as st

from pyconsul.api.reply_cache import ReplyCache
from pyconsul.api.reply_key import VOLATILE, reply_target
from tests.support.agents import AgentProcess


def _raw_get(agent: AgentProcess, target: str) -> tuple[dict[str, str], bytes]:
    """One GET with the target sent byte for byte (urllib would re-quote it)."""
    with socket.create_connection((agent.host, agent.http_port), timeout=10) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    assert lines[0].startswith("HTTP/1.1 200"), (target, lines[0], body[:200])
    return headers, body


def test_encoded_and_double_encoded_tags_are_answered_apart_on_both_paths(agent: AgentProcess) -> None:
    # Two instances whose tags differ only in one level of percent-encoding.
    for sid, tag in (("one", "a%26b"), ("two", "a&b")):
        status, _, body = agent.request("PUT", "/v1/agent/service/register",
                                        {"ID": sid, "Name": "web", "Tags": [tag], "Port": 80})
        assert status == 200, body
    double, single = "/v1/catalog/service/web?tag=a%2526b", "/v1/catalog/service/web?tag=a%26b"
    # The first read of each goes through aiohttp and fills the cache; repeats may take the fast
    # path (no Server header). Every answer must be the instance with that exact tag.
    seen_fast = False
    for _ in range(4):
        for target, want in ((double, "one"), (single, "two")):
            headers, body = _raw_get(agent, target)
            assert [s["ServiceID"] for s in json.loads(body)] == [want], (target, body[:300])
            seen_fast |= "server" not in headers
    assert seen_fast, "the fast path never answered; the test would not cover it"


def test_a_go_client_prefix_tag_is_not_answered_with_a_planted_reply(agent: AgentProcess) -> None:
    # Go's client sends `urlprefix-/api` as `urlprefix-%2Fapi`; a slow-path read of the literal
    # text `urlprefix-%2Fapi` (sent double-encoded) must not plant its answer under that key.
    for sid, tag in (("lit", "urlprefix-%2Fapi"), ("real", "urlprefix-/api")):
        status, _, body = agent.request("PUT", "/v1/agent/service/register",
                                        {"ID": sid, "Name": "fabio", "Tags": [tag], "Port": 80})
        assert status == 200, body
    for _ in range(3):
        _raw_get(agent, "/v1/health/service/fabio?tag=urlprefix-%252Fapi")
    for _ in range(3):
        _, body = _raw_get(agent, "/v1/health/service/fabio?tag=urlprefix-%2Fapi")
        assert [e["Service"]["ID"] for e in json.loads(body)] == ["real"]


def test_fast_path_honours_connection_close(agent: AgentProcess) -> None:
    # Repeated reads reach the fast path; each must end with the server closing (recv → b"").
    agent.request("PUT", "/v1/agent/service/register", {"ID": "w", "Name": "web", "Port": 80})
    for _ in range(4):
        _raw_get(agent, "/v1/health/service/web")


_QUERY_CHARS = st.sampled_from(list("ab=&%+;/?#:2F6e9 ") + ["%25", "%26", "%2B", "%3D", "%e9", "%C3%A9"])


@settings(max_examples=400, deadline=None)
@given(st.lists(_QUERY_CHARS, max_size=16).map("".join), st.lists(_QUERY_CHARS, max_size=16).map("".join))
def test_equal_keys_only_for_queries_the_handler_reads_alike(q1: str, q2: str) -> None:
    """What aiohttp's handler reads (yarl's decoding, less the volatile options) is the same
    whenever the keys are — so a cached reply is never served to a different question."""
    def seen(q: str) -> list[tuple[str, str]]:
        return [(k, v) for k, v in yarl.URL("/v1/catalog/nodes?" + q).query.items() if k not in VOLATILE]

    t1, t2 = reply_target("/v1/catalog/nodes?" + q1), reply_target("/v1/catalog/nodes?" + q2)
    if t1 is not None and t2 is not None and t1.key == t2.key:
        assert seen(q1) == seen(q2), (q1, q2, t1.key)


def test_key_ignores_blocking_options_and_reads_the_index() -> None:
    t = reply_target("/v1/health/service/web?index=42&wait=5s&tag=x&stale&passing")
    assert t is not None
    assert (t.key, t.index, t.consistent) == ("/v1/health/service/web?tag=x&passing=", 42, False)
    assert reply_target("/v1/catalog/nodes?index=abc") is None
    assert reply_target("/v1/catalog/nodes?x=%zz") is None
    assert reply_target("/v1/catalog/nodes?x=%ff") is None  # not UTF-8
    t = reply_target("/v1/catalog/nodes?consistent")
    assert t is not None and t.consistent
    assert reply_target("/v1/catalog/nodes?tag=" + quote("é")) is not None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcdefgh"), st.integers(0, 5000)), max_size=60))
def test_cache_stays_within_its_byte_and_entry_bounds(puts: list[tuple[str, int]]) -> None:
    evicted: list[str] = []
    cache = ReplyCache(max_entries=5, max_bytes=10_000, on_evict=evicted.append)
    for key, size in puts:
        cache.put(key, 1, b"x" * size)
        assert cache.bytes <= 10_000 and len(cache) <= 5
        assert cache.bytes == sum(len(e[1]) for k in "abcdefgh" if (e := cache.get(k)) is not None)
    big = ReplyCache(max_entries=5, max_bytes=100)
    big.put("k", 1, b"y" * 101)
    assert big.get("k") is None and big.bytes == 0
