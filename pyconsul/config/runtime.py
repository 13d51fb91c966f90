"""RuntimeConfig: the agent's settled configuration, after flags and files are merged.

Field names are Consul's snake_case config keys: every key the builder accepts has a typed field
here, each block a frozen dataclass of `pyconsul.config.stanzas`. Which of them the agent acts on is
`pyconsul.config.support`'s table; the others are kept so `agent/self` shows them and a warning
names them at start.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from pyconsul.config.stanzas import (
    ACL,
    RPC,
    TLS,
    Addresses,
    AdvertiseAddrs,
    AutoEncrypt,
    Autopilot,
    Connect,
    DNSConfig,
    Gossip,
    HTTPConfig,
    Limits,
    Performance,
    Ports,
    Telemetry,
    UIConfig,
    UnixSockets,
)
from pyconsul.tls.settings import TLSSettings

__all__ = ["DNSConfig", "Ports", "RuntimeConfig"]


@dataclass
class RuntimeConfig:
    # identity and layout
    node_name: str = ""
    node_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    node_meta: dict[str, str] = field(default_factory=dict)
    datacenter: str = "dc1"
    primary_datacenter: str = ""
    primary_gateways: list[str] = field(default_factory=list)
    primary_gateways_interval: float = 30.0
    domain: str = "consul."
    alt_domain: str = ""
    data_dir: str = ""
    pid_file: str = ""
    segment: str = ""
    segments: list[Any] = field(default_factory=list)
    partition: str = ""
    dev: bool = False
    # server role
    server: bool = False
    bootstrap: bool = False
    bootstrap_expect: int = 0
    non_voting_server: bool = False
    read_replica: bool = False
    server_name: str = ""
    raft_protocol: int = 3
    # Raft timing multiplier (performance.raft_multiplier) and snapshot cadence
    # (raft_snapshot_threshold): what the Raft driver reads.
    raft_multiplier: int = 5
    snapshot_threshold: int = 8192
    # -raft-recover-truncate: this start may cut damaged Raft data (an operator's one-off choice).
    raft_recover_truncate: bool = False
    raft_snapshot_interval: float = 30.0
    raft_trailing_logs: int = 10240
    raft_logstore: Mapping[str, Any] = field(default_factory=dict)
    performance: Performance = field(default_factory=Performance)
    autopilot: Autopilot = field(default_factory=Autopilot)
    protocol: int = 2
    # network
    bind_addr: str = "0.0.0.0"
    client_addr: str = "127.0.0.1"
    advertise_addr: str = ""
    advertise_addr_ipv4: str = ""
    advertise_addr_ipv6: str = ""
    advertise_addr_wan: str = ""
    advertise_addr_wan_ipv4: str = ""
    advertise_addr_wan_ipv6: str = ""
    advertise_addrs: AdvertiseAddrs = field(default_factory=AdvertiseAddrs)
    serf_lan: str = ""  # the LAN pool's bind address over bind_addr
    serf_wan: str = ""
    serf_lan_allowed_cidrs: list[str] = field(default_factory=list)
    serf_wan_allowed_cidrs: list[str] = field(default_factory=list)
    addresses: Addresses = field(default_factory=Addresses)
    ports: Ports = field(default_factory=Ports)
    unix_sockets: UnixSockets = field(default_factory=UnixSockets)
    translate_wan_addrs: bool = False
    gossip_lan: Gossip = field(default_factory=Gossip)
    gossip_wan: Gossip = field(default_factory=Gossip)
    # joining
    start_join: list[str] = field(default_factory=list)
    start_join_wan: list[str] = field(default_factory=list)
    retry_join: list[str] = field(default_factory=list)
    retry_join_wan: list[str] = field(default_factory=list)
    retry_interval: float = 30.0
    retry_interval_wan: float = 30.0
    retry_max: int = 0
    retry_max_wan: int = 0
    rejoin_after_leave: bool = False
    leave_on_terminate: bool | None = None
    skip_leave_on_interrupt: bool | None = None
    reconnect_timeout: float = 72 * 3600.0
    reconnect_timeout_wan: float = 72 * 3600.0
    advertise_reconnect_timeout: float = 0.0
    encrypt: str = ""
    encrypt_verify_incoming: bool = True
    encrypt_verify_outgoing: bool = True
    disable_keyring_file: bool = False
    # logging
    log_level: str = "INFO"
    log_json: bool = False
    log_file: str = ""
    log_rotate_duration: float = 0.0
    log_rotate_bytes: int = 0
    log_rotate_max_files: int = 0
    enable_syslog: bool = False
    syslog_facility: str = "LOCAL0"
    enable_debug: bool = False
    # checks and services
    enable_script_checks: bool = False
    enable_local_script_checks: bool = False
    enable_agent_tls_for_checks: bool = False
    check_update_interval: float = 300.0
    check_output_max_size: int = 4096
    discard_check_output: bool = False
    # Consul's non-user settings: a deregister_critical_service_after below the minimum is raised
    # to it, and the reaper looks every check_reap_interval.
    check_deregister_interval_min: float = 60.0
    check_reap_interval: float = 30.0
    # Service and check definitions from config files, as parsed dicts (CamelCase normalised).
    services: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    watches: list[Any] = field(default_factory=list)
    disable_remote_exec: bool = True
    enable_central_service_config: bool = True
    # HTTP, DNS, UI
    http_config: HTTPConfig = field(default_factory=HTTPConfig)
    dns_config: DNSConfig = field(default_factory=DNSConfig)
    recursors: list[str] = field(default_factory=list)
    ui: bool = False  # ui_config.enabled over the legacy `ui`
    ui_dir: str = ""
    ui_content_path: str = ""
    ui_config: UIConfig = field(default_factory=UIConfig)
    limits: Limits = field(default_factory=Limits)
    default_query_time: float = 300.0
    max_query_time: float = 600.0
    discovery_max_stale: float = 0.0
    session_ttl_min: float = 10.0
    disable_http_unprintable_char_filter: bool = False
    disable_anonymous_signature: bool = False
    disable_update_check: bool = False
    disable_coordinates: bool = False
    disable_host_node_id: bool = True
    use_streaming_backend: bool = True
    rpc: RPC = field(default_factory=RPC)
    cache: Mapping[str, Any] = field(default_factory=dict)
    telemetry: Telemetry = field(default_factory=Telemetry)
    audit: Mapping[str, Any] = field(default_factory=dict)
    license_path: str = ""
    experiments: list[str] = field(default_factory=list)
    # TLS: the legacy top-level keys (what the listeners read) and the `tls` block (data only).
    verify_incoming: bool = False
    verify_incoming_rpc: bool = False
    verify_incoming_https: bool | None = None  # None: verify_incoming decides
    verify_outgoing: bool = False
    verify_server_hostname: bool = False
    ca_file: str = ""
    ca_path: str = ""
    cert_file: str = ""
    key_file: str = ""
    tls_min_version: str = ""
    tls_cipher_suites: str = ""
    tls_prefer_server_cipher_suites: bool = False
    tls: TLS = field(default_factory=TLS)
    # What every listener and dialer reads: the stanza and the old keys resolved per interface.
    tls_settings: TLSSettings = field(default_factory=TLSSettings)
    auto_encrypt: AutoEncrypt = field(default_factory=AutoEncrypt)
    auto_config: Mapping[str, Any] = field(default_factory=dict)
    # ACL: the block and the legacy top-level keys.
    acl: ACL = field(default_factory=ACL)
    acl_datacenter: str = ""
    acl_default_policy: str = ""
    acl_down_policy: str = ""
    acl_master_token: str = ""
    acl_agent_master_token: str = ""
    acl_agent_token: str = ""
    acl_token: str = ""
    acl_replication_token: str = ""
    acl_ttl: float = 0.0
    acl_enforce_version_8: bool = False
    enable_acl_replication: bool = False
    # Connect, peering, config entries, xDS.
    connect: Connect = field(default_factory=Connect)
    config_entries: Mapping[str, Any] = field(default_factory=dict)
    peering: Mapping[str, Any] = field(default_factory=dict)
    xds: Mapping[str, Any] = field(default_factory=dict)
    auto_reload_config: bool = False
    # What loading found: a warning per recognised key that is not implemented (naming its file)
    # and per unenforced security key the operator allowed with -dev-allow-unenforced; the agent
    # logs them at every start and reload.
    config_warnings: list[str] = field(default_factory=list)
    dev_allow_unenforced: list[str] = field(default_factory=list)
    # Files the config was read from (for reload and validate).
    config_files: list[str] = field(default_factory=list)
    config_dirs: list[str] = field(default_factory=list)
    # -config-file/-config-dir in command-line order ("file"|"dir", path), -config-format, -hcl
    # snippets and the agent's argv: what `reload_config` reads again.
    config_paths: list[tuple[str, str]] = field(default_factory=list)
    config_format: str = ""
    hcl: list[str] = field(default_factory=list)
    argv: list[str] = field(default_factory=list)

    def addr_for(self, kind: str) -> str:
        """Listen address for 'http', 'https', 'dns' or 'grpc' (addresses.* over client_addr)."""
        return str(getattr(self.addresses, kind, "")) or self.client_addr

    def advertise(self) -> str:
        if self.advertise_addr:
            return self.advertise_addr
        if self.bind_addr and self.bind_addr not in ("0.0.0.0", "::"):
            return self.bind_addr
        return "127.0.0.1"

    def verifies_incoming_https(self) -> bool:
        """verify_incoming_https when set, else verify_incoming (Consul's precedence)."""
        if self.verify_incoming_https is not None:
            return self.verify_incoming_https
        return self.verify_incoming

    @classmethod
    def setting_names(cls) -> frozenset[str]:
        """The fields that hold configuration (not what loading recorded about it)."""
        return frozenset(f.name for f in fields(cls)) - _LOAD_RECORD

    @classmethod
    def dev_defaults(cls) -> RuntimeConfig:
        """`agent -dev`: an in-memory single server on 127.0.0.1 with the UI on."""
        import socket

        return cls(
            node_name=socket.gethostname(),
            dev=True,
            server=True,
            bootstrap=True,
            bind_addr="127.0.0.1",
            client_addr="127.0.0.1",
            ui=True,
            log_level="DEBUG",
            enable_script_checks=False,
        )


# Fields that record where the config came from and what loading found, not settings.
_LOAD_RECORD = frozenset({
    "config_warnings", "dev_allow_unenforced", "raft_recover_truncate", "config_files", "config_dirs", "config_paths",
    "config_format", "hcl", "argv",
})
