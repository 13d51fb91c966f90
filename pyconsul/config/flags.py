"""`consul agent` flags, parsed the way Go's flag package does.

`-flag value`, `-flag=value`, `--flag` all work; booleans take only `-flag` or `-flag=true|false`;
parsing stops at `--` or the first non-flag argument. Config-setting flags become one canonical
config dict (the "flags" source, layered over the files); the rest (-dev, -config-file,
-config-dir, -config-format, -hcl) say where the config comes from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pyconsul.config.errors import ConfigError, HelpRequested
from pyconsul.gocompat.durations import parse_duration
from pyconsul.gocompat.flagscan import FlagScanner, FlagSyntaxError, HelpFlag, invalid_bool
from pyconsul.gocompat.strconv import parse_bool, parse_int


@dataclass(frozen=True)
class Flag:
    key: str  # dotted canonical config key ("ports.http"); "" for flags that are not config
    kind: str  # "str" | "int" | "bool" | "dur" | "list" | "meta"
    help: str = ""


FLAGS: dict[str, Flag] = {
    "advertise": Flag("advertise_addr", "str", "Sets the advertise address to use."),
    "advertise-wan": Flag("advertise_addr_wan", "str", "Sets address to advertise on WAN instead of -advertise address."),
    "alt-domain": Flag("alt_domain", "str", "Alternate domain to use for DNS interface."),
    "auto-reload-config": Flag("auto_reload_config", "bool", "Watches config files for changes and auto reloads."),
    "bind": Flag("bind_addr", "str", "Sets the bind address for cluster communication."),
    "bootstrap": Flag("bootstrap", "bool", "Sets server to bootstrap mode."),
    "bootstrap-expect": Flag("bootstrap_expect", "int", "Sets server to expect bootstrap mode."),
    "client": Flag("client_addr", "str", "Sets the address to bind for client access."),
    "data-dir": Flag("data_dir", "str", "Path to a data directory to store agent state."),
    "datacenter": Flag("datacenter", "str", "Datacenter of the agent."),
    "default-query-time": Flag("default_query_time", "dur", "The default blocking query wait time."),
    "disable-host-node-id": Flag("disable_host_node_id", "bool", "Do not derive the node ID from the host."),
    "disable-keyring-file": Flag("disable_keyring_file", "bool", "Disables the backing up of the keyring to a file."),
    "dns-port": Flag("ports.dns", "int", "DNS port to use."),
    "domain": Flag("domain", "str", "Domain to use for DNS interface."),
    "enable-local-script-checks": Flag("enable_local_script_checks", "bool", "Enables health check scripts from configuration file."),
    "enable-script-checks": Flag("enable_script_checks", "bool", "Enables health check scripts."),
    "encrypt": Flag("encrypt", "str", "Provides the gossip encryption key."),
    "grpc-port": Flag("ports.grpc", "int", "Sets the gRPC API port to listen on."),
    "grpc-tls-port": Flag("ports.grpc_tls", "int", "Sets the gRPC-TLS API port to listen on."),
    "http-port": Flag("ports.http", "int", "Sets the HTTP API port to listen on."),
    "https-port": Flag("ports.https", "int", "Sets the HTTPS API port to listen on."),
    "join": Flag("start_join", "list", "Address of an agent to join at start time. Can be specified multiple times."),
    "join-wan": Flag("start_join_wan", "list", "Address of an agent to join -wan at start time."),
    "log-file": Flag("log_file", "str", "Path to the file the logs get written to."),
    "log-json": Flag("log_json", "bool", "Output logs in JSON format."),
    "log-level": Flag("log_level", "str", "Log level of the agent."),
    "log-rotate-bytes": Flag("log_rotate_bytes", "int", "Maximum number of bytes that should be written to a log file."),
    "log-rotate-duration": Flag("log_rotate_duration", "dur", "Time after which log rotation needs to be performed."),
    "log-rotate-max-files": Flag("log_rotate_max_files", "int", "Maximum number of log file archives to keep."),
    "max-query-time": Flag("max_query_time", "dur", "The maximum blocking query wait time."),
    "node": Flag("node_name", "str", "Name of this node. Must be unique in the cluster."),
    "node-id": Flag("node_id", "str", "A unique ID for this node across space and time."),
    "node-meta": Flag("node_meta", "meta", "An arbitrary metadata key/value pair for this node, of the format `key:value`."),
    "non-voting-server": Flag("read_replica", "bool", "(Enterprise-only) DEPRECATED: -read-replica should be used instead."),
    "pid-file": Flag("pid_file", "str", "Path to file to store agent PID."),
    "primary-gateway": Flag("primary_gateways", "list", "Address of a mesh gateway in the primary datacenter."),
    "protocol": Flag("protocol", "int", "Sets the protocol version. Defaults to latest."),
    "raft-protocol": Flag("raft_protocol", "int", "Sets the Raft protocol version. Defaults to latest."),
    "read-replica": Flag("read_replica", "bool", "(Enterprise-only) This flag is used to make the server not participate in the Raft quorum."),
    "recursor": Flag("recursors", "list", "Address of an upstream DNS server. Can be specified multiple times."),
    "rejoin": Flag("rejoin_after_leave", "bool", "Ignores a previous leave and attempts to rejoin the cluster."),
    "retry-interval": Flag("retry_interval", "dur", "Time to wait between join attempts."),
    "retry-interval-wan": Flag("retry_interval_wan", "dur", "Time to wait between join -wan attempts."),
    "retry-join": Flag("retry_join", "list", "Address of an agent to join at start time with retries enabled."),
    "retry-join-wan": Flag("retry_join_wan", "list", "Address of an agent to join -wan at start time with retries enabled."),
    "retry-max": Flag("retry_max", "int", "Maximum number of join attempts. Defaults to 0, which will retry indefinitely."),
    "retry-max-wan": Flag("retry_max_wan", "int", "Maximum number of join -wan attempts."),
    "segment": Flag("segment", "str", "(Enterprise-only) Sets the network segment to join."),
    "serf-lan-allowed-cidrs": Flag("serf_lan_allowed_cidrs", "list", "Networks (eg: 192.168.1.0/24) allowed for Serf LAN."),
    "serf-lan-bind": Flag("serf_lan", "str", "Address to bind Serf LAN listeners to."),
    "serf-lan-port": Flag("ports.serf_lan", "int", "Sets the Serf LAN port to listen on."),
    "serf-wan-allowed-cidrs": Flag("serf_wan_allowed_cidrs", "list", "Networks (eg: 192.168.1.0/24) allowed for Serf WAN."),
    "serf-wan-bind": Flag("serf_wan", "str", "Address to bind Serf WAN listeners to."),
    "serf-wan-port": Flag("ports.serf_wan", "int", "Sets the Serf WAN port to listen on."),
    "server": Flag("server", "bool", "Switches agent to server mode."),
    "server-port": Flag("ports.server", "int", "Sets the server port to listen on."),
    "syslog": Flag("enable_syslog", "bool", "Enables logging to syslog."),
    "ui": Flag("ui_config.enabled", "bool", "Enables the built-in static web UI server."),
    "ui-content-path": Flag("ui_config.content_path", "str", "Sets the external UI path to a string."),
    "ui-dir": Flag("ui_config.dir", "str", "Path to directory containing the web UI resources."),
    # Where the config comes from (not config keys themselves).
    "dev": Flag("", "bool", "Starts the agent in development mode."),
    "dev-allow-unenforced": Flag(
        "", "list",
        "DEVELOPMENT ONLY. Start although the named security key (acl.enabled, verify_outgoing, "
        "auto_encrypt.tls, ...) is set but not enforced by pyconsul; without it such a config "
        "refuses to start. Logged as a WARNING at every start. Can be specified multiple times."),
    "raft-recover-truncate": Flag("", "bool", "Start even though the Raft data is damaged: cut the log at "
                                  "the damage (a copy of what is cut is kept as *.dropped), set a damaged "
                                  "snapshot aside (*.damaged) and drop a log that no longer continues the "
                                  "state. Entries past the damage are lost on this server; without this "
                                  "flag the agent refuses to start and names the damaged file."),
    "config-file": Flag("", "list", "Path to a file in JSON or HCL format. Can be specified multiple times."),
    "config-dir": Flag("", "list", "Path to a directory to read configuration files from. Can be specified multiple times."),
    "config-format": Flag("", "str", "Config files are in this format irrespective of their extension. Must be 'hcl' or 'json'"),
    "hcl": Flag("", "list", "hcl config fragment. Can be specified multiple times."),
}


@dataclass
class AgentFlags:
    dev: bool = False
    raft_recover_truncate: bool = False
    config_format: str = ""
    # -config-file and -config-dir in command-line order: ("file"|"dir", path).
    config_paths: list[tuple[str, str]] = field(default_factory=list)
    hcl: list[str] = field(default_factory=list)
    dev_allow_unenforced: list[str] = field(default_factory=list)  # security keys allowed unenforced
    values: dict[str, Any] = field(default_factory=dict)  # canonical config from the flags


def _set(values: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    d = values
    for p in parts[:-1]:
        d = d.setdefault(p, {})
    d[parts[-1]] = value


def _get(values: dict[str, Any], dotted: str) -> Any:
    d: Any = values
    for p in dotted.split("."):
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def parse_agent_flags(argv: list[str]) -> AgentFlags:
    """Parse `agent` flags; ConfigError with Go's wording on an unknown flag or bad value."""
    out = AgentFlags()
    scanner = FlagScanner(argv, _kind_of)
    try:
        for name, raw in scanner:
            flag = FLAGS[name]
            if flag.kind == "bool":
                value: Any = True if raw is None else _bool(name, raw)
            else:
                assert raw is not None
                value = _convert(name, flag, raw)
            _apply(out, name, flag, value)
    except HelpFlag:
        raise HelpRequested(agent_usage()) from None
    except FlagSyntaxError as exc:
        raise ConfigError(str(exc)) from None
    if scanner.rest:
        raise ConfigError(f"Unexpected extra arguments: {scanner.rest}")
    return out


def _kind_of(name: str) -> bool | None:
    flag = FLAGS.get(name)
    return None if flag is None else flag.kind == "bool"


def _bool(name: str, raw: str) -> bool:
    try:
        return parse_bool(raw)
    except ValueError:
        raise invalid_bool(name, raw) from None


def _convert(name: str, flag: Flag, text: str) -> Any:
    if flag.kind == "int":
        try:
            return parse_int(text)
        except ValueError:
            raise ConfigError(f'invalid value "{text}" for flag -{name}: parse error') from None
    if flag.kind == "dur":
        try:
            parse_duration(text)
        except ValueError:
            raise ConfigError(f'invalid value "{text}" for flag -{name}: parse error') from None
        return text
    if flag.kind == "meta":
        key, sep, val = text.partition(":")
        if not sep or not key:
            raise ConfigError(f'invalid value "{text}" for flag -{name}: node-meta must be of the form key:value')
        return (key, val)
    return text


def _apply(out: AgentFlags, name: str, flag: Flag, value: Any) -> None:
    if name == "dev":
        out.dev = bool(value)
    elif name == "raft-recover-truncate":
        out.raft_recover_truncate = bool(value)
    elif name == "config-file":
        out.config_paths.append(("file", value))
    elif name == "config-dir":
        out.config_paths.append(("dir", value))
    elif name == "config-format":
        if value not in ("hcl", "json"):
            raise ConfigError(f"-config-format must be 'hcl' or 'json', not {value!r}")
        out.config_format = value
    elif name == "hcl":
        out.hcl.append(value)
    elif name == "dev-allow-unenforced":
        out.dev_allow_unenforced.append(value)
    elif flag.kind == "list":
        current = _get(out.values, flag.key) or []
        _set(out.values, flag.key, [*current, value])
    elif flag.kind == "meta":
        current = _get(out.values, flag.key) or {}
        _set(out.values, flag.key, {**current, value[0]: value[1]})
    else:
        _set(out.values, flag.key, value)


def agent_usage() -> str:
    lines = ["Usage: consul agent [options]", "", "  Starts the Consul agent and runs until an interrupt is received.", ""]
    for name in sorted(FLAGS):
        f = FLAGS[name]
        lines.append(f"  -{name}" + ("" if f.kind == "bool" else "=<value>"))
        lines.append(f"     {f.help}")
        lines.append("")
    return "\n".join(lines)
