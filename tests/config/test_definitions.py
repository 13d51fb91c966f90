"""Service/check definitions: every spelling Consul accepts decodes to one API shape."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyconsul.config.definitions import decode_definition, service_check_definitions
from pyconsul.config.errors import ConfigError

CANONICAL = {
    "CheckID": "web-health", "Name": "web", "ServiceID": "web1", "HTTP": "http://127.0.0.1:8080/health",
    "Method": "HEAD", "Header": {"X-Probe": ["1"]}, "TLSSkipVerify": True, "TLSServerName": "web.local",
    "Interval": "10s", "Timeout": "2s", "DeregisterCriticalServiceAfter": "90m", "SuccessBeforePassing": 2,
    "FailuresBeforeWarning": 1, "FailuresBeforeCritical": 3, "Notes": "probe", "Status": "passing",
}

SPELLINGS = {
    "CheckID": ["CheckID", "check_id", "id", "ID", "checkid"],
    "Name": ["Name", "name"],
    "ServiceID": ["ServiceID", "service_id", "serviceid"],
    "HTTP": ["HTTP", "http", "Http"],
    "Method": ["Method", "method"],
    "Header": ["Header", "header"],
    "TLSSkipVerify": ["TLSSkipVerify", "tls_skip_verify"],
    "TLSServerName": ["TLSServerName", "tls_server_name"],
    "Interval": ["Interval", "interval"],
    "Timeout": ["Timeout", "timeout"],
    "DeregisterCriticalServiceAfter": ["DeregisterCriticalServiceAfter", "deregister_critical_service_after"],
    "SuccessBeforePassing": ["SuccessBeforePassing", "success_before_passing"],
    "FailuresBeforeWarning": ["FailuresBeforeWarning", "failures_before_warning"],
    "FailuresBeforeCritical": ["FailuresBeforeCritical", "failures_before_critical"],
    "Notes": ["Notes", "notes"],
    "Status": ["Status", "status"],
}


@settings(deadline=None)
@given(st.fixed_dictionaries({k: st.sampled_from(v) for k, v in SPELLINGS.items()}))
def test_any_mix_of_spellings_gives_the_api_shape(spelling: dict[str, str]) -> None:
    raw = {spelling[k]: v for k, v in CANONICAL.items()}
    assert decode_definition(raw, "check", "request") == CANONICAL


def test_script_args_aliases() -> None:
    for key in ("args", "Args", "ScriptArgs", "script_args"):
        got = decode_definition({"Name": "s", key: ["/bin/check", "-q"], "Interval": "5s"}, "check", "x")
        assert got["Args"] == ["/bin/check", "-q"]
    got = decode_definition({"name": "d", "docker_container_id": "c1", "shell": "/bin/bash", "args": ["true"],
                             "interval": "5s"}, "check", "x")
    assert (got["DockerContainerID"], got["Shell"]) == ("c1", "/bin/bash")


def test_service_with_inline_checks_and_their_ids() -> None:
    svc = decode_definition({
        "name": "web", "id": "web1", "port": 80, "enable_tag_override": True,
        "check": {"tcp": "127.0.0.1:80", "interval": "10s"},
        "checks": [{"ttl": "30s"}, {"id": "explicit", "http": "http://127.0.0.1/", "interval": "5s"}],
    }, "service", "request")
    assert svc["EnableTagOverride"] is True and len(svc["Checks"]) == 3
    ids = [(c["CheckID"], c["Name"], c["ServiceID"]) for c in service_check_definitions(svc)]
    assert ids == [
        ("service:web1:1", "Service 'web' check", "web1"),
        ("service:web1:2", "Service 'web' check", "web1"),
        ("explicit", "Service 'web' check", "web1"),
    ]
    single = decode_definition({"name": "db", "check": {"ttl": "5s"}}, "service", "r")
    assert [c["CheckID"] for c in service_check_definitions(single)] == ["service:db"]


@pytest.mark.parametrize(
    ("raw", "kind", "message"),
    [
        ({"name": "x", "tcp": "127.0.0.1:1"}, "check", "Interval must be > 0"),
        ({"name": "x", "ttl": "5s", "interval": "5s"}, "check", "Interval and TTL cannot both be specified"),
        ({"name": "x", "script": "true", "interval": "5s"}, "check", "'script' is no longer supported"),
        ({"name": "x", "ttl": 5}, "check", "'ttl' expected type 'string'"),
        ({"name": "x", "ttl": "5s", "bogus": 1}, "check", "invalid config key bogus"),
        ({"port": 80}, "service", "service name cannot be empty"),
        ({"name": "x", "port": "80"}, "service", "'port' expected type 'int'"),
        ({"name": "x", "checks": [{"http": "http://x/"}]}, "service", "Interval must be > 0"),
    ],
)
def test_bad_definitions(raw: dict[str, object], kind: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        decode_definition(raw, kind, "request")
    assert message in str(err.value)
