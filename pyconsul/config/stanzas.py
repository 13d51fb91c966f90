"""Typed config stanzas: one frozen dataclass per block of the agent config.

Field names are the block's config keys (Consul's snake_case, as in `pyconsul.config.keys`), so
the builder fills them generically; durations are float seconds. A block kept as written (its
inner layout is owned by a subsystem not built yet) is a `Mapping[str, Any]` field. Defaults are
Consul's where a reader depends on them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def _empty() -> Mapping[str, Any]:
    return {}


@dataclass(frozen=True)
class Ports:
    dns: int = 8600
    http: int = 8500
    https: int = -1
    grpc: int = -1
    grpc_tls: int = -1
    serf_lan: int = 8301
    serf_wan: int = 8302
    server: int = 8300
    sidecar_min_port: int = 21000
    sidecar_max_port: int = 21255
    expose_min_port: int = 21500
    expose_max_port: int = 21755


@dataclass(frozen=True)
class Addresses:
    """Per-interface listen addresses; "" means client_addr."""

    dns: str = ""
    http: str = ""
    https: str = ""
    grpc: str = ""
    grpc_tls: str = ""


@dataclass(frozen=True)
class AdvertiseAddrs:
    """What other agents dial, per interface ("ip" or "ip:port"); "" means advertise_addr."""

    rpc: str = ""
    serf_lan: str = ""
    serf_wan: str = ""


@dataclass(frozen=True)
class DNSConfig:
    allow_stale: bool = True
    max_stale: float = 10 * 365 * 24 * 3600.0
    node_ttl: float = 0.0
    service_ttl: Mapping[str, float] = field(default_factory=dict)
    only_passing: bool = False
    enable_truncate: bool = False
    udp_answer_limit: int = 3
    a_record_limit: int = 0
    recursor_timeout: float = 2.0
    recursor_strategy: str = "sequential"
    disable_compression: bool = False
    enable_additional_node_meta_txt: bool = True
    use_cache: bool = False
    cache_max_age: float = 0.0
    prefer_namespace: bool = False
    # The `soa { }` block, flattened: the resolver reads these four.
    soa_min_ttl: int = 0
    soa_refresh: int = 3600
    soa_retry: int = 600
    soa_expire: int = 86400


@dataclass(frozen=True)
class Performance:
    leave_drain_time: float = 5.0
    raft_multiplier: int = 5
    rpc_hold_timeout: float = 7.0


@dataclass(frozen=True)
class Autopilot:
    cleanup_dead_servers: bool = True
    last_contact_threshold: float = 0.2
    max_trailing_logs: int = 250
    min_quorum: int = 0
    server_stabilization_time: float = 10.0
    redundancy_zone_tag: str = ""
    disable_upgrade_migration: bool = False
    upgrade_version_tag: str = ""


@dataclass(frozen=True)
class Gossip:
    """`gossip_lan` / `gossip_wan`: None means memberlist's default for that pool."""

    gossip_nodes: int | None = None
    gossip_interval: float | None = None
    probe_interval: float | None = None
    probe_timeout: float | None = None
    retransmit_mult: int | None = None
    suspicion_mult: int | None = None

    def overrides(self) -> dict[str, Any]:
        """The settings the operator gave, by Consul's key (what GossipConfig.from_consul takes)."""
        return {k: v for k, v in vars(self).items() if v is not None}


@dataclass(frozen=True)
class Limits:
    http_max_conns_per_client: int = 200
    https_handshake_timeout: float = 5.0
    rpc_handshake_timeout: float = 5.0
    rpc_client_timeout: float = 60.0
    rpc_max_burst: int = 1000
    rpc_max_conns_per_client: int = 100
    rpc_rate: float = float("inf")
    kv_max_value_size: int = 512 * 1024
    txn_max_req_len: int = 512 * 1024
    request_limits: Mapping[str, Any] = field(default_factory=_empty)


@dataclass(frozen=True)
class HTTPConfig:
    block_endpoints: list[str] = field(default_factory=list)
    allow_write_http_from: list[str] = field(default_factory=list)
    response_headers: Mapping[str, str] = field(default_factory=dict)
    use_cache: bool = True
    max_header_bytes: int = 0
    # pyconsul's own: Go's server timeouts Consul leaves at its built-in values (see
    # api/conn_limits.py), settable so operators and tests can shorten them.
    read_header_timeout: float = 10.0
    idle_timeout: float = 120.0


@dataclass(frozen=True)
class UIConfig:
    enabled: bool = False
    dir: str = ""
    content_path: str = "/ui/"
    metrics_provider: str = ""
    metrics_provider_files: list[str] = field(default_factory=list)
    metrics_provider_options_json: str = ""
    metrics_proxy: Mapping[str, Any] = field(default_factory=_empty)
    dashboard_url_templates: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class UnixSockets:
    user: str = ""
    group: str = ""
    mode: str = ""


@dataclass(frozen=True)
class RPC:
    enable_streaming: bool = True


@dataclass(frozen=True)
class TLSInterface:
    """One block of `tls { defaults | internal_rpc | https | grpc }`; None means "not set here"."""

    ca_file: str | None = None
    ca_path: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    tls_min_version: str | None = None
    tls_cipher_suites: str | None = None
    verify_incoming: bool | None = None
    verify_outgoing: bool | None = None
    verify_server_hostname: bool | None = None
    use_auto_cert: bool | None = None


@dataclass(frozen=True)
class TLS:
    """The `tls` block (Consul 1.12+), kept as data: the legacy top-level keys are what the
    listeners read today."""

    defaults: TLSInterface = field(default_factory=TLSInterface)
    internal_rpc: TLSInterface = field(default_factory=TLSInterface)
    https: TLSInterface = field(default_factory=TLSInterface)
    grpc: TLSInterface = field(default_factory=TLSInterface)
    grpc_modern_tls: bool | None = None


@dataclass(frozen=True)
class ACLTokens:
    master: str = ""
    initial_management: str = ""
    agent_master: str = ""
    agent_recovery: str = ""
    default: str = ""
    agent: str = ""
    replication: str = ""
    config_file_service_registration: str = ""
    dns: str = ""


@dataclass(frozen=True)
class ACL:
    enabled: bool = False
    default_policy: str = "allow"
    down_policy: str = "extend-cache"
    policy_ttl: float = 30.0
    role_ttl: float = 30.0
    token_ttl: float = 30.0
    enable_key_list_policy: bool = False
    enable_token_persistence: bool = False
    enable_token_replication: bool = False
    msp_disable_bootstrap: bool = False
    tokens: ACLTokens = field(default_factory=ACLTokens)


@dataclass(frozen=True)
class AutoEncrypt:
    tls: bool = False
    allow_tls: bool = False
    dns_san: list[str] = field(default_factory=list)
    ip_san: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Connect:
    enabled: bool = True  # Consul's default (its default config sets it); false turns the CA off
    ca_provider: str = ""
    ca_config: Mapping[str, Any] = field(default_factory=_empty)
    enable_mesh_gateway_wan_federation: bool = False
    enable_serverless_plugin: bool = False


@dataclass(frozen=True)
class Telemetry:
    circonus_api_app: str = ""
    circonus_api_token: str = ""
    circonus_api_url: str = ""
    circonus_broker_id: str = ""
    circonus_broker_select_tag: str = ""
    circonus_check_display_name: str = ""
    circonus_check_force_metric_activation: str = ""
    circonus_check_id: str = ""
    circonus_check_instance_id: str = ""
    circonus_check_search_tag: str = ""
    circonus_check_tags: str = ""
    circonus_submission_interval: str = ""
    circonus_submission_url: str = ""
    disable_hostname: bool = False
    disable_per_tenancy_usage_metrics: bool = False
    dogstatsd_addr: str = ""
    dogstatsd_tags: list[str] = field(default_factory=list)
    enable_host_metrics: bool = False
    filter_default: bool = True
    prefix_filter: list[str] = field(default_factory=list)
    metrics_prefix: str = "consul"
    prometheus_retention_time: float = 0.0
    retry_failed_connection: bool = True
    statsd_address: str = ""
    statsite_address: str = ""
