"""A real agent's metrics: scraped as Prometheus text, read as Consul's JSON, sent to statsd."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import dns.message
import dns.query
from prometheus_client.parser import text_string_to_metric_families

from tests.support.agents import start_agent

# Series the Consul server-monitoring Grafana dashboard (hashicorp/consul grafana/
# consul-server-monitoring.json, grafana.com 13396) and Consul's alerting guide query. That
# dashboard's one other series, consul_acl_apply, is the legacy ACL API's timer, gone from Consul
# since 1.11 as from us; its ACL writes are consul_acl_{token,policy,role}_{upsert,delete}.
DASHBOARD = {
    "consul_catalog_deregister", "consul_acl_ResolveToken", "consul_memberlist_gossip",
    "consul_memberlist_probeNode", "consul_acl_token_upsert", "consul_acl_policy_upsert",
    "consul_raft_state_leader", "consul_raft_state_candidate", "consul_raft_apply", "consul_raft_commitTime",
    "consul_raft_leader_lastContact", "consul_autopilot_healthy", "consul_autopilot_failure_tolerance",
    "consul_rpc_request", "consul_rpc_query", "consul_rpc_request_error", "consul_catalog_register",
    "consul_kvs_apply", "consul_txn_apply", "consul_serf_member_flap", "consul_runtime_alloc_bytes",
    "consul_runtime_num_goroutines", "consul_api_http", "consul_dns_domain_query", "consul_dns_ptr_query",
    "consul_dns_stale_queries",
}


def _poll(fn, timeout: float = 15.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        got = fn()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def test_prometheus_scrape_json_and_statsd(tmp_path: Path) -> None:
    statsd = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    statsd.bind(("127.0.0.1", 0))
    statsd.settimeout(0.2)
    hcl = ('telemetry { prometheus_retention_time = "60s" disable_hostname = true '
           f'statsd_address = "127.0.0.1:{statsd.getsockname()[1]}" }}')
    agent = start_agent(tmp_path, "-hcl", hcl)
    try:
        assert agent.request("PUT", "/v1/kv/a", b"1")[0] == 200
        assert agent.request("PUT", "/v1/catalog/register", {"Node": "n1", "Address": "10.0.0.1"})[0] == 200
        txn = [{"KV": {"Verb": "set", "Key": "b", "Value": "Mg=="}}]
        assert agent.request("PUT", "/v1/txn", txn)[0] == 200
        for name in ("n1.node.consul.", "1.0.0.10.in-addr.arpa."):
            qtype = "PTR" if "arpa" in name else "A"
            dns.query.udp(dns.message.make_query(name, qtype), "127.0.0.1", port=agent.dns_port, timeout=2)

        def scrape() -> dict[str, object]:
            status, headers, body = agent.request("GET", "/v1/agent/metrics?format=prometheus")
            assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
            fams = {f.name: f for f in text_string_to_metric_families(body.decode())}
            return fams if DASHBOARD <= set(fams) and "consul_autopilot_healthy" in fams else {}

        fams = _poll(scrape)
        assert fams, sorted(DASHBOARD - set(scrape() or {}))
        kinds = {n: f.type for n, f in fams.items()}  # type: ignore[attr-defined]
        assert kinds["consul_raft_apply"] == "counter" and kinds["consul_kvs_apply"] == "summary"
        assert kinds["consul_autopilot_healthy"] == "gauge"
        kvs = {s.name: s.value for s in fams["consul_kvs_apply"].samples}  # type: ignore[attr-defined]
        assert kvs["consul_kvs_apply_count"] >= 1
        http_paths = {s.labels["path"] for s in fams["consul_api_http"].samples}  # type: ignore[attr-defined]
        assert {"v1_kv_", "v1_catalog_register", "v1_txn"} <= http_paths
        ptr = {s.name: s.value for s in fams["consul_dns_ptr_query"].samples if s.labels.get("node") == "agent"}  # type: ignore[attr-defined]
        assert ptr["consul_dns_ptr_query_count"] == 1

        doc = agent.get_json("/v1/agent/metrics")
        assert {"Timestamp", "Gauges", "Points", "Counters", "Samples"} <= set(doc)
        assert any(g["Name"] == "consul.runtime.num_goroutines" for g in doc["Gauges"])

        lines: list[str] = []

        def heard_apply() -> bool:
            agent.request("PUT", "/v1/kv/c", b"1")
            try:
                lines.extend(statsd.recv(65536).decode().splitlines())
            except TimeoutError:
                pass
            return any(line.startswith("consul.kvs.apply:") and line.endswith("|ms") for line in lines)

        assert _poll(heard_apply), lines[:20]
        assert any(line.startswith("consul.api.http.PUT.v1_kv_:") for line in lines)
    finally:
        agent.stop()
        statsd.close()


def test_prometheus_off_without_retention_as_consul(tmp_path: Path) -> None:
    agent = start_agent(tmp_path)
    try:
        status, _, body = agent.request("GET", "/v1/agent/metrics?format=prometheus")
        assert status == 415
        assert body == b"Prometheus is not enabled since its retention time is not positive"
        assert json.loads(agent.request("GET", "/v1/agent/metrics")[2])["Gauges"] is not None
    finally:
        agent.stop()


def test_service_reads_are_counted_by_service_tag_and_not_found_on_both_paths(tmp_path: Path) -> None:
    agent = start_agent(tmp_path, "-hcl", 'telemetry { prometheus_retention_time = "60s" disable_hostname = true }')
    try:
        reg = {"Node": "n1", "Address": "10.0.0.1", "Service": {"Service": "web", "Tags": ["v1"]}}
        assert agent.request("PUT", "/v1/catalog/register", reg)[0] == 200
        # The same read five times: the first builds the reply, the rest come from the fast path.
        for _ in range(5):
            assert agent.request("GET", "/v1/health/service/web")[0] == 200
        for _ in range(3):
            assert agent.request("GET", "/v1/catalog/service/web?tag=v1")[0] == 200
        for _ in range(2):
            assert agent.request("GET", "/v1/health/service/nothing")[0] == 200

        def counts() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
            body = agent.request("GET", "/v1/agent/metrics?format=prometheus")[2].decode()
            out = {}
            for fam in text_string_to_metric_families(body):
                for s in fam.samples:
                    if s.name.startswith(("consul_health_service", "consul_catalog_service")):
                        out[(s.name, tuple(sorted(s.labels.items())))] = s.value
            return out

        want = {
            ("consul_health_service_query_total", (("service", "web"),)): 5,
            ("consul_catalog_service_query_total", (("service", "web"),)): 3,
            ("consul_catalog_service_query_tag_total", (("service", "web"), ("tag", "v1"))): 3,
            ("consul_health_service_query_total", (("service", "nothing"),)): 2,
            ("consul_health_service_not_found_total", (("service", "nothing"),)): 2,
        }
        got = _poll(lambda: (c := counts()) and all(c.get(k) == v for k, v in want.items()) and c)
        assert got, counts()
        assert ("consul_health_service_not_found_total", (("service", "web"),)) not in got
    finally:
        agent.stop()
