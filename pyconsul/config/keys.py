"""Every agent config key pyconsul accepts, with its type (Consul's names, snake_case).

Every key here lands in a typed field of `RuntimeConfig` (blocks in the dataclasses of
`pyconsul.config.stanzas`, same field names); whether each one is implemented is said in
`pyconsul.config.support`. Subtrees whose inner layout a subsystem not built yet owns
(config_entries, peering, audit...) are typed ANY and kept as written.
"""

from __future__ import annotations

from pyconsul.config.definitions import CHECK, SERVICE
from pyconsul.config.spec import ANY, BOOL, DUR, FLOAT, INT, STR, STR_LIST, STR_MAP, ListOf, MapOf, Struct

PORTS = Struct(
    fields={
        k: INT
        for k in (
            "dns", "http", "https", "grpc", "grpc_tls", "serf_lan", "serf_wan", "server",
            "sidecar_min_port", "sidecar_max_port", "expose_min_port", "expose_max_port",
        )
    }
)

ADDRESSES = Struct(fields={k: STR for k in ("dns", "http", "https", "grpc", "grpc_tls")})

DNS_CONFIG = Struct(
    fields={
        "allow_stale": BOOL,
        "max_stale": DUR,
        "node_ttl": DUR,
        "service_ttl": MapOf(DUR),
        "only_passing": BOOL,
        "enable_truncate": BOOL,
        "udp_answer_limit": INT,
        "a_record_limit": INT,
        "recursor_timeout": DUR,
        "recursor_strategy": STR,
        "disable_compression": BOOL,
        "enable_additional_node_meta_txt": BOOL,
        "use_cache": BOOL,
        "cache_max_age": DUR,
        "prefer_namespace": BOOL,
        "soa": Struct(fields={"expire": INT, "min_ttl": INT, "refresh": INT, "retry": INT}),
    }
)

ACL_TOKENS = Struct(
    fields={
        k: STR
        for k in (
            "master", "initial_management", "agent_master", "agent_recovery", "default", "agent",
            "replication", "config_file_service_registration", "dns",
        )
    }
)

ACL = Struct(
    fields={
        "enabled": BOOL,
        "default_policy": STR,
        "down_policy": STR,
        "policy_ttl": DUR,
        "role_ttl": DUR,
        "token_ttl": DUR,
        "enable_key_list_policy": BOOL,
        "enable_token_persistence": BOOL,
        "enable_token_replication": BOOL,
        "msp_disable_bootstrap": BOOL,
        "tokens": ACL_TOKENS,
    }
)

AUTO_ENCRYPT = Struct(fields={"tls": BOOL, "allow_tls": BOOL, "dns_san": STR_LIST, "ip_san": STR_LIST})

AUTOPILOT = Struct(
    fields={
        "cleanup_dead_servers": BOOL,
        "last_contact_threshold": DUR,
        "max_trailing_logs": INT,
        "min_quorum": INT,
        "server_stabilization_time": DUR,
        "redundancy_zone_tag": STR,
        "disable_upgrade_migration": BOOL,
        "upgrade_version_tag": STR,
    }
)

PERFORMANCE = Struct(
    fields={"leave_drain_time": DUR, "raft_multiplier": INT, "rpc_hold_timeout": DUR}
)

LIMITS = Struct(
    fields={
        "http_max_conns_per_client": INT,
        "https_handshake_timeout": DUR,
        "rpc_handshake_timeout": DUR,
        "rpc_client_timeout": DUR,
        "rpc_max_burst": INT,
        "rpc_max_conns_per_client": INT,
        "rpc_rate": FLOAT,
        "kv_max_value_size": INT,
        "txn_max_req_len": INT,
        "request_limits": ANY,
    }
)

HTTP_CONFIG = Struct(
    fields={
        "block_endpoints": STR_LIST,
        "allow_write_http_from": STR_LIST,
        "response_headers": STR_MAP,
        "use_cache": BOOL,
        "max_header_bytes": INT,
        "read_header_timeout": DUR,
        "idle_timeout": DUR,
    }
)

UI_CONFIG = Struct(
    fields={
        "enabled": BOOL,
        "dir": STR,
        "content_path": STR,
        "metrics_provider": STR,
        "metrics_provider_files": STR_LIST,
        "metrics_provider_options_json": STR,
        "metrics_proxy": ANY,
        "dashboard_url_templates": STR_MAP,
    }
)

GOSSIP = Struct(
    fields={
        "gossip_nodes": INT,
        "gossip_interval": DUR,
        "probe_interval": DUR,
        "probe_timeout": DUR,
        "retransmit_mult": INT,
        "suspicion_mult": INT,
    }
)

TLS_INTERFACE = Struct(
    fields={
        "ca_file": STR,
        "ca_path": STR,
        "cert_file": STR,
        "key_file": STR,
        "tls_min_version": STR,
        "tls_cipher_suites": STR,
        "verify_incoming": BOOL,
        "verify_outgoing": BOOL,
        "verify_server_hostname": BOOL,
        "use_auto_cert": BOOL,
    }
)

TLS = Struct(
    fields={
        "defaults": TLS_INTERFACE,
        "internal_rpc": TLS_INTERFACE,
        "https": TLS_INTERFACE,
        "grpc": TLS_INTERFACE,
        "grpc_modern_tls": BOOL,
    }
)

CONNECT = Struct(
    fields={
        "enabled": BOOL,
        "ca_provider": STR,
        "ca_config": ANY,
        "enable_mesh_gateway_wan_federation": BOOL,
        "enable_serverless_plugin": BOOL,
    }
)

TELEMETRY = Struct(
    fields={
        **{
            k: STR
            for k in (
                "circonus_api_app", "circonus_api_token", "circonus_api_url", "circonus_broker_id",
                "circonus_broker_select_tag", "circonus_check_display_name",
                "circonus_check_force_metric_activation", "circonus_check_id",
                "circonus_check_instance_id", "circonus_check_search_tag", "circonus_check_tags",
                "circonus_submission_interval", "circonus_submission_url", "dogstatsd_addr",
                "metrics_prefix", "statsd_address", "statsite_address",
            )
        },
        "disable_hostname": BOOL,
        "disable_per_tenancy_usage_metrics": BOOL,
        "dogstatsd_tags": STR_LIST,
        "enable_host_metrics": BOOL,
        "filter_default": BOOL,
        "prefix_filter": STR_LIST,
        "prometheus_retention_time": DUR,
        "retry_failed_connection": BOOL,
    }
)

UNIX_SOCKETS = Struct(fields={"user": STR, "group": STR, "mode": STR})

ADVERTISE_ADDRS = Struct(fields={"rpc": STR, "serf_lan": STR, "serf_wan": STR})

AGENT = Struct(
    fields={
        # identity and layout
        "node_name": STR,
        "node_id": STR,
        "node_meta": STR_MAP,
        "datacenter": STR,
        "primary_datacenter": STR,
        "primary_gateways": STR_LIST,
        "primary_gateways_interval": DUR,
        "domain": STR,
        "alt_domain": STR,
        "data_dir": STR,
        "pid_file": STR,
        "segment": STR,
        "segments": ANY,
        "partition": STR,
        # server role
        "server": BOOL,
        "bootstrap": BOOL,
        "bootstrap_expect": INT,
        "non_voting_server": BOOL,
        "read_replica": BOOL,
        "server_name": STR,
        "raft_protocol": INT,
        "raft_snapshot_threshold": INT,
        "raft_snapshot_interval": DUR,
        "raft_trailing_logs": INT,
        "raft_logstore": ANY,
        "performance": PERFORMANCE,
        "autopilot": AUTOPILOT,
        "protocol": INT,
        # network
        "bind_addr": STR,
        "client_addr": STR,
        "advertise_addr": STR,
        "advertise_addr_ipv4": STR,
        "advertise_addr_ipv6": STR,
        "advertise_addr_wan": STR,
        "advertise_addr_wan_ipv4": STR,
        "advertise_addr_wan_ipv6": STR,
        "advertise_addrs": ADVERTISE_ADDRS,
        "serf_lan": STR,
        "serf_wan": STR,
        "serf_lan_allowed_cidrs": STR_LIST,
        "serf_wan_allowed_cidrs": STR_LIST,
        "addresses": ADDRESSES,
        "ports": PORTS,
        "unix_sockets": UNIX_SOCKETS,
        "translate_wan_addrs": BOOL,
        "gossip_lan": GOSSIP,
        "gossip_wan": GOSSIP,
        # joining
        "start_join": STR_LIST,
        "start_join_wan": STR_LIST,
        "retry_join": STR_LIST,
        "retry_join_wan": STR_LIST,
        "retry_interval": DUR,
        "retry_interval_wan": DUR,
        "retry_max": INT,
        "retry_max_wan": INT,
        "rejoin_after_leave": BOOL,
        "leave_on_terminate": BOOL,
        "skip_leave_on_interrupt": BOOL,
        "reconnect_timeout": DUR,
        "reconnect_timeout_wan": DUR,
        "advertise_reconnect_timeout": DUR,
        "encrypt": STR,
        "encrypt_verify_incoming": BOOL,
        "encrypt_verify_outgoing": BOOL,
        "disable_keyring_file": BOOL,
        # logging
        "log_level": STR,
        "log_json": BOOL,
        "log_file": STR,
        "log_rotate_duration": DUR,
        "log_rotate_bytes": INT,
        "log_rotate_max_files": INT,
        "enable_syslog": BOOL,
        "syslog_facility": STR,
        "enable_debug": BOOL,
        # checks and services
        "enable_script_checks": BOOL,
        "enable_local_script_checks": BOOL,
        "enable_agent_tls_for_checks": BOOL,
        "check_update_interval": DUR,
        "check_output_max_size": INT,
        "discard_check_output": BOOL,
        "check_deregister_interval_min": DUR,  # hidden in Consul; lets tests shorten the 1m floor
        "check_reap_interval": DUR,
        "service": SERVICE,
        "services": ListOf(SERVICE),
        "check": CHECK,
        "checks": ListOf(CHECK),
        "watches": ListOf(ANY),
        "disable_remote_exec": BOOL,
        "enable_central_service_config": BOOL,
        # HTTP, DNS, UI
        "http_config": HTTP_CONFIG,
        "dns_config": DNS_CONFIG,
        "recursors": STR_LIST,
        "ui": BOOL,
        "ui_dir": STR,
        "ui_content_path": STR,
        "ui_config": UI_CONFIG,
        "limits": LIMITS,
        "default_query_time": DUR,
        "max_query_time": DUR,
        "discovery_max_stale": DUR,
        "session_ttl_min": DUR,
        "disable_http_unprintable_char_filter": BOOL,
        "disable_anonymous_signature": BOOL,
        "disable_update_check": BOOL,
        "disable_coordinates": BOOL,
        "disable_host_node_id": BOOL,
        "use_streaming_backend": BOOL,
        "rpc": Struct(fields={"enable_streaming": BOOL}),
        "cache": ANY,
        "telemetry": TELEMETRY,
        "audit": ANY,
        "license_path": STR,
        "experiments": STR_LIST,
        # TLS (legacy top-level keys and the `tls` block)
        "verify_incoming": BOOL,
        "verify_incoming_rpc": BOOL,
        "verify_incoming_https": BOOL,
        "verify_outgoing": BOOL,
        "verify_server_hostname": BOOL,
        "ca_file": STR,
        "ca_path": STR,
        "cert_file": STR,
        "key_file": STR,
        "tls_min_version": STR,
        "tls_cipher_suites": STR,
        "tls_prefer_server_cipher_suites": BOOL,
        "tls": TLS,
        "auto_encrypt": AUTO_ENCRYPT,
        "auto_config": ANY,
        # ACL (the block and the legacy top-level keys)
        "acl": ACL,
        "acl_datacenter": STR,
        "acl_default_policy": STR,
        "acl_down_policy": STR,
        "acl_master_token": STR,
        "acl_agent_master_token": STR,
        "acl_agent_token": STR,
        "acl_token": STR,
        "acl_replication_token": STR,
        "acl_ttl": DUR,
        "acl_enforce_version_8": BOOL,
        "enable_acl_replication": BOOL,
        # Connect (typed), peering and config entries (kept as written for their issues)
        "connect": CONNECT,
        "config_entries": ANY,
        "peering": ANY,
        "xds": ANY,
        "auto_reload_config": BOOL,
    }
)
