"""The registry's rules, on a fake clock: intervals, JSON shape, Prometheus names and expiry."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from pyconsul.clock import FakeClock
from pyconsul.telemetry.display import display_metrics
from pyconsul.telemetry.names import http_path_label
from pyconsul.telemetry.prometheus import render_prometheus
from pyconsul.telemetry.registry import INTERVAL, Registry


def _families(reg: Registry, retention: float = 60.0) -> dict[str, object]:
    text = render_prometheus(reg, retention).decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_json_shows_the_last_complete_interval_with_consul_fields() -> None:
    clock = FakeClock(start=1_000_000.0)
    reg = Registry(clock)
    reg.incr_counter("rpc.request")
    reg.incr_counter("rpc.request", 2)
    reg.add_sample("kvs.apply", 4.0)
    reg.add_sample("kvs.apply", 2.0)
    reg.set_gauge("autopilot.healthy", 1.0)
    reg.fold()  # the agent's telemetry loop folds every 100 ms
    clock.advance(INTERVAL)
    reg.incr_counter("rpc.request")  # lands in the new, still open interval
    doc = display_metrics(reg)
    assert set(doc) == {"Timestamp", "Gauges", "Points", "Counters", "Samples"}
    assert doc["Timestamp"].endswith("+0000 UTC")
    (counter,) = doc["Counters"]
    assert counter["Name"] == "consul.rpc.request" and counter["Count"] == 2 and counter["Sum"] == 3
    assert set(counter) == {"Name", "Count", "Rate", "Sum", "Min", "Max", "Mean", "Stddev", "Labels"}
    (sample,) = doc["Samples"]
    assert (sample["Name"], sample["Min"], sample["Max"], sample["Mean"]) == ("consul.kvs.apply", 2.0, 4.0, 3.0)
    assert doc["Gauges"] == [{"Name": "consul.autopilot.healthy", "Value": 1.0, "Labels": {}}]


def test_hostname_goes_into_gauge_names_only_and_the_prefix_is_configurable() -> None:
    reg = Registry(FakeClock())
    reg.hostname, reg.prefix = "web1", "pyc"
    reg.set_gauge("runtime.alloc_bytes", 1.0)
    reg.incr_counter("raft.apply")
    fams = _families(reg)
    assert "pyc_web1_runtime_alloc_bytes" in fams and "pyc_raft_apply" in fams


def test_prometheus_types_names_labels_and_quantiles() -> None:
    clock = FakeClock()
    reg = Registry(clock)
    for v in (1.0, 2.0, 3.0, 4.0):
        reg.add_sample("raft.leader.lastContact", v)
    reg.add_sample("api.http", 5.0, (("method", "GET"), ("path", "v1_kv_")))
    reg.incr_counter("raft.state.leader")
    text = render_prometheus(reg, 60.0).decode()
    # Consul's Go client writes counters without a _total suffix; so do we.
    assert "# TYPE consul_raft_state_leader counter\nconsul_raft_state_leader 1.0" in text
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    contact = fams["consul_raft_leader_lastContact"]
    assert contact.type == "summary"
    by = {(s.name, s.labels.get("quantile")): s.value for s in contact.samples}
    assert by[("consul_raft_leader_lastContact_count", None)] == 4
    assert by[("consul_raft_leader_lastContact_sum", None)] == 10
    assert by[("consul_raft_leader_lastContact", "0.5")] in (2.0, 3.0)
    http = fams["consul_api_http"]
    assert {"method": "GET", "path": "v1_kv_", "quantile": "0.5"} in [s.labels for s in http.samples]
    reg.fold()
    clock.advance(11)  # quantiles cover the last 10 s only; sum and count stay
    fams = _families(reg)
    q = [s for s in fams["consul_raft_leader_lastContact"].samples if s.labels.get("quantile") == "0.5"]
    assert math.isnan(q[0].value)


def test_series_expire_after_retention_unless_declared() -> None:
    clock = FakeClock()
    reg = Registry(clock)
    reg.define(["dns.stale_queries"], [])
    reg.incr_counter("rpc.request")
    reg.fold()
    clock.advance(30)
    fams = _families(reg, retention=10.0)
    assert "consul_rpc_request" not in fams
    assert "consul_dns_stale_queries" in fams


@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=50))
def test_aggregate_matches_the_values(values: list[float]) -> None:
    reg = Registry(FakeClock())
    for v in values:
        reg.add_sample("x", v)
    (sample,) = display_metrics(reg)["Samples"]
    assert sample["Count"] == len(values)
    assert sample["Min"] == min(values) and sample["Max"] == max(values)
    assert math.isclose(sample["Sum"], sum(values), rel_tol=1e-9, abs_tol=1e-6)
    assert sample["Stddev"] >= 0


def test_http_path_label_is_the_route_pattern() -> None:
    assert http_path_label("/v1/kv/{key:.*}") == "v1_kv_"
    assert http_path_label("/v1/agent/metrics") == "v1_agent_metrics"
    assert http_path_label("/v1/health/service/{service}") == "v1_health_service_"


def test_a_member_rejoining_soon_after_failing_has_flapped() -> None:
    from pyconsul.telemetry.serf import SerfMetrics

    reg = Registry(FakeClock())
    serf = SerfMetrics(reg)
    serf.member_event("member-join", "a")
    serf.member_event("member-failed", "a")
    serf.member_event("member-join", "a")
    serf.member_event("member-join", "b")
    reg.fold()
    assert reg.counters[("serf.member.flap", ())] == 1
    assert reg.counters[("serf.member.join", ())] == 3
    assert reg.counters[("serf.member.failed", ())] == 1
