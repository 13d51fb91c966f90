"""From the merged canonical config dict to a validated RuntimeConfig (Consul's builder.Build).

Keys with a RuntimeConfig field land there (durations as float seconds); every other accepted key
is kept under its config name in `extra`. Validation follows Consul's builder.Validate for the
rules a user hits: datacenter spelling, data_dir, bootstrap combinations, addresses, ports, the
gossip key, log level, auto_encrypt placement, service and check definitions.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import socket
import uuid
from dataclasses import fields
from typing import Any

from pyconsul.config.definitions import check_to_api, service_to_api, top_level_check
from pyconsul.config.errors import ConfigError
from pyconsul.config.runtime import DNSConfig, Ports, RuntimeConfig
from pyconsul.durations import parse_duration

_DIRECT = {
    "node_name", "node_id", "datacenter", "primary_datacenter", "alt_domain", "data_dir", "server",
    "bootstrap", "bootstrap_expect", "bind_addr", "client_addr", "advertise_addr", "log_level",
    "log_json", "pid_file", "start_join", "retry_join", "rejoin_after_leave", "leave_on_terminate",
    "skip_leave_on_interrupt", "enable_script_checks", "enable_local_script_checks", "encrypt",
    "recursors", "node_meta", "verify_incoming", "verify_outgoing", "verify_server_hostname",
    "ca_file", "ca_path", "cert_file", "key_file", "auto_encrypt", "acl", "check_output_max_size",
}
_DURATIONS = {
    "retry_interval", "check_update_interval", "reconnect_timeout", "check_deregister_interval_min",
    "check_reap_interval",
}
_HANDLED = _DIRECT | _DURATIONS | {
    "domain", "addresses", "ports", "dns_config", "services", "checks", "ui", "ui_config",
    "performance", "raft_snapshot_threshold",
}
_LOG_LEVELS = {"TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERR", "ERROR", "OFF"}
_DC_RE = re.compile(r"^[a-z0-9_-]+$")


def build(conf: dict[str, Any], dev: bool, where: str = "config") -> RuntimeConfig:
    """The RuntimeConfig for merged canonical `conf`, over Consul's (or -dev's) defaults."""
    rc = RuntimeConfig.dev_defaults() if dev else RuntimeConfig()
    for key in _DIRECT:
        if conf.get(key) is not None:
            setattr(rc, key, conf[key])
    for key in _DURATIONS:
        if conf.get(key) is not None:
            setattr(rc, key, parse_duration(conf[key]))
    if conf.get("domain") is not None:
        rc.domain = conf["domain"]
    if conf.get("addresses"):
        rc.addresses = {k: v for k, v in conf["addresses"].items() if v is not None}
    ports = conf.get("ports") or {}
    for f in fields(Ports):
        if ports.get(f.name) is not None:
            setattr(rc.ports, f.name, ports[f.name])
    extra_ports = {k: v for k, v in ports.items() if k not in {f.name for f in fields(Ports)}}
    if extra_ports:
        rc.extra["ports"] = extra_ports
    _apply_dns(rc, conf.get("dns_config") or {})
    ui_conf = conf.get("ui_config") or {}
    if ui_conf.get("enabled") is not None:
        rc.ui = ui_conf["enabled"]
    elif conf.get("ui") is not None:
        rc.ui = conf["ui"]
    if ui_conf:
        rc.extra["ui_config"] = ui_conf
    perf = conf.get("performance") or {}
    if perf.get("raft_multiplier") is not None:
        rc.raft_multiplier = perf["raft_multiplier"]
    if perf:
        rc.extra["performance"] = perf
    if conf.get("raft_snapshot_threshold") is not None:
        rc.snapshot_threshold = conf["raft_snapshot_threshold"]
    for key, value in conf.items():
        if key not in _HANDLED and value is not None:
            rc.extra[key] = value
    rc.services = [service_to_api(s, f"{where}: service {s.get('name') or i!r}") for i, s in enumerate(conf.get("services") or [])]
    rc.checks = []
    for i, c in enumerate(conf.get("checks") or []):
        if not c.get("name"):
            raise ConfigError(f"{where}: check {i}: check name cannot be empty")
        rc.checks.append(top_level_check(check_to_api(c, f"{where}: check {c['name']!r}")))
    _finish(rc)
    return rc


def _apply_dns(rc: RuntimeConfig, dns: dict[str, Any]) -> None:
    d: DNSConfig = rc.dns_config
    for key in ("allow_stale", "only_passing", "enable_truncate", "udp_answer_limit", "a_record_limit"):
        if dns.get(key) is not None:
            setattr(d, key, dns[key])
    for key in ("max_stale", "node_ttl", "recursor_timeout"):
        if dns.get(key) is not None:
            setattr(d, key, parse_duration(dns[key]))
    if dns.get("service_ttl"):
        d.service_ttl = {k: parse_duration(v) for k, v in dns["service_ttl"].items()}
    soa = dns.get("soa") or {}
    for key in ("expire", "min_ttl", "refresh", "retry"):
        if soa.get(key) is not None:
            setattr(d, f"soa_{key}", soa[key])
    rest = {k: v for k, v in dns.items() if not hasattr(d, k) and k != "soa"}
    if rest:
        rc.extra["dns_config"] = rest


def _finish(rc: RuntimeConfig) -> None:
    """Defaults that depend on other settings, then Consul's validation rules."""
    rc.datacenter = rc.datacenter.lower()
    if not rc.datacenter:
        raise ConfigError("datacenter cannot be empty")
    if not _DC_RE.match(rc.datacenter):
        raise ConfigError("datacenter can only contain lowercase alphanumeric, - or _ characters.")
    if rc.primary_datacenter:
        rc.primary_datacenter = rc.primary_datacenter.lower()
    if not rc.domain:
        raise ConfigError("domain cannot be empty")
    rc.domain = rc.domain.strip(".") + "."
    if rc.alt_domain:
        rc.alt_domain = rc.alt_domain.strip(".") + "."
    if not rc.node_name:
        rc.node_name = socket.gethostname()
    if not rc.dev and not rc.data_dir:
        raise ConfigError("data_dir cannot be empty")
    if rc.node_id:
        try:
            rc.node_id = str(uuid.UUID(rc.node_id))
        except ValueError:
            raise ConfigError(f"node_id: invalid node ID {rc.node_id!r}: must be a UUID") from None
    if rc.extra.get("gossip_lan") is not None:
        from pyconsul.gossip.config import GossipConfig

        try:
            GossipConfig.from_consul(rc.extra["gossip_lan"], rc.reconnect_timeout)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    if rc.bootstrap_expect < 0:
        raise ConfigError("bootstrap_expect cannot be negative")
    if rc.bootstrap_expect > 0 and not rc.server:
        raise ConfigError("'bootstrap_expect > 0' requires 'server = true'")
    if rc.bootstrap and not rc.server:
        raise ConfigError("'bootstrap = true' requires 'server = true'")
    if rc.bootstrap_expect > 0 and rc.bootstrap and not rc.dev:
        raise ConfigError("'bootstrap_expect > 0' and 'bootstrap = true' are mutually exclusive")
    if rc.bootstrap_expect > 0 and rc.dev:
        raise ConfigError("'bootstrap_expect > 0' not allowed in dev mode")
    if rc.bootstrap_expect == 1:
        # Consul turns bootstrap_expect = 1 into bootstrap mode.
        rc.bootstrap, rc.bootstrap_expect = True, 0
    _expand_templates(rc)
    _check_ip("bind_addr", rc.bind_addr)
    if rc.advertise_addr:
        _check_ip("advertise_addr", rc.advertise_addr)
    for addr in rc.client_addr.split():
        if not addr.startswith("unix://"):
            _check_ip("client_addr", addr)
    for kind, addrs in rc.addresses.items():
        for addr in addrs.split():
            if not addr.startswith("unix://"):
                _check_ip(f"addresses.{kind}", addr)
    for f in fields(Ports):
        port = getattr(rc.ports, f.name)
        if port < -1 or port > 65535:
            raise ConfigError(f"ports.{f.name}: invalid port {port}: must be between 1 and 65535, or -1 to disable")
    if rc.encrypt:
        try:
            key = base64.b64decode(rc.encrypt, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ConfigError(f"encrypt has invalid key: {exc}") from None
        if len(key) not in (16, 24, 32):
            raise ConfigError(f"encrypt has invalid key: key size must be 16, 24 or 32 bytes, not {len(key)}")
    if rc.log_level.upper() not in _LOG_LEVELS:
        raise ConfigError(
            f"Invalid log level: {rc.log_level}. Valid log levels are: [TRACE DEBUG INFO WARN ERR]"
        )
    if rc.auto_encrypt.get("tls") and rc.server:
        raise ConfigError("auto_encrypt.tls can only be used on a client.")
    if rc.auto_encrypt.get("allow_tls") and not rc.server:
        raise ConfigError("auto_encrypt.allow_tls can only be used on a server.")
    for r in rc.recursors:
        if r.startswith("[") and "]" in r:
            host = r[1 : r.index("]")]
        elif r.count(":") == 1:
            host = r.split(":", 1)[0]
        else:
            host = r
        _check_ip("recursors", host)
    if rc.check_output_max_size < 1:
        raise ConfigError("check_output_max_size must be positive, to discard check output use the discard_check_output flag")


def _expand_templates(rc: RuntimeConfig) -> None:
    """Resolve go-sockaddr templates in address settings, as Consul's builder does."""
    from pyconsul.config.sockaddr import TemplateError, is_template, local_interfaces, render

    interfaces = None

    def expand(key: str, value: str, single: bool) -> str:
        nonlocal interfaces
        if not is_template(value):
            return value
        if interfaces is None:
            interfaces = local_interfaces()
        try:
            out = render(value, interfaces).strip()
        except TemplateError as exc:
            raise ConfigError(f"{key}: {exc}") from None
        if not out:
            raise ConfigError(f"{key}: No address found in {value!r}")
        if single and len(out.split()) > 1:
            raise ConfigError(f"{key}: Multiple addresses found in {value!r}: {out}")
        return out

    rc.bind_addr = expand("bind_addr", rc.bind_addr, True)
    rc.advertise_addr = expand("advertise_addr", rc.advertise_addr, True)
    rc.client_addr = expand("client_addr", rc.client_addr, False)
    rc.addresses = {k: expand(f"addresses.{k}", v, False) for k, v in rc.addresses.items()}
    rc.start_join = [a for v in rc.start_join for a in expand("start_join", v, False).split()]
    rc.retry_join = [a for v in rc.retry_join for a in expand("retry_join", v, False).split()]
    for key in ("serf_lan", "serf_wan", "advertise_addr_wan"):
        if isinstance(rc.extra.get(key), str):
            rc.extra[key] = expand(key, rc.extra[key], True)


def _check_ip(key: str, value: str) -> None:
    try:
        ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        raise ConfigError(f"{key}: invalid IP address: {value!r}") from None
