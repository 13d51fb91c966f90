"""Which recognised config keys pyconsul acts on: the one table, and what loading makes of it.

Every key path of the schema (`pyconsul.config.keys.AGENT`, blocks walked to their leaves) is in
`KEY_SUPPORT` as one of:
- IMPLEMENTED: the agent does what Consul does with it.
- NOT_IMPLEMENTED: accepted and kept, but without effect; loading warns, naming the key and its file.
- SECURITY: a protection the operator asks for. Off (Consul's meaning of off: `acl { enabled =
  false }`, `verify_incoming = false`) it is fine; on where pyconsul does not enforce it, the agent
  refuses to start (and `validate` and reload fail) unless `-dev-allow-unenforced=<key>` names
  it, which is logged as a WARNING at every start.
`review` is pure: it takes the typed config and which files set which keys, and returns warnings
and refusals as text; the shells (agent start, reload, validate) log or print them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pyconsul.acl.settings import acl_settings
from pyconsul.config.keys import AGENT
from pyconsul.config.runtime import RuntimeConfig
from pyconsul.config.spec import Spec, Struct


class Support(Enum):
    IMPLEMENTED = "implemented"
    NOT_IMPLEMENTED = "not implemented"
    SECURITY = "security"


# Definitions are checked and registered whole; their inner keys are the definitions' schema.
_WHOLE = {"service", "services", "check", "checks"}


def key_paths(spec: Struct = AGENT, prefix: str = "") -> list[str]:
    """Every recognised key path: blocks walked to their leaves, other values as one key."""
    out: list[str] = []
    for name, sub in spec.fields.items():
        path = f"{prefix}{name}"
        if isinstance(sub, Struct) and path not in _WHOLE:
            out.extend(key_paths(sub, path + "."))
        else:
            out.append(path)
    return out


IMPLEMENTED = frozenset({
    # identity and layout
    "node_name", "node_id", "node_meta", "datacenter", "primary_datacenter", "domain", "alt_domain",
    "data_dir", "pid_file", "enable_debug",
    # server role and Raft
    "server", "bootstrap", "bootstrap_expect", "raft_snapshot_threshold", "performance.raft_multiplier",
    "performance.rpc_hold_timeout", "performance.leave_drain_time",
    # HTTP connection limits, and the server port's
    "limits.http_max_conns_per_client", "http_config.read_header_timeout", "http_config.idle_timeout",
    "limits.rpc_max_conns_per_client", "limits.rpc_handshake_timeout",
    "autopilot.cleanup_dead_servers",
    # network and gossip
    "bind_addr", "client_addr", "advertise_addr", "advertise_addrs.serf_lan", "serf_lan",
    "serf_lan_allowed_cidrs", "addresses.dns", "addresses.http", "addresses.https", "ports.dns",
    "ports.http", "ports.https", "ports.serf_lan", "ports.server", "gossip_lan.gossip_nodes",
    "gossip_lan.gossip_interval", "gossip_lan.probe_interval", "gossip_lan.probe_timeout",
    "gossip_lan.retransmit_mult", "gossip_lan.suspicion_mult", "encrypt",
    # off, gossip also takes (incoming) or sends (outgoing) plaintext: turning encryption on in a
    # running cluster; the keyring file keeps keys installed at run time
    "encrypt_verify_incoming", "encrypt_verify_outgoing", "disable_keyring_file",
    # joining and leaving
    "start_join", "retry_join", "retry_interval", "rejoin_after_leave", "leave_on_terminate",
    "skip_leave_on_interrupt", "reconnect_timeout",
    # the WAN pool (servers only) and forwarding to other datacenters
    "ports.serf_wan", "serf_wan", "serf_wan_allowed_cidrs", "advertise_addr_wan", "advertise_addrs.serf_wan",
    "start_join_wan", "retry_join_wan", "retry_interval_wan", "retry_max_wan", "reconnect_timeout_wan",
    *(f"gossip_wan.{k}" for k in ("gossip_nodes", "gossip_interval", "probe_interval", "probe_timeout",
                                  "retransmit_mult", "suspicion_mult")),
    # logging and telemetry
    "log_level", "log_json", "log_file", "log_rotate_bytes", "log_rotate_duration", "log_rotate_max_files",
    "enable_syslog", "syslog_facility",
    "telemetry.prometheus_retention_time", "telemetry.disable_hostname", "telemetry.metrics_prefix",
    "telemetry.statsd_address", "telemetry.dogstatsd_addr", "telemetry.dogstatsd_tags",
    # checks and services
    "enable_script_checks", "enable_local_script_checks", "enable_agent_tls_for_checks",
    "check_update_interval", "check_output_max_size", "discard_check_output",
    "check_deregister_interval_min", "check_reap_interval", "service", "services", "check", "checks",
    "ports.sidecar_min_port", "ports.sidecar_max_port",  # sidecar_service port allocation
    # DNS and UI
    "dns_config.node_ttl", "dns_config.service_ttl", "dns_config.only_passing",
    "dns_config.enable_truncate", "dns_config.udp_answer_limit", "dns_config.a_record_limit",
    "dns_config.recursor_timeout", "dns_config.soa.expire", "dns_config.soa.min_ttl",
    "dns_config.soa.refresh", "dns_config.soa.retry", "recursors", "ui", "ui_config.enabled",
    "ui_dir", "ui_content_path", "ui_config.dir", "ui_config.content_path",
    # TLS: the old keys and the tls block resolve into one setting per interface
    # (pyconsul.tls.settings); HTTPS, the server port and the checks read it.
    "ca_file", "ca_path", "cert_file", "key_file", "verify_incoming_https", "tls_min_version",
    "tls_cipher_suites", "tls_prefer_server_cipher_suites",
    *(f"tls.{block}.{key}" for block in ("defaults", "https", "internal_rpc")
      for key in ("ca_file", "ca_path", "cert_file", "key_file", "tls_min_version", "tls_cipher_suites")),
    "tls.https.verify_incoming", "tls.https.verify_outgoing",
    # ... and the server port (TLS, client certificates, server identity) and outgoing RPC
    "verify_incoming", "verify_incoming_rpc", "verify_outgoing", "verify_server_hostname",
    "tls.defaults.verify_incoming", "tls.defaults.verify_outgoing", "tls.internal_rpc.verify_incoming",
    "tls.internal_rpc.verify_outgoing", "tls.internal_rpc.verify_server_hostname",
    # auto_encrypt: servers sign client certificates, clients fetch, use and renew them
    # (pyconsul/tls/auto_encrypt.py, pyconsul/agent/tls_wiring.py)
    "auto_encrypt.tls", "auto_encrypt.allow_tls", "auto_encrypt.dns_san", "auto_encrypt.ip_san",
    # ACLs: every route checks the request's token (lists filtered row by row), roles and token
    # expiry, client agents resolving through the servers and syncing with their agent token,
    # tokens set through the API persisted. Policies and roles are re-read when they change (by
    # modify index), so policy_ttl and role_ttl only ever make changes show sooner than Consul.
    "acl.enabled", "acl.default_policy", "acl.down_policy", "acl.token_ttl", "acl.policy_ttl",
    "acl.role_ttl", "acl.enable_key_list_policy", "acl.enable_token_persistence",
    "acl.tokens.initial_management", "acl.tokens.master", "acl.tokens.default", "acl.tokens.dns",
    "acl.tokens.agent", "acl.tokens.agent_recovery", "acl.tokens.agent_master",
    "acl_datacenter", "acl_default_policy", "acl_token", "acl_agent_token", "acl_master_token",
    "acl_agent_master_token", "acl_down_policy", "acl_ttl",
    # Connect: the built-in CA (on by default, as Consul's; `enabled = false` turns it off on
    # servers: pyconsul/api/connect_gate.py) and its TTLs
    "connect.enabled", "connect.ca_config",
})


@dataclass(frozen=True)
class SecurityRule:
    """When the key is on and pyconsul does not enforce it: what is not enforced, else None.
    `inert`: when the key is given but has no effect, the warning's reason, else None."""

    unenforced: Callable[[RuntimeConfig, frozenset[str]], str | None]
    inert: Callable[[RuntimeConfig], str | None] = lambda _rc: None


def _when(test: Callable[[RuntimeConfig], bool], what: str) -> SecurityRule:
    return SecurityRule(lambda rc, _given: what if test(rc) else None)


_NO_REPLICATION = (
    "the legacy ACL replication key is not implemented: use acl.enable_token_replication (with "
    "primary_datacenter naming another datacenter) instead"
)


def _token_replication_inert(rc: RuntimeConfig) -> str | None:
    """Token replication runs on a secondary datacenter's servers only (acl/replication.py)."""
    if not rc.acl.enable_token_replication:
        return None
    if not rc.server:
        return "a client agent replicates nothing (its servers do)"
    if not rc.primary_datacenter or rc.primary_datacenter == rc.datacenter:
        return "this is the primary datacenter (primary_datacenter names no other one): nothing to replicate from"
    return None
_TLS_BLOCK = "this tls block does not take the key (or, for grpc, there is no gRPC TLS listener)"


def _tls_rule(block: str, key: str) -> SecurityRule:
    def unenforced(rc: RuntimeConfig, _given: frozenset[str]) -> str | None:
        return _TLS_BLOCK if getattr(getattr(rc.tls, block), key) else None

    return SecurityRule(unenforced)


SECURITY_RULES: dict[str, SecurityRule] = {
    # Auth methods and login have no config key: their endpoints answer 404, nothing to refuse.
    "acl.enable_token_replication": SecurityRule(lambda _rc, _given: None, _token_replication_inert),
    "enable_acl_replication": _when(lambda rc: rc.enable_acl_replication, _NO_REPLICATION),
    # Keys a block does not take (Consul's docs) and gRPC, which has no TLS listener here.
    **{
        f"tls.{block}.{key}": _tls_rule(block, key)
        for block, key in (("defaults", "verify_server_hostname"), ("https", "verify_server_hostname"),
                           ("grpc", "verify_incoming"), ("grpc", "verify_outgoing"),
                           ("grpc", "verify_server_hostname"))
    },
}


def _table() -> dict[str, Support]:
    table: dict[str, Support] = {}
    for path in key_paths():
        if path in SECURITY_RULES:
            table[path] = Support.SECURITY
        elif path in IMPLEMENTED:
            table[path] = Support.IMPLEMENTED
        else:
            table[path] = Support.NOT_IMPLEMENTED
    return table


KEY_SUPPORT: dict[str, Support] = _table()
OVERRIDE_FLAG = "-dev-allow-unenforced"


def given_paths(layer: Mapping[str, Any], spec: Spec = AGENT, prefix: str = "") -> set[str]:
    """The table's key paths that one decoded source sets."""
    out: set[str] = set()
    if not isinstance(spec, Struct) or not isinstance(layer, Mapping):
        return out
    for name, value in layer.items():
        if value is None or name not in spec.fields:
            continue
        path = f"{prefix}{name}"
        sub = spec.fields[name]
        if isinstance(sub, Struct) and path not in _WHOLE:
            out |= given_paths(value, sub, path + ".")
        else:
            out.add(path)
    return out


@dataclass(frozen=True)
class Review:
    warnings: list[str]  # log these at start and reload
    refusals: list[str]  # any of these: do not start


def review(rc: RuntimeConfig, sources: Iterable[tuple[str, Mapping[str, Any]]], allowed: Iterable[str]) -> Review:
    """What the merged config `rc` means for the table, given each source's (name, decoded dict)
    and the keys the operator allowed unenforced."""
    where: dict[str, list[str]] = {}
    for name, layer in sources:
        for path in given_paths(layer):
            where.setdefault(path, []).append(name)
    given = frozenset(where)
    allowed = set(allowed)
    warnings: list[str] = []
    refusals: list[str] = []
    for path in sorted(where):
        files = ", ".join(dict.fromkeys(where[path]))
        support = KEY_SUPPORT.get(path, Support.NOT_IMPLEMENTED)
        if support is Support.NOT_IMPLEMENTED:
            warnings.append(f"config key {path!r} (in {files}) is recognised but not implemented: it has no effect")
        elif support is Support.SECURITY:
            rule = SECURITY_RULES[path]
            what = rule.unenforced(rc, given)
            if what is None:
                inert = rule.inert(rc)
                if inert:
                    warnings.append(f"config key {path!r} (in {files}) is recognised but has no effect: {inert}")
                continue
            if path in allowed:
                warnings.append(
                    f"{OVERRIDE_FLAG}={path}: security key {path!r} (in {files}) is NOT ENFORCED: {what}. "
                    "For development only.")
            else:
                refusals.append(
                    f"security key {path!r} (in {files}) is set but not enforced: {what}. Turn it off, or for "
                    f"development only allow it with {OVERRIDE_FLAG}={path}")
    _, acl_warnings, acl_errors = acl_settings(rc, given)
    return Review(warnings + acl_warnings, refusals + acl_errors)


def check_allowed_names(names: Iterable[str]) -> list[str]:
    """The names `-dev-allow-unenforced` may take that are not security keys (empty when all are)."""
    return [n for n in names if n not in SECURITY_RULES]
