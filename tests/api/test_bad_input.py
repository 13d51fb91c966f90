"""Bad input against a real agent: always a 4xx with Consul's message, never a 500 or a traceback,
and nothing half-applied.

Expected texts are Consul's (agent/http.go, kvs_endpoint.go, txn_endpoint.go, catalog_endpoint.go of
hashicorp/consul). Where Consul itself answers 500 for bad input (an RPC-level validation error) we
still demand a 4xx, and its text. Cases where pyconsul is known to differ are marked xfail(strict),
so fixing the agent turns them into failures that ask for the marker to go.
"""

from __future__ import annotations

import base64
import json
import socket
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.agents import AgentProcess

KV_LIMIT = 512 * 1024


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    path: str
    body: bytes | None
    status: int | None  # None: any 4xx
    text: str | None = None  # Consul's body (compared without a trailing newline)
    prefix: bool = False  # text is a prefix of the body
    gap: str = ""  # why pyconsul is known to differ (xfail strict)


def J(value: Any) -> bytes:
    return json.dumps(value).encode()


CASES = [
    # --- malformed JSON and wrong types ---------------------------------------------------
    Case("register-malformed-json", "PUT", "/v1/catalog/register", b"{not json", 400,
         "Request decode failed: ", prefix=True),
    Case("register-not-an-object", "PUT", "/v1/catalog/register", b"[]", 400, "Request decode failed: ", prefix=True),
    Case("register-null", "PUT", "/v1/catalog/register", b"null", None),
    Case("register-binary", "PUT", "/v1/catalog/register", b"\xff\xfe\x00", 400, "Request decode failed: ", prefix=True),
    Case("register-port-is-string", "PUT", "/v1/catalog/register",
         J({"Node": "bad-1", "Address": "10.0.0.1", "Service": {"Service": "s", "Port": "x"}}), 400,
         "Request decode failed: ", prefix=True),
    Case("register-tags-is-string", "PUT", "/v1/catalog/register",
         J({"Node": "bad-2", "Address": "10.0.0.1", "Service": {"Service": "s", "Tags": "x"}}), 400,
         "Request decode failed: ", prefix=True),
    Case("agent-service-malformed", "PUT", "/v1/agent/service/register", b"{bad", 400,
         "Request decode failed: ", prefix=True),
    Case("agent-service-port-is-string", "PUT", "/v1/agent/service/register", J({"Name": "x", "Port": "80"}), 400,
         "Request decode failed: ", prefix=True),
    Case("agent-service-body-is-string", "PUT", "/v1/agent/service/register", b'"x"', 400,
         "Request decode failed: ", prefix=True),
    Case("agent-check-update-malformed", "PUT", "/v1/agent/check/update/x", b"{bad", 400,
         "Request decode failed: ", prefix=True),
    Case("session-malformed", "PUT", "/v1/session/create", b"{bad", 400, "Request decode failed: ", prefix=True),
    Case("session-body-is-list", "PUT", "/v1/session/create", b"[]", 400, "Request decode failed: ", prefix=True),
    Case("session-ttl-not-duration", "PUT", "/v1/session/create", J({"TTL": "abc"}), None),
    Case("txn-malformed", "PUT", "/v1/txn", b"{bad", 400, "Failed to parse body: ", prefix=True),
    Case("txn-bad-base64", "PUT", "/v1/txn", J([{"KV": {"Verb": "set", "Key": "a", "Value": "!!"}}]), 400,
         "Failed to parse body: ", prefix=True),
    # --- semantically invalid registrations (Consul's server-side texts) ------------------------
    Case("register-no-node", "PUT", "/v1/catalog/register", J({"Address": "10.0.0.1"}), None, "Must provide node"),
    Case("register-no-address", "PUT", "/v1/catalog/register", J({"Node": "bad-3"}), None,
         "Must provide address if SkipNodeUpdate is not set"),
    Case("register-service-id-without-name", "PUT", "/v1/catalog/register",
         J({"Node": "bad-4", "Address": "10.0.0.1", "Service": {"ID": "sid"}}), None,
         "Must provide service name with ID"),
    Case("register-bad-node-id", "PUT", "/v1/catalog/register",
         J({"Node": "bad-5", "Address": "10.0.0.1", "ID": "not-a-uuid"}), None, "Bad node ID: ", prefix=True),
    Case("deregister-no-node", "PUT", "/v1/catalog/deregister", J({}), None, "Must provide node"),
    Case("deregister-service-id-array", "PUT", "/v1/catalog/deregister", J({"Node": "n1", "ServiceID": ["a"]}), 400,
         "Request decode failed: json: cannot unmarshal array into Go struct field DeregisterRequest.ServiceID "
         "of type string"),
    Case("deregister-check-id-object", "PUT", "/v1/catalog/deregister", J({"Node": "n1", "CheckID": {"a": 1}}), 400,
         "Request decode failed: json: cannot unmarshal object into Go struct field DeregisterRequest.CheckID "
         "of type string"),
    Case("register-datacenter-array", "PUT", "/v1/catalog/register",
         J({"Node": "n1", "Address": "10.0.0.1", "Datacenter": ["dc1"]}), 400,
         "Request decode failed: json: cannot unmarshal array into Go struct field RegisterRequest.Datacenter "
         "of type string"),
    Case("agent-service-no-name", "PUT", "/v1/agent/service/register", J({}), 400, "Missing service name"),
    Case("agent-check-no-name", "PUT", "/v1/agent/check/register", J({}), 400, "Missing check name"),
    Case("agent-check-unknown-service", "PUT", "/v1/agent/check/register",
         J({"Name": "c", "TTL": "10s", "ServiceID": "ghost"}), 400, 'ServiceID "ghost" does not exist'),
    Case("agent-check-pass-unknown", "PUT", "/v1/agent/check/pass/nope", None, 404,
         'Unknown check ID "nope". Ensure that the check ID is passed, not the check name.'),
    Case("agent-service-deregister-unknown", "PUT", "/v1/agent/service/deregister/nope", None, 404,
         'Unknown service ID "nope". Ensure that the service ID is passed, not the service name.'),
    Case("agent-maintenance-no-enable", "PUT", "/v1/agent/maintenance", None, 400, "Missing value for enable"),
    Case("agent-maintenance-bad-enable", "PUT", "/v1/agent/maintenance?enable=maybe", None, 400),
    Case("session-unknown-node", "PUT", "/v1/session/create", J({"Node": "ghost"}), None),
    Case("session-bad-behavior", "PUT", "/v1/session/create", J({"Behavior": "explode"}), None),
    Case("session-ttl-too-short", "PUT", "/v1/session/create", J({"TTL": "1s"}), None, "Invalid Session TTL",
         prefix=True),
    Case("session-renew-unknown", "PUT", "/v1/session/renew/00000000-0000-0000-0000-000000000000", None, 404),
    # --- bad query parameters ---------------------------------------------------------------
    Case("index-not-a-number", "GET", "/v1/catalog/nodes?index=abc", None, 400, "Invalid index"),
    Case("index-negative", "GET", "/v1/catalog/nodes?index=-1", None, 400, "Invalid index"),
    Case("index-over-uint64", "GET", "/v1/kv/x?index=18446744073709551616", None, 400, "Invalid index"),
    Case("wait-not-a-duration", "GET", "/v1/catalog/nodes?wait=abc", None, 400, "Invalid wait time"),
    Case("wait-bad-unit", "GET", "/v1/kv/a?recurse&wait=1x", None, 400, "Invalid wait time"),
    Case("stale-and-consistent", "GET", "/v1/catalog/nodes?stale&consistent", None, 400,
         "Cannot specify ?stale with ?consistent, conflicting semantics."),
    Case("max-stale-not-a-duration", "GET", "/v1/catalog/nodes?max_stale=zz", None, 400,
         'Invalid max_stale value "zz"'),
    Case("filter-syntax", "GET", "/v1/health/service/web?filter=%28%28", None, 400,
         "Failed to create boolean expression evaluator: ", prefix=True),
    Case("filter-unknown-selector", "GET", "/v1/health/service/web?filter=Service.Foo%20%3D%3D%201", None, 400,
         'Failed to create boolean expression evaluator: Selector "Service.Foo" is not valid'),
    Case("filter-uncoercible", "GET", "/v1/agent/services?filter=Port%20%3D%3D%20abc", None, 400,
         'Failed to create boolean expression evaluator: Failed to coerce value "abc" for selector "Port": '
         'strconv.ParseInt: parsing "abc": invalid syntax'),
    Case("health-state-bogus", "GET", "/v1/health/state/bogus", None, 400),
    Case("passing-not-a-bool", "GET", "/v1/health/service/web?passing=nope-nope-nope", None, 400,
         "Invalid value for ?passing"),
    Case("kv-cas-not-a-number", "PUT", "/v1/kv/bad-cas?cas=abc", b"x", None),
    Case("kv-flags-not-a-number", "PUT", "/v1/kv/bad-flags?flags=abc", b"x", None),
    Case("kv-delete-cas-not-a-number", "DELETE", "/v1/kv/bad-cas?cas=abc", None, None),
    Case("kv-acquire-and-release", "PUT", "/v1/kv/bad-lock?acquire=x&release=y", b"x", 400,
         "Conflicting flags: acquire=x&release=y"),
    Case("kv-acquire-unknown-session", "PUT", "/v1/kv/bad-lock?acquire=00000000-0000-0000-0000-000000000000",
         b"x", None),
    Case("kv-missing-key", "PUT", "/v1/kv/", b"x", 400, "Missing key name"),
    Case("kv-get-missing-key", "GET", "/v1/kv/", None, 400, "Missing key name"),
    # --- unknown paths and wrong methods ---------------------------------------------------------
    Case("unknown-v1-path", "GET", "/v1/nope", None, 404, "Invalid URL path: not a recognized HTTP API endpoint"),
    Case("unknown-catalog-path", "GET", "/v1/catalog/nope", None, 404,
         "Invalid URL path: not a recognized HTTP API endpoint"),
    Case("non-v1-path", "GET", "/nope", None, 404,
         "Invalid URL path: if attempting to use the HTTP API, ensure the path starts with '/v1/'"),
    Case("get-on-register", "GET", "/v1/catalog/register", None, 405, "method GET not allowed"),
    Case("delete-on-nodes", "DELETE", "/v1/catalog/nodes", None, 405, "method DELETE not allowed"),
    Case("post-on-leader", "POST", "/v1/status/leader", None, 405, "method POST not allowed"),
    # --- oversized bodies -----------------------------------------------------------------------
    Case("kv-value-over-limit", "PUT", "/v1/kv/too-big", b"x" * (KV_LIMIT + 1), 413,
         "Value exceeds 524288 byte limit"),
    Case("txn-too-many-ops", "PUT", "/v1/txn", J([{"KV": {"Verb": "get", "Key": "a"}}] * 129), 413,
         "Transaction contains too many operations (129 > 128)"),
    Case("txn-value-over-limit", "PUT", "/v1/txn",
         J([{"KV": {"Verb": "set", "Key": "a", "Value": base64.b64encode(b"x" * (KV_LIMIT + 1)).decode()}}]),
         413, 'Value for key "a" is too large (524289 > 524288 bytes)',
         gap="says \"Value for key 'a' exceeds 524288 byte limit\""),
    Case("txn-body-over-limit", "PUT", "/v1/txn", b"[" + b" " * (KV_LIMIT + 100) + b"]", 413,
         "Request body(524390 bytes) too large, max size: 524288 bytes. "
         "See https://www.consul.io/docs/agent/config/config-files#txn_max_req_len."),
    Case("event-payload-over-limit", "PUT", "/v1/event/fire/big", b"x" * (100 * 1024 + 1), 413),
]


def _params() -> list[Any]:
    out = []
    for c in CASES:
        marks = [pytest.mark.xfail(strict=True, reason=c.gap)] if c.gap else []
        out.append(pytest.param(c, id=c.id, marks=marks))
    return out


def assert_clean_client_error(status: int, body: bytes) -> str:
    text = body.decode("utf-8", "replace")
    assert 400 <= status < 500, (status, text[:300])
    assert "Traceback" not in text and "File \"" not in text, text[:300]
    return text


@pytest.mark.parametrize("case", _params())
def test_bad_input_gets_consuls_4xx(shared_agent: AgentProcess, case: Case) -> None:
    status, _, body = shared_agent.request(case.method, case.path, case.body, timeout=30)
    text = assert_clean_client_error(status, body)
    if case.status is not None:
        assert status == case.status, text[:300]
    if case.text is not None:
        got = text.rstrip("\n")
        assert (got.startswith(case.text) if case.prefix else got == case.text), got[:300]


def test_wrong_method_names_the_allowed_ones(shared_agent: AgentProcess) -> None:
    status, headers, _ = shared_agent.request("GET", "/v1/catalog/register")
    assert status == 405
    # Consul's wrapper sends RFC 7231's Allow header with its 405s
    assert headers.get("Allow") == "OPTIONS,PUT"


def test_oversized_request_body_is_refused_and_agent_lives_on(shared_agent: AgentProcess) -> None:
    status, _, body = shared_agent.request("PUT", "/v1/catalog/register", b"x" * (17 * 1024 * 1024), timeout=60)
    assert_clean_client_error(status, body)
    assert status == 413
    assert shared_agent.request("GET", "/v1/status/leader")[0] == 200


def test_kv_value_at_the_limit_is_stored_and_one_more_byte_is_not(shared_agent: AgentProcess) -> None:
    exact = b"y" * KV_LIMIT
    assert shared_agent.request("PUT", "/v1/kv/limit/exact", exact)[:1] == (200,)
    status, _, raw = shared_agent.request("GET", "/v1/kv/limit/exact?raw")
    assert status == 200 and raw == exact
    status, _, _ = shared_agent.request("PUT", "/v1/kv/limit/over", exact + b"y")
    assert status == 413
    assert shared_agent.request("GET", "/v1/kv/limit/over")[0] == 404


# --- nothing half-applied -------------------------------------------------------------------


def test_register_with_invalid_check_leaves_no_node(shared_agent: AgentProcess) -> None:
    body = J({"Node": "half-node", "Address": "10.9.9.9",
              "Service": {"Service": "half-svc", "Port": 80},
              "Check": {"CheckID": "c", "Name": "c", "Status": "bogus"}})
    status, _, reply = shared_agent.request("PUT", "/v1/catalog/register", body)
    assert_clean_client_error(status, reply)
    assert shared_agent.get_json("/v1/catalog/node/half-node") is None
    assert shared_agent.get_json("/v1/catalog/service/half-svc") == []


def test_agent_service_with_invalid_check_is_not_registered(shared_agent: AgentProcess) -> None:
    body = J({"Name": "half-agent-svc", "Port": 80, "Check": {"HTTP": "http://127.0.0.1:1/", "Interval": "zz"}})
    status, _, reply = shared_agent.request("PUT", "/v1/agent/service/register", body)
    assert_clean_client_error(status, reply)
    assert "half-agent-svc" not in shared_agent.get_json("/v1/agent/services")
    assert shared_agent.request("GET", "/v1/agent/service/half-agent-svc")[0] == 404


def test_failed_txn_applies_nothing(shared_agent: AgentProcess) -> None:
    ops = [{"KV": {"Verb": "set", "Key": "txn-half/a", "Value": base64.b64encode(b"1").decode()}},
           {"KV": {"Verb": "cas", "Key": "txn-half/b", "Index": 999999, "Value": "eA=="}}]
    status, _, reply = shared_agent.request("PUT", "/v1/txn", J(ops))
    assert status == 409
    errors = json.loads(reply)["Errors"]
    assert [e["OpIndex"] for e in errors] == [1]
    assert shared_agent.request("GET", "/v1/kv/txn-half/a")[0] == 404


def test_oversized_txn_value_applies_nothing(shared_agent: AgentProcess) -> None:
    ops = [{"KV": {"Verb": "set", "Key": "txn-big/a", "Value": "eA=="}},
           {"KV": {"Verb": "set", "Key": "txn-big/b", "Value": base64.b64encode(b"z" * (KV_LIMIT + 1)).decode()}}]
    status, _, reply = shared_agent.request("PUT", "/v1/txn", J(ops))
    assert_clean_client_error(status, reply)
    assert status == 413
    assert shared_agent.request("GET", "/v1/kv/txn-big/a")[0] == 404


# --- not HTTP at all --------------------------------------------------------------------------


@pytest.mark.parametrize("garbage", [
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,  # a TLS ClientHello on the plain port
    b"HELLO\r\n\r\n",
    b"GET /v1/status/leader HTTP/9.9\r\n\r\n",
    b"GET /v1/status/leader HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
])
def test_garbage_on_the_socket_is_refused_and_agent_lives_on(shared_agent: AgentProcess, garbage: bytes) -> None:
    with socket.create_connection((shared_agent.host, shared_agent.http_port), timeout=5) as s:
        s.sendall(garbage)
        s.shutdown(socket.SHUT_WR)
        reply = b""
        try:
            while chunk := s.recv(65536):
                reply += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    if reply:
        status_line = reply.split(b"\r\n", 1)[0]
        assert status_line.split(b" ")[1].startswith(b"4"), status_line
        assert b"Traceback" not in reply
    assert shared_agent.request("GET", "/v1/status/leader")[0] == 200


# --- random input never yields a 500 -------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["Node", "Address", "Service", "Check", "Checks", "ID", "Name", "Port", "Tags", "Meta",
                         "TTL", "Status", "ServiceID", "Behavior", "LockDelay", "KV", "Verb", "Key", "Value",
                         "Weights", "Interval", "HTTP", "CheckID", "NodeMeta", "TaggedAddresses", "Definition"]),
        inner, max_size=5),
    max_leaves=12,
)
WRITE_PATHS = ["/v1/catalog/register", "/v1/catalog/deregister", "/v1/agent/service/register",
               "/v1/agent/check/register", "/v1/session/create", "/v1/txn", "/v1/agent/check/update/x"]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(WRITE_PATHS), json_values)
def test_random_json_bodies_never_500(shared_agent: AgentProcess, path: str, value: Any) -> None:
    status, _, body = shared_agent.request("PUT", path, J(value))
    assert status < 500, (path, value, body[:300])
    assert b"Traceback" not in body


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# (`dc` is left out: an unknown datacenter is Consul's 500 "No path to datacenter", not bad input)
@given(st.sampled_from(["index", "wait", "filter", "stale", "near", "tag", "node-meta", "passing", "cas",
                        "flags", "separator", "recurse", "keys", "hash", "max_stale", "enable"]),
       st.text(st.characters(blacklist_categories=("Cs",)), max_size=12),
       st.sampled_from(["/v1/catalog/nodes", "/v1/health/service/web", "/v1/kv/rand", "/v1/agent/services",
                        "/v1/catalog/service/web", "/v1/health/state/any"]))
def test_random_query_parameters_never_500(shared_agent: AgentProcess, name: str, value: str, path: str) -> None:
    from urllib.parse import quote

    # a blocking parameter (index, hash) may legitimately wait: keep any wait at a millisecond
    path += "?" if name == "wait" else "?wait=1ms&"
    status, _, body = shared_agent.request("GET", f"{path}{name}={quote(value)}", timeout=20)
    assert status < 500, (path, name, value, body[:300])
    assert b"Traceback" not in body
