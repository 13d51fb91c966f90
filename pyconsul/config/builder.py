"""From the merged canonical config dict to a validated RuntimeConfig (Consul's builder.Build).

Every key lands in the RuntimeConfig field of the same name (blocks as the frozen dataclasses of
`pyconsul.config.stanzas`, durations as float seconds); the few renamed or derived ones are
spelled out in `build`. Validation follows Consul's builder.Validate for the rules a user hits:
datacenter spelling, data_dir, bootstrap combinations, addresses, ports, the gossip key, log
level, auto_encrypt placement, service and check definitions.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import ipaddress
import re
import socket
import uuid
from collections.abc import Mapping
from dataclasses import fields, replace
from typing import Any

from pyconsul.config.definitions import check_to_api, service_to_api, top_level_check
from pyconsul.config.errors import ConfigError
from pyconsul.config.keys import AGENT, DNS_CONFIG
from pyconsul.config.runtime import DNSConfig, Ports, RuntimeConfig
from pyconsul.config.spec import DUR, ListOf, MapOf, Spec, Struct
from pyconsul.config.stanzas import UIConfig
from pyconsul.durations import parse_duration
from pyconsul.raft.timing import multiplier_error
from pyconsul.tls.settings import TLSSettingsError
from pyconsul.tls.settings import resolve as resolve_tls

# Keys the builder fills by hand: definitions, and the blocks whose fields are read under
# another name (dns_config.soa, ui_config.enabled, performance.raft_multiplier).
_BY_HAND = {"services", "checks", "service", "check", "dns_config", "raft_snapshot_threshold"}
_LOG_LEVELS = {"TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERR", "ERROR", "OFF"}
_DC_RE = re.compile(r"^[a-z0-9_-]+$")


def build(conf: dict[str, Any], dev: bool, where: str = "config") -> RuntimeConfig:
    """The RuntimeConfig for merged canonical `conf`, over Consul's (or -dev's) defaults."""
    rc = RuntimeConfig.dev_defaults() if dev else RuntimeConfig()
    for key, value in conf.items():
        if key in _BY_HAND or value is None:
            continue
        current = getattr(rc, key)
        setattr(rc, key, typed_value(AGENT.fields[key], value, current))
    if conf.get("raft_snapshot_threshold") is not None:
        rc.snapshot_threshold = conf["raft_snapshot_threshold"]
    if (conf.get("performance") or {}).get("raft_multiplier") is not None:
        rc.raft_multiplier = rc.performance.raft_multiplier
    if multiplier_error(rc.raft_multiplier):
        raise ConfigError(multiplier_error(rc.raft_multiplier))
    rc.ui_config = _ui(rc, conf, where)
    rc.dns_config = _dns(rc.dns_config, conf.get("dns_config") or {})
    rc.services = [service_to_api(s, f"{where}: service {s.get('name') or i!r}") for i, s in enumerate(conf.get("services") or [])]
    rc.checks = []
    for i, c in enumerate(conf.get("checks") or []):
        if not c.get("name"):
            raise ConfigError(f"{where}: check {i}: check name cannot be empty")
        rc.checks.append(top_level_check(check_to_api(c, f"{where}: check {c['name']!r}")))
    try:
        rc.tls_settings = resolve_tls(conf)
    except TLSSettingsError as exc:
        raise ConfigError(str(exc)) from None
    _finish(rc)
    return rc


_UI_BOTH = (
    "Both the ui_config.enabled and ui_config.dir (or -ui and -ui-dir) were specified, please provide only "
    "one. If trying to use your own web UI resources, use ui_config.dir or the -ui-dir flag. The web UI is "
    "included in the binary so use ui_config.enabled or the -ui flag to enable it"
)


def ui_content_path(path: str) -> str:
    """Consul's rule: the UI's URL prefix always starts and ends with one slash ("/ui/" when unset)."""
    trimmed = path.strip("/")
    return f"/{trimmed}/" if trimmed else "/ui/"


def _ui(rc: RuntimeConfig, conf: dict[str, Any], where: str) -> UIConfig:
    """ui_config over the legacy `ui`, `ui_dir` and `ui_content_path` keys (the block wins)."""
    block = conf.get("ui_config") or {}
    explicit = block.get("enabled") if block.get("enabled") is not None else conf.get("ui")
    if explicit is not None:
        rc.ui = bool(explicit)
    ui_dir = block.get("dir") or rc.ui_dir
    if explicit and ui_dir:
        raise ConfigError(f"{where}: {_UI_BOTH}")
    content_path = block.get("content_path") or rc.ui_content_path
    # One answer whichever key said it; a dir of one's own serves the UI without -ui.
    rc.ui = rc.ui or bool(ui_dir)
    return replace(rc.ui_config, enabled=rc.ui, dir=ui_dir, content_path=ui_content_path(content_path))


def typed_value(spec: Spec, value: Any, current: Any) -> Any:
    """A decoded config value as its field holds it: a block over the field's `current` stanza
    (only the keys given change), a duration in seconds, lists and maps copied."""
    if isinstance(spec, Struct) and dataclasses.is_dataclass(current) and isinstance(value, dict):
        # The stanza's field names are the block's keys (a test holds keys.py and stanzas.py to
        # that), so a key without a field is a bug here, not a user error.
        changes = {k: typed_value(spec.fields[k], v, getattr(current, k)) for k, v in value.items() if v is not None}
        return replace(current, **changes)  # type: ignore[type-var]
    if isinstance(current, Mapping) and isinstance(value, list) and all(isinstance(b, dict) for b in value):
        return {k: v for block in value for k, v in block.items()}  # an HCL block kept as written
    if spec == DUR:
        return parse_duration(value)
    if isinstance(spec, MapOf):
        return {k: typed_value(spec.value, v, None) for k, v in value.items()}
    if isinstance(spec, ListOf):
        return list(value)
    return value


def _dns(d: DNSConfig, dns: dict[str, Any]) -> DNSConfig:
    """dns_config over `d`; the `soa { }` block lands in the flat soa_* fields."""
    plain = {k: v for k, v in dns.items() if k != "soa"}
    d = typed_value(DNS_CONFIG, plain, d)
    soa = dns.get("soa") or {}
    return replace(d, **{f"soa_{k}": v for k, v in soa.items() if v is not None})


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
    from pyconsul.gossip.config import GossipConfig

    try:
        GossipConfig.from_consul(rc.gossip_lan.overrides(), rc.reconnect_timeout)
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
    for kind, addrs in vars(rc.addresses).items():
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
    if rc.auto_encrypt.tls and rc.server:
        raise ConfigError("auto_encrypt.tls can only be used on a client.")
    if rc.auto_encrypt.allow_tls and not rc.server:
        raise ConfigError("auto_encrypt.allow_tls can only be used on a server.")
    if rc.auto_encrypt.allow_tls and not rc.connect.enabled:
        # Consul turns Connect on for auto_encrypt's servers: they sign its certificates
        rc.connect = replace(rc.connect, enabled=True)
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
    rc.addresses = replace(
        rc.addresses, **{k: expand(f"addresses.{k}", v, False) for k, v in vars(rc.addresses).items()})
    rc.start_join = [a for v in rc.start_join for a in expand("start_join", v, False).split()]
    rc.retry_join = [a for v in rc.retry_join for a in expand("retry_join", v, False).split()]
    for key in ("serf_lan", "serf_wan", "advertise_addr_wan"):
        setattr(rc, key, expand(key, getattr(rc, key), True))


def _check_ip(key: str, value: str) -> None:
    try:
        ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        raise ConfigError(f"{key}: invalid IP address: {value!r}") from None
