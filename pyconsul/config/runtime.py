"""RuntimeConfig: the agent's settled configuration, after flags and files are merged.

Field names are Consul's snake_case config keys. Keys whose subsystem is not built yet are kept in
`extra` (never silently dropped) so `agent/self` can show them and later subsystems can read them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Ports:
    dns: int = 8600
    http: int = 8500
    https: int = -1
    grpc: int = -1
    serf_lan: int = 8301
    serf_wan: int = 8302
    server: int = 8300


@dataclass
class DNSConfig:
    allow_stale: bool = True
    max_stale: float = 10 * 365 * 24 * 3600.0
    node_ttl: float = 0.0
    service_ttl: dict[str, float] = field(default_factory=dict)
    only_passing: bool = False
    enable_truncate: bool = False
    udp_answer_limit: int = 3
    a_record_limit: int = 0
    recursor_timeout: float = 2.0
    soa_min_ttl: int = 0
    soa_refresh: int = 3600
    soa_retry: int = 600
    soa_expire: int = 86400


@dataclass
class RuntimeConfig:
    node_name: str = ""
    node_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    datacenter: str = "dc1"
    primary_datacenter: str = ""
    domain: str = "consul."
    alt_domain: str = ""
    data_dir: str = ""
    dev: bool = False
    server: bool = False
    bootstrap: bool = False
    bootstrap_expect: int = 0
    bind_addr: str = "0.0.0.0"
    client_addr: str = "127.0.0.1"
    advertise_addr: str = ""
    addresses: dict[str, str] = field(default_factory=dict)
    ports: Ports = field(default_factory=Ports)
    log_level: str = "INFO"
    log_json: bool = False
    pid_file: str = ""
    start_join: list[str] = field(default_factory=list)
    retry_join: list[str] = field(default_factory=list)
    retry_interval: float = 30.0
    rejoin_after_leave: bool = False
    leave_on_terminate: bool | None = None
    skip_leave_on_interrupt: bool | None = None
    enable_script_checks: bool = False
    enable_local_script_checks: bool = False
    check_update_interval: float = 300.0
    check_output_max_size: int = 4096
    # Consul's non-user settings: a deregister_critical_service_after below the minimum is raised
    # to it, and the reaper looks every check_reap_interval.
    check_deregister_interval_min: float = 60.0
    check_reap_interval: float = 30.0
    reconnect_timeout: float = 72 * 3600.0
    ui: bool = False
    encrypt: str = ""
    recursors: list[str] = field(default_factory=list)
    dns_config: DNSConfig = field(default_factory=DNSConfig)
    node_meta: dict[str, str] = field(default_factory=dict)
    # TLS (used by the TLS subsystem; accepted and stored now).
    verify_incoming: bool = False
    verify_outgoing: bool = False
    verify_server_hostname: bool = False
    ca_file: str = ""
    ca_path: str = ""
    cert_file: str = ""
    key_file: str = ""
    auto_encrypt: dict[str, Any] = field(default_factory=dict)
    acl: dict[str, Any] = field(default_factory=dict)
    # Service and check definitions from config files, as parsed dicts (CamelCase normalised).
    services: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    # Raft timing multiplier and snapshot cadence.
    raft_multiplier: int = 5
    snapshot_threshold: int = 8192
    # Every other accepted key, by its config name.
    extra: dict[str, Any] = field(default_factory=dict)
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
        return self.addresses.get(kind) or self.client_addr

    def advertise(self) -> str:
        if self.advertise_addr:
            return self.advertise_addr
        if self.bind_addr and self.bind_addr not in ("0.0.0.0", "::"):
            return self.bind_addr
        return "127.0.0.1"

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
