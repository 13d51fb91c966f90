"""Query-name parsing: a pure function from a name's labels to a typed lookup.

Rules (Consul's DNS interface):
- Names under `domain` or `alt_domain` (the longer match wins) are ours; the rest of the name is
  read right to left until a kind label: `service`, `connect`, `node`, `addr`, `query` (and
  `ingress`, `virtual`, which this agent does not serve: they are not found).
- `<svc>.connect[.<dc>]`: the service's Connect-capable endpoints (its sidecar proxies and
  Connect-native instances); no tag or RFC 2782 form, as in Consul.
- `<query name or ID>.query[.<dc>]`: a prepared query (dots allowed in the name).
- `[tag.]<svc>.service[.<dc>]`, RFC 2782 `_<svc>._<tag|tcp|udp>.service[.<dc>]`,
  `<node>.node[.<dc>]` (dots allowed in the node name), `<hex-ip>.addr[.<dc>]`.
  For SRV questions the `service` label may be left out: `_<svc>._tcp[.<dc>].consul`.
  The datacenter may also be written `<dc>.dc`. A datacenter other than ours is not found here
  (`NotFound.other_dc` names it; dns/remote.py answers it from that datacenter when known),
  except a query: `QueryLookup.datacenter` names it and dns/query_forward.py runs it there.
- The domain itself is the zone apex (SOA and NS live there).
- `*.in-addr.arpa` / `*.ip6.arpa` are reverse lookups; every other name is external (recursors).
Keywords and domains are compared lower-cased; service, tag and node names keep the asked case
(the resolver tries them as asked, then lower-cased).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

SRV_TYPE = 33
_KINDS = frozenset({"service", "connect", "ingress", "virtual", "node", "query", "addr"})
_PLAIN_PROTOCOLS = frozenset({"tcp", "udp"})
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class Zone:
    """The names this agent answers for, as lower-cased label tuples (longest first)."""

    domains: tuple[tuple[str, ...], ...]
    datacenter: str

    @classmethod
    def from_names(cls, domain: str, alt_domain: str, datacenter: str) -> Zone:
        doms = {split_name(d) for d in (domain, alt_domain) if d and d.strip(".")}
        if not doms:
            doms = {("consul",)}
        ordered = tuple(sorted(doms, key=len, reverse=True))
        return cls(ordered, datacenter.lower())


@dataclass(frozen=True)
class ServiceLookup:
    service: str
    tag: str
    datacenter: str
    domain: str  # the matched domain, as "consul."
    connect: bool = False  # `.connect`: the service's proxies and native instances


@dataclass(frozen=True)
class NodeLookup:
    node: str
    datacenter: str
    domain: str


@dataclass(frozen=True)
class QueryLookup:
    query: str  # a prepared query's name or ID, as asked
    datacenter: str
    domain: str


@dataclass(frozen=True)
class AddrLookup:
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    domain: str


@dataclass(frozen=True)
class ApexLookup:
    domain: str


@dataclass(frozen=True)
class NotFound:
    """Inside our domain but names nothing we serve: NXDOMAIN."""

    domain: str
    reason: str
    other_dc: str = ""  # set when the name is in another datacenter (answered from there, if known)


@dataclass(frozen=True)
class PtrLookup:
    """A reverse name; `ip` is None when the name is not a well-formed address."""

    ip: str | None


@dataclass(frozen=True)
class External:
    """Outside our zones: for the recursors."""


Lookup = ServiceLookup | NodeLookup | QueryLookup | AddrLookup | ApexLookup | NotFound | PtrLookup | External


def split_name(name: str) -> tuple[str, ...]:
    """'Web.Service.consul.' → ('web', 'service', 'consul')."""
    return tuple(part for part in name.lower().split(".") if part)


def parse_labels(labels: Sequence[str], qtype: int, zone: Zone) -> Lookup:
    """Classify a question name given as its labels (no empty root label)."""
    asked = tuple(labels)
    low = tuple(lbl.lower() for lbl in asked)
    for dom in zone.domains:
        n = len(dom)
        if len(low) >= n and low[len(low) - n :] == dom:
            cut = len(low) - n
            return _parse_in_domain(asked[:cut], low[:cut], qtype, zone, ".".join(dom) + ".")
    if len(low) >= 2 and low[-1] == "arpa":
        if low[-2] == "in-addr":
            return PtrLookup(_ipv4_from_reverse(low[:-2]))
        if low[-2] == "ip6":
            return PtrLookup(_ipv6_from_reverse(low[:-2]))
    return External()


def _parse_in_domain(
    asked: tuple[str, ...], labels: tuple[str, ...], qtype: int, zone: Zone, domain: str
) -> Lookup:
    if not labels:
        return ApexLookup(domain)
    kind = ""
    parts: tuple[str, ...] = ()
    suffix: tuple[str, ...] = ()
    for i in range(len(labels) - 1, -1, -1):
        if labels[i] in _KINDS:
            kind, parts, suffix = labels[i], asked[:i], labels[i + 1 :]
            break
        if qtype == SRV_TYPE and labels[i].startswith("_"):
            # RFC 2782 names may leave out the "service" label.
            kind, parts, suffix = "service", asked[: i + 1], labels[i + 1 :]
            break
    if not kind:
        return NotFound(domain, "no lookup kind in name")
    if kind not in ("service", "connect", "node", "addr", "query"):
        return NotFound(domain, f"{kind} lookups are not served")
    if not parts:
        return NotFound(domain, f"empty {kind} name")
    dc = _datacenter(suffix, zone.datacenter)
    if dc is None:
        return NotFound(domain, "bad datacenter labels")
    if kind == "addr":
        ip = _ip_from_hex(tuple(p.lower() for p in parts))
        return NotFound(domain, "bad addr label") if ip is None else AddrLookup(ip, domain)
    if kind == "query":  # another datacenter's query runs there (dns/query_forward.py)
        return QueryLookup(".".join(parts), dc, domain)
    if dc != zone.datacenter:
        return NotFound(domain, f"no path to datacenter {dc}", dc)
    if kind == "node":
        return NodeLookup(".".join(parts), dc, domain)
    if kind == "connect":
        if len(parts) != 1:
            return NotFound(domain, "connect lookups take one service label")
        return ServiceLookup(parts[0], "", dc, domain, connect=True)
    if len(parts) == 2 and parts[0].startswith("_") and parts[1].startswith("_"):
        tag = parts[1][1:]
        service = parts[0][1:]
        if tag.lower() in _PLAIN_PROTOCOLS:
            tag = ""
    else:
        tag = ".".join(parts[:-1])
        service = parts[-1]
    if not service:
        return NotFound(domain, "empty service name")
    return ServiceLookup(service, tag, dc, domain)


def _datacenter(suffix: tuple[str, ...], default: str) -> str | None:
    if not suffix:
        return default
    if len(suffix) == 1:
        return suffix[0]
    if len(suffix) == 2 and suffix[1] == "dc":
        return suffix[0]
    return None


def _ip_from_hex(parts: tuple[str, ...]) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if len(parts) != 1 or not set(parts[0]) <= _HEX:
        return None
    raw = bytes.fromhex(parts[0]) if len(parts[0]) % 2 == 0 else b""
    if len(raw) == 4:
        return ipaddress.IPv4Address(raw)
    if len(raw) == 16:
        return ipaddress.IPv6Address(raw)
    return None


def _ipv4_from_reverse(parts: tuple[str, ...]) -> str | None:
    if len(parts) != 4 or not all(p.isdigit() and p.isascii() and len(p) <= 3 for p in parts):
        return None
    octets = [int(p) for p in reversed(parts)]
    if any(o > 255 for o in octets):
        return None
    return ".".join(map(str, octets))


def _ipv6_from_reverse(parts: tuple[str, ...]) -> str | None:
    if len(parts) != 32 or not all(len(p) == 1 and p in _HEX for p in parts):
        return None
    return str(ipaddress.IPv6Address(bytes.fromhex("".join(reversed(parts)))))
