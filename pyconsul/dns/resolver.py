"""Resolution: a pure function of (question, catalog reader, config, rng) to an Answer.

No sockets and no clock: the SOA serial is the catalog index, shuffling uses the given rng.
Rules a caller can rely on (Consul's behaviour unless noted):
- Service lookups return only healthy instances: an instance with any critical (or maintenance)
  check is dropped, and with `only_passing` one with any non-passing check too. No healthy instance:
  NXDOMAIN. Instances are shuffled; the answer is marked rotatable when it lists several.
- A/AAAA/ANY answers use the service address, else the node address (IPs only; a hostname gives a
  CNAME when no IP answer exists); duplicates are dropped.
- SRV targets are `<node>.node.<dc>.<domain>` (node address) or `<hex>.addr.<dc>.<domain>` (service
  address), with the address record (and node meta TXT) in the additional section.
- NXDOMAIN and NODATA carry the zone's SOA in the authority section (RFC 2308).
- TTLs: node_ttl for node, addr, NS records; service_ttl by exact name, longest `prefix*`, `*`.
- `<name>.connect.consul` answers like a service lookup from the service's Connect-capable
  instances (sidecar proxies at their own address and port, Connect-native instances).
- `<name>.query.consul` answers like a service lookup from the prepared query's execute result
  (its own health, tag and Near rules, in its order: sorted by distance, the answer is not
  rotated); its DNS TTL wins over service_ttl. No such
  query, a template that fails to render, or no `queries` given (a client agent): NXDOMAIN.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pyconsul.config.runtime import RuntimeConfig
from pyconsul.dns import records as r
from pyconsul.dns.parser import (
    AddrLookup,
    ApexLookup,
    External,
    NodeLookup,
    NotFound,
    PtrLookup,
    QueryLookup,
    ServiceLookup,
    Zone,
    parse_labels,
    split_name,
)
from pyconsul.dns.reader import CATALOG_TABLES, CatalogReader, PreparedQueries, Row
from pyconsul.gocompat.durations import parse_duration

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
Answer = r.Answer
CONSUL_SERVICE = "consul"
MAX_NAMESERVERS = 3


@dataclass(frozen=True)
class Question:
    name: str  # as asked, with the trailing dot
    labels: tuple[str, ...]
    qtype: int


def question_from_name(name: str, qtype: int) -> Question:
    labels = tuple(p for p in name.split(".") if p)
    return Question(".".join(labels) + ".", labels, qtype)


def zone_for(config: RuntimeConfig) -> Zone:
    return Zone.from_names(config.domain, config.alt_domain, config.datacenter)


def primary_domain(config: RuntimeConfig) -> str:
    """The configured `domain` as "consul." (reverse answers always name it, as Consul does)."""
    return ".".join(split_name(config.domain) or ("consul",)) + "."


def resolve(
    q: Question, reader: CatalogReader, config: RuntimeConfig, rng: random.Random,
    memo: dict[str, Any] | None = None, queries: PreparedQueries | None = None,
) -> Answer:
    """Answer `q` from the catalog. `memo` may carry derived tables (the reverse-address map)
    between calls; the caller must empty it whenever the catalog index changes."""
    lookup = parse_labels(q.labels, q.qtype, zone_for(config))
    ctx = _Ctx(q, reader, config, rng, {} if memo is None else memo, queries)
    if isinstance(lookup, External):
        return r.Answer(forward=True, authoritative=False)
    if isinstance(lookup, PtrLookup):
        return ctx.ptr(lookup)
    if q.qtype in (r.T_AXFR, r.T_IXFR):
        return r.Answer(rcode=r.NOTIMP)
    if isinstance(lookup, NotFound):
        return ctx.nxdomain(lookup.domain)
    if isinstance(lookup, ApexLookup):
        return ctx.apex(lookup)
    if isinstance(lookup, ServiceLookup):
        return ctx.service(lookup)
    if isinstance(lookup, NodeLookup):
        return ctx.node(lookup)
    if isinstance(lookup, QueryLookup):
        return ctx.query(lookup)
    return ctx.addr(lookup)


def healthy(entry: Row, only_passing: bool) -> bool:
    for chk in entry.get("Checks") or ():
        status = chk.get("Status")
        if status in ("critical", "maintenance") or (only_passing and status != "passing"):
            return False
    return True


def weight_of(entry: Row) -> int:
    weights = entry["Service"].get("Weights") or {}
    if any(c.get("Status") == "warning" for c in entry.get("Checks") or ()):
        return int(weights.get("Warning", 1))
    return int(weights.get("Passing", 1))


def service_ttl(ttls: dict[str, float], service: str) -> int:
    if service in ttls:
        return int(ttls[service])
    best: tuple[int, float] | None = None
    for key, ttl in ttls.items():
        if key.endswith("*") and service.startswith(key[:-1]):
            if best is None or len(key) > best[0]:
                best = (len(key), ttl)
    return int(best[1]) if best else 0


def parse_ip(text: str | None) -> IP | None:
    if not text:
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def fqdn(name: str) -> str:
    return name if name.endswith(".") else name + "."


def _wants(qtype: int, ip: IP) -> bool:
    if qtype == r.T_ANY:
        return True
    return qtype == (r.T_A if ip.version == 4 else r.T_AAAA)


def meta_text(key: str, value: str) -> str:
    """RFC 1464 `key=value` (a `rfc1035-` key gives the bare value), as Consul writes node meta."""
    if key.lower().startswith("rfc1035-"):
        return value
    k = key.replace("`", "``").replace("=", "`=")
    stripped = k.lstrip(" ")
    k = "` " * (len(k) - len(stripped)) + stripped
    stripped = k.rstrip(" ")
    k = stripped + "` " * (len(k) - len(stripped))
    return k + "=" + value.replace("`", "``")


class _Ctx:
    def __init__(
        self, q: Question, reader: CatalogReader, config: RuntimeConfig, rng: random.Random, memo: dict[str, Any],
        queries: PreparedQueries | None = None,
    ) -> None:
        self.q = q
        self.queries = queries
        self.memo = memo
        self.reader = reader
        self.config = config
        self.dns = config.dns_config
        self.rng = rng
        self.node_ttl = int(self.dns.node_ttl)

    # -- shared pieces ---------------------------------------------------------------------------
    def soa(self, domain: str) -> Any:
        d = self.dns
        serial = self.reader.max_index(*CATALOG_TABLES)
        return r.rr_soa(domain, serial, d.soa_refresh, d.soa_retry, d.soa_expire, d.soa_min_ttl)

    def nxdomain(self, domain: str) -> r.Answer:
        return r.Answer(rcode=r.NXDOMAIN, authority=[self.soa(domain)])

    def nodata(self, domain: str, additional: Sequence[Any] = ()) -> r.Answer:
        return r.Answer(authority=[self.soa(domain)], additional=list(additional))

    def finish(self, domain: str, answers: list[Any], groups: list[list[Any]] | None = None,
               rotate: bool = False, a_limited: bool = False) -> r.Answer:
        if not answers:
            return self.nodata(domain)
        return r.Answer(answer=answers, groups=groups, rotate=rotate and len(answers) > 1, a_limited=a_limited)

    def node_fqdn(self, node: str, dc: str, domain: str) -> str:
        return f"{node}.node.{dc}.{domain}"

    def node_meta(self, name: str, node: Row, ttl: int) -> list[Any]:
        meta = node.get("Meta") or {}
        return [r.rr_txt(name, meta_text(k, str(v)), ttl) for k, v in sorted(meta.items())]

    def find_node(self, name: str) -> Row | None:
        _, row = self.reader.get_node(None, name)
        if row is None and name.lower() != name:
            _, row = self.reader.get_node(None, name.lower())
        return row

    # -- the zone apex ---------------------------------------------------------------------------
    def nameservers(self, domain: str) -> tuple[list[Any], list[list[Any]]]:
        """NS records for the zone (up to three healthy servers: the `consul` service), each with
        its glue records."""
        ns: list[Any] = []
        glue: list[list[Any]] = []
        _, entries = self.reader.check_service_nodes(None, CONSUL_SERVICE)
        nodes = [e["Node"] for e in entries if healthy(e, False)]
        self.rng.shuffle(nodes)
        seen: set[str] = set()
        for node in nodes:
            ip = parse_ip(node.get("Address"))
            if ip is None or node["Node"] in seen:
                continue
            seen.add(node["Node"])
            target = self.node_fqdn(node["Node"], node.get("Datacenter") or self.config.datacenter, domain)
            ns.append(r.rr_ns(domain, target.lower(), self.node_ttl))
            glue.append([r.rr_address(target.lower(), ip, self.node_ttl)])
            if len(ns) >= MAX_NAMESERVERS:
                break
        if not ns:
            # No server registered in the catalog yet: this agent answers for the zone itself.
            target = self.node_fqdn(self.config.node_name or "ns", self.config.datacenter, domain).lower()
            ns.append(r.rr_ns(domain, target, self.node_ttl))
            ip = parse_ip(self.config.advertise())
            glue.append([r.rr_address(target, ip, self.node_ttl)] if ip is not None else [])
        return ns, glue

    def apex(self, lookup: ApexLookup) -> r.Answer:
        qtype, domain = self.q.qtype, lookup.domain
        if qtype == r.T_SOA:
            ns, glue = self.nameservers(domain)
            return r.Answer(answer=[self.soa(domain)], authority=ns, additional=[rr for g in glue for rr in g])
        if qtype == r.T_NS:
            ns, glue = self.nameservers(domain)
            return r.Answer(answer=ns, groups=glue)
        if qtype == r.T_ANY:
            ns, glue = self.nameservers(domain)
            return r.Answer(answer=[self.soa(domain), *ns], groups=[[], *glue])
        return self.nodata(domain)

    # -- services --------------------------------------------------------------------------------
    def service_entries(self, lookup: ServiceLookup) -> list[Row]:
        read = self.reader.check_connect_service_nodes if lookup.connect else self.reader.check_service_nodes
        _, entries = read(None, lookup.service)
        if not entries and lookup.service.lower() != lookup.service:
            _, entries = read(None, lookup.service.lower())
        tag = lookup.tag.lower()
        out = []
        for e in entries:
            if tag and tag not in (t.lower() for t in e["Service"].get("Tags") or ()):
                continue
            if healthy(e, self.dns.only_passing):
                out.append(e)
        return out

    def service(self, lookup: ServiceLookup) -> r.Answer:
        entries = self.service_entries(lookup)
        if not entries:
            return self.nxdomain(lookup.domain)
        self.rng.shuffle(entries)
        ttl = service_ttl(self.dns.service_ttl, lookup.service)
        if self.q.qtype == r.T_SRV:
            return self.service_srv(lookup, entries, ttl)
        if self.q.qtype in (r.T_A, r.T_AAAA, r.T_ANY):
            return self.service_addresses(lookup, entries, ttl)
        return self.nodata(lookup.domain)

    def service_addresses(self, lookup: ServiceLookup, entries: list[Row], ttl: int) -> r.Answer:
        qname, qtype = self.q.name, self.q.qtype
        answers: list[Any] = []
        seen: set[IP] = set()
        first_cname: Any = None
        for e in entries:
            svc_addr = e["Service"].get("Address") or ""
            node_addr = e["Node"].get("Address") or ""
            addr = svc_addr or node_addr
            ip = parse_ip(addr)
            if ip is None and svc_addr and fqdn(svc_addr).lower() == qname.lower():
                ip = parse_ip(node_addr)  # the service address names this very service
            if ip is None:
                if addr and first_cname is None:
                    first_cname = r.rr_cname(qname, fqdn(addr), ttl)
                continue
            if ip in seen or not _wants(qtype, ip):
                continue
            seen.add(ip)
            answers.append(r.rr_address(qname, ip, ttl))
        if not answers and first_cname is not None:
            return r.Answer(answer=[first_cname])
        return self.finish(lookup.domain, answers, rotate=True, a_limited=True)

    def service_srv(self, lookup: ServiceLookup, entries: list[Row], ttl: int) -> r.Answer:
        qname = self.q.name
        answers: list[Any] = []
        groups: list[list[Any]] = []
        # One set of additional records per target, shared by every SRV naming it.
        extras_by_target: dict[str, list[Any]] = {}
        handled: set[tuple[str, str, int]] = set()
        for e in entries:
            node, svc = e["Node"], e["Service"]
            svc_addr = svc.get("Address") or ""
            port = int(svc.get("Port") or 0)
            key = (node["Node"], svc_addr, port)
            if key in handled:
                continue
            handled.add(key)
            node_ip = parse_ip(node.get("Address"))
            svc_ip = parse_ip(svc_addr)
            dc = node.get("Datacenter") or lookup.datacenter
            extras: list[Any] = []
            if svc_ip is not None:
                target = f"{svc_ip.packed.hex()}.addr.{dc}.{lookup.domain}"
                extras.append(r.rr_address(target, svc_ip, ttl))
            elif (not svc_addr or fqdn(svc_addr).lower() == qname.lower()) and node_ip is not None:
                target = self.node_fqdn(node["Node"], dc, lookup.domain)
                extras.append(r.rr_address(target, node_ip, ttl))
                extras.extend(self.node_meta(target, node, ttl))
            else:
                target = fqdn(svc_addr or node.get("Address") or node["Node"])
            answers.append(r.rr_srv(qname, 1, weight_of(e), port, target, ttl))
            groups.append(extras_by_target.setdefault(target.lower(), extras))
        return self.finish(lookup.domain, answers, groups, rotate=True)

    def query(self, lookup: QueryLookup) -> r.Answer:
        answer = None
        if self.queries is not None and lookup.datacenter == self.config.datacenter:
            try:
                answer = self.queries.run_sorted(lookup.query, self.rng)
            except ValueError:  # a template that does not render
                answer = None
        if answer is None or not answer[0]["Nodes"]:
            return self.nxdomain(lookup.domain)
        result, by_distance = answer
        as_service = ServiceLookup(result["Service"], "", lookup.datacenter, lookup.domain)
        ttl_text = (result.get("DNS") or {}).get("TTL") or ""
        ttl = service_ttl(self.dns.service_ttl, result["Service"])
        if ttl_text:
            try:
                ttl = int(parse_duration(ttl_text))
            except ValueError:
                pass
        entries = list(result["Nodes"])
        if self.q.qtype == r.T_SRV:
            out = self.service_srv(as_service, entries, ttl)
        elif self.q.qtype in (r.T_A, r.T_AAAA, r.T_ANY):
            out = self.service_addresses(as_service, entries, ttl)
        else:
            return self.nodata(lookup.domain)
        if by_distance:
            out.rotate = False  # nearest first, every time
            out.by_distance = True
        return out

    # -- nodes and addresses ---------------------------------------------------------------------
    def node(self, lookup: NodeLookup) -> r.Answer:
        row = self.find_node(lookup.node)
        if row is None:
            return self.nxdomain(lookup.domain)
        qname, qtype = self.q.name, self.q.qtype
        if qtype not in (r.T_A, r.T_AAAA, r.T_ANY, r.T_TXT):
            return self.nodata(lookup.domain)
        answers: list[Any] = []
        if qtype != r.T_TXT:
            addr = row.get("Address") or ""
            ip = parse_ip(addr)
            if ip is None and addr:
                answers.append(r.rr_cname(qname, fqdn(addr), self.node_ttl))
            elif ip is not None and _wants(qtype, ip):
                answers.append(r.rr_address(qname, ip, self.node_ttl))
        meta = self.node_meta(qname, row, self.node_ttl)
        if qtype in (r.T_TXT, r.T_ANY):
            return self.finish(lookup.domain, answers + meta)
        if not answers:
            return self.nodata(lookup.domain)
        return r.Answer(answer=answers, additional=meta)

    def addr(self, lookup: AddrLookup) -> r.Answer:
        if not _wants(self.q.qtype, lookup.ip):
            return self.nodata(lookup.domain)
        return r.Answer(answer=[r.rr_address(self.q.name, lookup.ip, self.node_ttl)])

    # -- reverse lookups -------------------------------------------------------------------------
    def ptr(self, lookup: PtrLookup) -> r.Answer:
        dom = primary_domain(self.config)
        target = self.ptr_target(lookup.ip, dom) if lookup.ip else None
        if target is None:
            if self.config.recursors:
                return r.Answer(forward=True, authoritative=False)
            return self.nxdomain(dom)
        if self.q.qtype not in (r.T_PTR, r.T_ANY):
            return self.nodata(dom)
        return r.Answer(answer=[r.rr_ptr(self.q.name, target, 0)])

    def ptr_target(self, ip_text: str, domain: str) -> str | None:
        """Node addresses first, then service addresses; the first match wins (Consul's order)."""
        key = "reverse:" + domain
        table = self.memo.get(key)
        if table is None:
            table = self.memo[key] = self.reverse_table(domain)
        return table.get(parse_ip(ip_text))

    def reverse_table(self, domain: str) -> dict[IP, str]:
        # One pass over the catalog per index, so a stream of PTR misses costs a dict lookup each.
        table: dict[IP, str] = {}
        _, nodes = self.reader.nodes(None)
        for node in nodes:
            ip = parse_ip(node.get("Address"))
            if ip is not None and ip not in table:
                table[ip] = self.node_fqdn(node["Node"], node.get("Datacenter") or self.config.datacenter, domain)
        services: dict[IP, str] = {}
        for node in nodes:
            _, rows = self.reader.node_services(None, node["Node"])
            dc = node.get("Datacenter") or self.config.datacenter
            for svc in rows:
                ip = parse_ip(svc.get("Address"))
                if ip is not None and ip not in services:
                    services[ip] = f"{svc['Service']}.service.{dc}.{domain}"
        for ip, target in services.items():
            table.setdefault(ip, target)
        return table
