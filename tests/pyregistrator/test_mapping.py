"""mapping.container_services against registrator's documented behaviour (docs/user/services.md,
docs/user/backends.md, docs/user/run.md)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyregistrator.checks import CheckDefinition
from pyregistrator.mapping import (
    MappingConfig,
    container_services,
    image_basename,
    network_container,
    owned_by_host,
    service_metadata,
    split_tags,
)
from tests.pyregistrator.inspections import inspection

CFG = MappingConfig(hostname="hostname", hostname_ip="192.168.1.102")


def one(container: dict, cfg: MappingConfig = CFG):
    services = container_services(container, cfg)
    assert len(services) == 1, services
    return services[0]


# -- the examples of docs/user/services.md ---------------------------------------------------


def test_single_service_with_defaults() -> None:
    s = one(inspection("redis.0", "progrium/redis", {"6379/tcp": "10000"}))
    assert (s.id, s.name, s.port, s.address, s.tags, s.meta) == (
        "hostname:redis.0:6379", "redis", 10000, "192.168.1.102", (), ()
    )
    assert s.check is None


def test_single_service_with_metadata() -> None:
    s = one(
        inspection(
            "redis.0", "progrium/redis", {"6379/tcp": "10000"},
            env=["SERVICE_NAME=db", "SERVICE_TAGS=master,backups", "SERVICE_REGION=us2"],
        )
    )
    assert (s.id, s.name, s.tags, dict(s.meta)) == (
        "hostname:redis.0:6379", "db", ("master", "backups"), {"region": "us2"}
    )
    assert s.to_consul() == {
        "ID": "hostname:redis.0:6379", "Name": "db", "Tags": ["master", "backups"],
        "Address": "192.168.1.102", "Port": 10000, "Meta": {"region": "us2"},
    }


def test_multiple_services_with_defaults_get_port_suffix() -> None:
    services = container_services(
        inspection("nginx.0", "progrium/nginx", {"443/tcp": "4443", "80/tcp": "8000"}), CFG
    )
    assert [(s.id, s.name, s.port) for s in services] == [
        ("hostname:nginx.0:80", "nginx-80", 8000),
        ("hostname:nginx.0:443", "nginx-443", 4443),
    ]


def test_multiple_services_with_metadata() -> None:
    services = container_services(
        inspection(
            "nginx.0", "progrium/nginx", {"443/tcp": "4443", "80/tcp": "8000"},
            env=[
                "SERVICE_443_NAME=https", "SERVICE_443_ID=https.12345", "SERVICE_443_SNI=enabled",
                "SERVICE_80_NAME=http", "SERVICE_TAGS=www",
            ],
        ),
        CFG,
    )
    by_port = {s.exposed_port: s for s in services}
    assert (by_port["443"].id, by_port["443"].name, dict(by_port["443"].meta)) == (
        "https.12345", "https", {"sni": "enabled"}
    )
    assert (by_port["80"].id, by_port["80"].name, by_port["80"].tags, by_port["80"].meta) == (
        "hostname:nginx.0:80", "http", ("www",), ()
    )


def test_labels_define_metadata_too() -> None:
    s = one(
        inspection(
            "redis.0", "dockerfile/redis", {"6379/tcp": "10000"},
            labels={"SERVICE_NAME": "db", "SERVICE_TAGS": "master,backups", "SERVICE_REGION": "us2"},
        )
    )
    assert (s.name, s.tags, dict(s.meta)) == ("db", ("master", "backups"), {"region": "us2"})


def test_service_name_with_several_ports_is_suffixed() -> None:
    """'setting SERVICE_NAME will still result in multiple services named SERVICE_NAME-<port>'"""
    services = container_services(
        inspection("w", "nginx", {"80/tcp": "8000", "443/tcp": "8443"}, env=["SERVICE_NAME=web"]), CFG
    )
    assert [s.name for s in services] == ["web-80", "web-443"]


# -- ports, addresses, flags -----------------------------------------------------------------


def test_unpublished_ports_are_skipped_and_do_not_make_a_group() -> None:
    s = one(inspection("w", "nginx", {"80/tcp": "8000", "443/tcp": None}))
    assert (s.name, s.port) == ("nginx", 8000)


def test_no_published_port_no_service() -> None:
    assert container_services(inspection("w", "nginx", exposed=["80/tcp"]), CFG) == []


def test_udp_port_gets_suffix_and_tag() -> None:
    s = one(inspection("dns", "coredns/coredns:1.11", {"53/udp": "5353"}, env=["SERVICE_TAGS=a"]))
    assert (s.id, s.name, s.tags) == ("hostname:dns:53:udp", "coredns", ("a", "udp"))


def test_same_port_tcp_and_udp_are_two_services() -> None:
    services = container_services(inspection("dns", "dns", {"53/tcp": "53", "53/udp": "53"}), CFG)
    assert {s.id for s in services} == {"hostname:dns:53", "hostname:dns:53:udp"}


def test_ip_flag_replaces_host_address() -> None:
    s = one(inspection("w", "nginx", {"80/tcp": "8000"}), MappingConfig("h", host_ip="10.0.0.9"))
    assert s.address == "10.0.0.9"


def test_unresolvable_hostname_keeps_zero_address() -> None:
    s = one(inspection("w", "nginx", {"80/tcp": "8000"}), MappingConfig("h"))
    assert s.address == "0.0.0.0"


def test_internal_uses_container_ip_and_exposed_port() -> None:
    cfg = MappingConfig("h", host_ip="10.0.0.9", internal=True)
    s = one(inspection("w", "nginx", exposed=["9000/tcp"], ip="172.17.0.7"), cfg)
    assert (s.address, s.port, s.id) == ("172.17.0.7", 9000, "h:w:9000")


def test_host_network_exposed_ports_count_as_published() -> None:
    s = one(inspection("w", "nginx", exposed=["8080/tcp"], network_mode="host"), MappingConfig("h", host_ip="10.1.1.1"))
    assert (s.address, s.port) == ("10.1.1.1", 8080)


def test_user_defined_network_uses_container_address_unless_ip_given() -> None:
    c = inspection("w", "nginx", {"80/tcp": "8000"}, network_mode="backend", ip="10.5.0.3")
    assert one(c, MappingConfig("h")).address == "10.5.0.3"
    assert one(c, MappingConfig("h", host_ip="192.0.2.1")).address == "192.0.2.1"


def test_ip_from_label_drops_cidr_suffix() -> None:
    cfg = MappingConfig("h", host_ip="10.0.0.9", use_ip_from_label="com.example.ip")
    c = inspection("w", "nginx", {"80/tcp": "8000"}, labels={"com.example.ip": "10.9.8.7/24"})
    assert one(c, cfg).address == "10.9.8.7"
    assert one(inspection("w", "nginx", {"80/tcp": "8000"}), cfg).address == "10.0.0.9"


def test_network_container_ip_wins() -> None:
    c = inspection("w", "nginx", {"80/tcp": "8000"}, network_mode="container:abc123")
    assert network_container(c) == "abc123"
    assert container_services(c, CFG, network_container_ip="172.17.0.9")[0].address == "172.17.0.9"


def test_explicit_needs_a_name() -> None:
    cfg = MappingConfig("h", host_ip="1.2.3.4", explicit=True)
    assert container_services(inspection("w", "nginx", {"80/tcp": "8000"}), cfg) == []
    assert one(inspection("w", "nginx", {"80/tcp": "8000"}, labels={"SERVICE_NAME": "x"}), cfg).name == "x"


def test_forced_tags_follow_container_tags() -> None:
    cfg = MappingConfig("h", host_ip="1.2.3.4", force_tags="prod,dc1")
    s = one(inspection("w", "nginx", {"80/udp": "8000"}, env=["SERVICE_TAGS=web"]), cfg)
    assert s.tags == ("web", "prod", "dc1", "udp")


@pytest.mark.parametrize("value", ["1", "true", "false", "yes"])
def test_any_ignore_value_skips(value: str) -> None:
    assert container_services(inspection("w", "nginx", {"80/tcp": "1"}, env=[f"SERVICE_IGNORE={value}"]), CFG) == []


def test_empty_ignore_does_not_skip() -> None:
    assert len(container_services(inspection("w", "nginx", {"80/tcp": "1"}, env=["SERVICE_IGNORE="]), CFG)) == 1


def test_port_ignore_skips_only_that_port() -> None:
    services = container_services(
        inspection("w", "nginx", {"80/tcp": "8000", "443/tcp": "8443"}, labels={"SERVICE_443_IGNORE": "true"}), CFG
    )
    assert [(s.id, s.name) for s in services] == [("hostname:w:80", "nginx-80")]


# -- metadata precedence ---------------------------------------------------------------------


def test_label_overrides_env_and_port_form_overrides_both() -> None:
    meta, from_port = service_metadata(
        ["SERVICE_NAME=env", "SERVICE_80_TAGS=env80", "SERVICE_TAGS=envtags"],
        {"SERVICE_NAME": "label", "SERVICE_TAGS": "labeltags"},
        "80",
    )
    assert meta == {"name": "label", "tags": "env80"}
    assert from_port == {"tags"}


def test_other_ports_settings_are_ignored() -> None:
    meta, _ = service_metadata(["SERVICE_443_NAME=tls", "SERVICE_8_NAME=x", "NOT_SERVICE=1"], {}, "80")
    assert meta == {}


# -- checks (docs/user/backends.md) ----------------------------------------------------------


def check_of(env: list[str], script_checks: bool = True) -> CheckDefinition | None:
    cfg = MappingConfig("h", host_ip="10.0.0.1", script_checks=script_checks)
    return one(inspection("w", "nginx", {"80/tcp": "8000"}, env=env), cfg).check


def test_http_check() -> None:
    check = check_of(["SERVICE_80_CHECK_HTTP=/health", "SERVICE_80_CHECK_INTERVAL=15s", "SERVICE_80_CHECK_TIMEOUT=1s"])
    assert check is not None
    assert check.to_consul() == {"HTTP": "http://10.0.0.1:8000/health", "Interval": "15s", "Timeout": "1s"}


def test_https_tcp_ttl_script_checks() -> None:
    assert check_of(["SERVICE_CHECK_HTTPS=/h"]).to_consul() == {"HTTP": "https://10.0.0.1:8000/h", "Interval": "10s"}
    assert check_of(["SERVICE_CHECK_TCP=true", "SERVICE_CHECK_TIMEOUT=3s"]).to_consul() == {
        "TCP": "10.0.0.1:8000", "Interval": "10s", "Timeout": "3s"
    }
    assert check_of(["SERVICE_CHECK_TTL=30s"]).to_consul() == {"TTL": "30s"}
    script = check_of(["SERVICE_CHECK_SCRIPT=nc $SERVICE_IP $SERVICE_PORT | grep OK"]).to_consul()
    assert script == {"Args": ["sh", "-c", "nc 10.0.0.1 8000 | grep OK"], "Interval": "10s"}


def test_script_and_cmd_checks_need_the_opt_in() -> None:
    # An image must not choose what the host runs: without -script-checks the check is skipped
    # (not swapped for a later kind such as the TTL also given), and the registration says so.
    for env in (["SERVICE_CHECK_SCRIPT=id > /tmp/p"], ["SERVICE_CHECK_CMD=/bin/true", "SERVICE_CHECK_TTL=5s"]):
        cfg = MappingConfig("h", host_ip="10.0.0.1")
        s = one(inspection("w", "nginx", {"80/tcp": "8000"}, env=env), cfg)
        assert s.check is None and s.script_check_skipped
        assert "Check" not in s.to_consul()
    allowed = check_of(["SERVICE_CHECK_CMD=/bin/true"])
    assert allowed is not None and allowed.args[:2] == ("sh", "-c")
    # An HTTP check set alongside wins as before and is kept.
    s = one(inspection("w", "nginx", {"80/tcp": "8000"}, env=["SERVICE_CHECK_HTTP=/", "SERVICE_CHECK_SCRIPT=x"]),
            MappingConfig("h", host_ip="10.0.0.1"))
    assert s.check is not None and s.check.http and not s.script_check_skipped


def test_check_status_and_deregister_after() -> None:
    check = check_of(["SERVICE_CHECK_TTL=30s", "SERVICE_CHECK_INITIAL_STATUS=passing", "SERVICE_CHECK_DEREGISTER_AFTER=90m"])
    assert check.to_consul() == {"TTL": "30s", "Status": "passing", "DeregisterCriticalServiceAfter": "90m"}


def test_check_settings_stay_out_of_meta_and_bad_meta_keys_are_dropped() -> None:
    s = one(
        inspection(
            "w", "nginx", {"80/tcp": "8000"},
            env=["SERVICE_CHECK_HTTP=/", "SERVICE_VERSION=2"],
            labels={"SERVICE_com.example.x": "dots are not allowed in Consul meta keys"},
        )
    )
    assert dict(s.meta) == {"version": "2"}


# -- names and IDs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "name"),
    [
        ("nginx", "nginx"),
        ("nginx:1.25", "nginx"),
        ("gliderlabs/foobar", "foobar"),
        ("registry.example.com:5000/team/app:2.0", "app"),
        ("nginx@sha256:" + "a" * 64, "nginx"),
        ("localhost/busybox:latest", "busybox"),
    ],
)
def test_image_basename(image: str, name: str) -> None:
    assert image_basename(image) == name


def test_owned_by_host_follows_registrator_id_pattern() -> None:
    assert owned_by_host("vm:test-01:80", "vm")
    assert owned_by_host("vm:test-01:53:udp", "vm")
    assert not owned_by_host("other:test-01:80", "vm")
    assert not owned_by_host("https.12345", "vm")
    assert not owned_by_host("vm:test-01:http", "vm")


def test_escaped_comma_in_tags() -> None:
    assert split_tags("a\\,b,c,,") == ["a,b", "c"]


# -- properties ------------------------------------------------------------------------------

# Docker container names: at least two characters.
names = st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{1,12}", fullmatch=True)
port_numbers = st.integers(1, 65535).map(str)
port_keys = st.tuples(port_numbers, st.sampled_from(["tcp", "udp"])).map(lambda t: f"{t[0]}/{t[1]}")
publications = st.dictionaries(port_keys, st.one_of(st.none(), port_numbers), max_size=6)


@given(names, publications, st.booleans())
def test_one_service_per_published_port_with_unique_owned_ids(name: str, published: dict, internal: bool) -> None:
    cfg = MappingConfig("vm", host_ip="10.0.0.1", internal=internal)
    services = container_services(inspection(name, "nginx", published), cfg)
    expected = [k for k, v in published.items() if internal or v]
    assert len(services) == len(expected)
    assert len({s.id for s in services}) == len(services)
    for s in services:
        assert owned_by_host(s.id, "vm")
        assert s.id.endswith(":udp") == ("udp" in s.tags)
        if len(services) > 1:
            assert s.name == f"nginx-{s.exposed_port}"
        else:
            assert s.name == "nginx"


@given(publications, st.text(min_size=1, max_size=5))
def test_ignore_skips_everything(published: dict, value: str) -> None:
    env = [f"SERVICE_IGNORE={value}"]
    assert container_services(inspection("w", "nginx", published, env=env), MappingConfig("vm", host_ip="1.1.1.1")) == []


@given(st.lists(st.sampled_from(["env", "label"]), min_size=1, max_size=4), port_numbers)
def test_port_specific_name_wins_whatever_the_source(sources: list[str], port: str) -> None:
    env, labels = [], {}
    for i, src in enumerate(sources):
        key, value = ("SERVICE_NAME", f"generic{i}") if i % 2 else (f"SERVICE_{port}_NAME", "specific")
        if src == "env":
            env.append(f"{key}={value}")
        else:
            labels[key] = value
    meta, _ = service_metadata(env, labels, port)
    assert meta["name"] == "specific"


meta_keys = st.text(alphabet=st.characters(codec="ascii", categories=["L", "N", "P"]), min_size=1, max_size=20)


@given(st.dictionaries(meta_keys, st.text(max_size=30), max_size=80))
def test_meta_is_always_acceptable_to_consul(labels: dict) -> None:
    labels = {f"SERVICE_{k}": v for k, v in labels.items()}
    s = one(inspection("w", "nginx", {"80/tcp": "8000"}, labels=labels))
    assert len(s.meta) <= 64
    for key, _ in s.meta:
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,128}", key)


@given(st.lists(st.text(alphabet="ab ,x", min_size=1, max_size=6), max_size=5))
def test_escaped_tags_round_trip(tags: list[str]) -> None:
    encoded = ",".join(t.replace(",", "\\,") for t in tags)
    assert split_tags(encoded) == tags


# -- -same-compose-project ----------------------------------------------------------------------


def test_only_the_containers_carrying_the_project_label_are_registered() -> None:
    cfg = MappingConfig(hostname="hostname", hostname_ip="192.168.1.102",
                        only_label=("com.docker.compose.project", "mine"))
    ours = inspection("web.1", "web", {"8080/tcp": "10001"}, labels={"com.docker.compose.project": "mine"})
    theirs = inspection("web.2", "web", {"8080/tcp": "10002"}, labels={"com.docker.compose.project": "other"})
    loose = inspection("web.3", "web", {"8080/tcp": "10003"})
    assert [s.port for s in container_services(ours, cfg)] == [10001]
    assert container_services(theirs, cfg) == [] and container_services(loose, cfg) == []
    assert len(container_services(theirs, CFG)) == 1  # without the flag, every container counts
