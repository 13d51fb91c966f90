"""Container inspection → Consul service registrations, by registrator's rules (pure).

Rules kept from gliderlabs/registrator (bridge/bridge.go, bridge/util.go, consul/consul.go):

* One service per port: ports from `Config.ExposedPorts` count as published on the same host port
  (host networking), then `NetworkSettings.Ports` overrides them (bridge networking). A port
  without a host binding is skipped unless `-internal`.
* ID `<hostname>:<container-name>:<exposed-port>[:udp]`; `SERVICE_ID` replaces it whole.
* Name: the image basename without registry, path or tag, with `-<exposed-port>` appended when
  the container yields several services, unless the name came from `SERVICE_<port>_NAME`.
* Metadata: `SERVICE_<KEY>` from env and labels (labels win over env), `SERVICE_<port>_<KEY>`
  wins over both for that port; keys are lower-cased. Any non-empty `SERVICE_IGNORE` skips.
* Address: the host binding's IP (`0.0.0.0` is replaced by the address the hostname resolves to),
  replaced by `-ip`; with `-internal`, the container's IP and exposed port; `-useIpFromLabel`
  takes the IP (CIDR suffix dropped) from a label; `container:<id>` networking takes the other
  container's IP.
* Tags: `SERVICE_TAGS` split on commas (`\\,` keeps a comma), then `-tags`, then `udp` for UDP.
* Checks from `SERVICE_CHECK_*`; every other key goes to the service Meta.

Deliberate differences: an `@sha256:` digest is dropped from the name like a tag; empty tags are
dropped; Meta keys Consul would reject (it refuses the whole registration for one bad key) are
left out; script checks use Consul's `Args` (`sh -c <script>`), as `Script` no longer exists.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyregistrator.checks import CHECK_KEYS, CheckDefinition, build_check, script_check_refused

# Keys that become fields of the service itself.
SERVICE_KEYS = frozenset({"id", "name", "tags", "ignore"})

# Consul's limits on service Meta (agent/structs/structs.go validateMetaPair).
_META_KEY = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
META_MAX_PAIRS = 64
META_MAX_VALUE = 512

# What Go's strconv.Atoi accepts: such a head names a port, so the key is per-port.
_PORT_NUMBER = re.compile(r"^[+-]?[0-9]+$")
# registrator's pattern for IDs it generated: host, container name, port, optional :udp.
SERVICE_ID_PATTERN = re.compile(r"^(.+?):([a-zA-Z0-9][a-zA-Z0-9_.-]+):[0-9]+(?::udp)?$")


@dataclass(frozen=True)
class MappingConfig:
    """The registrator flags that shape a registration."""

    hostname: str
    host_ip: str = ""  # -ip
    internal: bool = False  # -internal
    explicit: bool = False  # -explicit
    force_tags: str = ""  # -tags
    use_ip_from_label: str = ""  # -useIpFromLabel
    # What `hostname` resolves to; replaces 0.0.0.0 bindings when -ip is not given.
    hostname_ip: str = ""
    # -script-checks: let SERVICE_CHECK_SCRIPT/CMD from an image run `sh -c` on this host.
    script_checks: bool = False
    # -same-compose-project: a (label, value) every registered container carries; the others
    # (another stack on the same engine) are left to their own registrator.
    only_label: tuple[str, str] | None = None


@dataclass(frozen=True)
class ServiceRegistration:
    """One service to hold in the agent, and the container port it came from."""

    id: str
    name: str
    address: str
    port: int
    tags: tuple[str, ...] = ()
    meta: tuple[tuple[str, str], ...] = ()
    check: CheckDefinition | None = None
    container_id: str = field(default="", compare=False)
    container_name: str = field(default="", compare=False)
    exposed_port: str = field(default="", compare=False)
    # The image asked for a CMD/SCRIPT check that -script-checks did not allow (it was skipped).
    script_check_skipped: bool = field(default=False, compare=False)

    def to_consul(self) -> dict[str, Any]:
        """The body for PUT /v1/agent/service/register."""
        body: dict[str, Any] = {
            "ID": self.id,
            "Name": self.name,
            "Tags": list(self.tags),
            "Address": self.address,
            "Port": self.port,
            "Meta": dict(self.meta),
        }
        if self.check is not None:
            body["Check"] = self.check.to_consul()
        return body

    def matches_agent(self, held: Mapping[str, Any]) -> bool:
        """Whether the agent's view (GET /v1/agent/services entry) shows this registration.

        Checks are not part of that listing, so they are not compared."""
        return (
            held.get("Service") == self.name
            and list(held.get("Tags") or []) == list(self.tags)
            and held.get("Address", "") == self.address
            and held.get("Port") == self.port
            and dict(held.get("Meta") or {}) == dict(self.meta)
        )


def owned_by_host(service_id: str, hostname: str) -> bool:
    """Whether an ID has the shape registrator gives services of containers on `hostname`."""
    match = SERVICE_ID_PATTERN.match(service_id)
    return match is not None and match.group(1) == hostname


def image_basename(image: str) -> str:
    """`registry:5000/team/app:1.2@sha256:…` → `app` (registrator: path.Base, cut at ':')."""
    image = image.split("@", 1)[0].rstrip("/")
    base = image.rsplit("/", 1)[-1] if image else "."
    return base.split(":", 1)[0]


def split_tags(value: str) -> list[str]:
    """Split on commas; `\\,` is a literal comma; empty parts are dropped."""
    tags: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value) and value[i + 1] == ",":
            current.append(",")
            i += 2
            continue
        if ch == ",":
            tags.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    tags.append("".join(current))
    return [t for t in tags if t]


def combine_tags(*parts: str) -> tuple[str, ...]:
    out: list[str] = []
    for part in parts:
        out.extend(split_tags(part))
    return tuple(out)


def service_metadata(
    env: Sequence[str], labels: Mapping[str, str], port: str
) -> tuple[dict[str, str], set[str]]:
    """SERVICE_* settings for one exposed port: (lower-cased key → value, keys set per port).

    Labels come after env so they override it; a `SERVICE_<port>_<KEY>` for this port wins over
    `SERVICE_<KEY>` whatever the order; entries for other ports are ignored."""
    pairs: list[tuple[str, str]] = []
    for entry in env:
        if "=" in entry:
            key, value = entry.split("=", 1)
            pairs.append((key, value))
    pairs.extend(labels.items())
    metadata: dict[str, str] = {}
    from_port: set[str] = set()
    for raw_key, value in pairs:
        if not raw_key.startswith("SERVICE_"):
            continue
        key = raw_key[len("SERVICE_") :].lower()
        if key in from_port:
            continue
        head, sep, rest = key.partition("_")
        if sep and _PORT_NUMBER.match(head):
            if head != port:
                continue
            metadata[rest] = value
            from_port.add(rest)
        else:
            metadata[key] = value
    return metadata, from_port


def _meta(attrs: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    pairs = [
        (k, v)
        for k, v in sorted(attrs.items())
        if k not in CHECK_KEYS
        and k not in SERVICE_KEYS
        and _META_KEY.match(k)
        and not k.startswith("consul-")
        and len(v) <= META_MAX_VALUE
    ]
    return tuple(pairs[:META_MAX_PAIRS])


@dataclass(frozen=True)
class _Port:
    exposed: str
    proto: str
    host_port: str
    host_ip: str


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _port_key(key: str) -> tuple[str, str]:
    exposed, _, proto = key.partition("/")
    return exposed, proto or "tcp"


def _service_ports(container: Mapping[str, Any]) -> dict[str, _Port]:
    config = _dict(container.get("Config"))
    settings = _dict(container.get("NetworkSettings"))
    host_config = _dict(container.get("HostConfig"))
    network_mode = str(host_config.get("NetworkMode") or "")
    networks = _dict(settings.get("Networks"))

    def port(key: str, bindings: Any) -> _Port:
        host_port = host_ip = ""
        if isinstance(bindings, list) and bindings and isinstance(bindings[0], Mapping):
            host_port = str(bindings[0].get("HostPort") or "")
            host_ip = str(bindings[0].get("HostIp") or "")
        host_ip = host_ip or "0.0.0.0"
        # A user-defined network: the host IP is the container's address on that network.
        if network_mode not in ("bridge", "default", "host", ""):
            host_ip = str(_dict(networks.get(network_mode)).get("IPAddress") or "")
        exposed, proto = _port_key(key)
        return _Port(exposed, proto, host_port, host_ip)

    ports: dict[str, _Port] = {}
    for key in _dict(config.get("ExposedPorts")):
        ports[key] = port(key, [{"HostIp": "0.0.0.0", "HostPort": _port_key(key)[0]}])
    for key, bindings in _dict(settings.get("Ports")).items():
        ports[key] = port(key, bindings)
    return ports


def _container_ip(settings: Mapping[str, Any]) -> str:
    ip = str(settings.get("IPAddress") or "")
    if not ip:
        for network in _dict(settings.get("Networks")).values():
            ip = str(_dict(network).get("IPAddress") or "") or ip
    return ip


def network_container(container: Mapping[str, Any]) -> str | None:
    """The container whose network this one shares (`--net container:<id>`), if any."""
    mode = str(_dict(container.get("HostConfig")).get("NetworkMode") or "")
    if mode.startswith("container:"):
        return mode.split(":", 1)[1] or None
    return None


def container_services(
    container: Mapping[str, Any],
    config: MappingConfig,
    network_container_ip: str | None = None,
) -> list[ServiceRegistration]:
    """The services registrator would register for a running container, ordered by port.

    `network_container_ip` is the IP of the container named by `network_container()`, looked up
    by the caller (this function does no I/O)."""
    cfg = _dict(container.get("Config"))
    settings = _dict(container.get("NetworkSettings"))
    container_id = str(container.get("Id") or "")
    container_name = str(container.get("Name") or "").lstrip("/")
    env = [e for e in (cfg.get("Env") or []) if isinstance(e, str)]
    labels = {str(k): str(v) for k, v in _dict(cfg.get("Labels")).items()}
    if config.only_label is not None and labels.get(config.only_label[0]) != config.only_label[1]:
        return []
    default_name = image_basename(str(cfg.get("Image") or ""))
    exposed_ip = _container_ip(settings)

    ports = {
        key: p for key, p in _service_ports(container).items() if config.internal or p.host_port
    }
    is_group = len(ports) > 1
    services: list[ServiceRegistration] = []
    for p in ports.values():
        service = _service(
            p, is_group, config, env, labels, default_name, container_id, container_name,
            exposed_ip, network_container_ip,
        )
        if service is not None:
            services.append(service)
    services.sort(key=lambda s: (_int(s.exposed_port), s.id))
    return services


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return 0


def _service(
    p: _Port,
    is_group: bool,
    config: MappingConfig,
    env: list[str],
    labels: dict[str, str],
    default_name: str,
    container_id: str,
    container_name: str,
    exposed_ip: str,
    network_container_ip: str | None,
) -> ServiceRegistration | None:
    hostname = config.hostname or p.host_ip
    host_ip = p.host_ip
    if host_ip == "0.0.0.0" and config.hostname_ip:
        host_ip = config.hostname_ip
    if config.host_ip:
        host_ip = config.host_ip

    attrs, from_port = service_metadata(env, labels, p.exposed)
    if attrs.get("ignore"):
        return None
    name = attrs.get("name", "")
    if not name:
        if config.explicit:
            return None
        name = default_name
    if is_group and "name" not in from_port:
        name = f"{name}-{p.exposed}"

    if config.internal:
        address, port = exposed_ip, _int(p.exposed)
    else:
        address, port = host_ip, _int(p.host_port)
    if config.use_ip_from_label:
        from_label = labels.get(config.use_ip_from_label, "")
        if from_label:
            address = from_label.rsplit("/", 1)[0] if "/" in from_label else from_label
    if network_container_ip is not None:
        address = network_container_ip

    service_id = f"{hostname}:{container_name}:{p.exposed}"
    extra_tags = ("udp",) if p.proto == "udp" else ()
    if p.proto == "udp":
        service_id += ":udp"
    if attrs.get("id"):
        service_id = attrs["id"]
    tags = combine_tags(attrs.get("tags", ""), config.force_tags) + extra_tags
    return ServiceRegistration(
        id=service_id,
        name=name,
        address=address,
        port=port,
        tags=tags,
        meta=_meta(attrs),
        check=build_check(attrs, address, port, container_id, p.exposed, config.script_checks),
        container_id=container_id,
        container_name=container_name,
        exposed_port=p.exposed,
        script_check_skipped=script_check_refused(attrs, config.script_checks),
    )
