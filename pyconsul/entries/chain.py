"""The discovery chain compiler: a service's resolver/router/splitter entries into Consul's graph (pure).

`compile_chain(request, entries)` returns Consul's `CompiledDiscoveryChain` JSON. The rules:
- Protocol: the override, else the service's service-defaults `Protocol`, else proxy-defaults
  `Config.protocol`, else "tcp". Routers and splitters need an L7 protocol (http, http2, grpc);
  on a "tcp" chain their presence is Consul's graph error (`ChainError`).
- L7 chains start at the service's router when it has one (its routes, then Consul's catch-all
  `PathPrefix "/"` route to the service itself), else at its splitter, else at its resolver.
  A split or route to a service with its own splitter follows that splitter, with weights
  multiplied (Consul flattens nested splitters).
- Resolvers: a service's service-resolver or the default one (Default true, ConnectTimeout 5s).
  `DefaultSubset` applies to a target without a subset; `Redirect` replaces the target (a cycle is
  an error); `Failover` (per subset or `*`) lists fallback targets.
- Targets are named `[subset.]service.namespace.partition.datacenter`; their SNI
  `[subset.]service.namespace.datacenter.internal.<trust domain>`.
- The chain is `Default` when no entry shaped it; overrides set `CustomizationHash`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyconsul.entries.kinds import (
    PROTOCOLS_L7,
    PROXY_CONFIG_GLOBAL,
    PROXY_DEFAULTS,
    SERVICE_DEFAULTS,
    SERVICE_RESOLVER,
    SERVICE_ROUTER,
    SERVICE_SPLITTER,
    go_seconds,
)
from pyconsul.gocompat.durations import parse_duration

Row = dict[str, Any]
Lookup = Callable[[str, str], Row | None]  # (kind, name) -> the stored entry or None

DEFAULT_CONNECT_TIMEOUT = "5s"
NS = PARTITION = "default"


class ChainError(ValueError):
    """Consul's ConfigEntryGraphError: the entries do not make a usable chain."""


@dataclass(frozen=True)
class ChainRequest:
    service: str
    datacenter: str
    trust_domain: str
    override_protocol: str = ""
    override_connect_timeout: str = ""
    override_mesh_gateway: Row = field(default_factory=dict)


def protocol_of(service: str, lookup: Lookup) -> str:
    defaults = lookup(SERVICE_DEFAULTS, service) or {}
    if defaults.get("Protocol"):
        return str(defaults["Protocol"])
    proxy = lookup(PROXY_DEFAULTS, PROXY_CONFIG_GLOBAL) or {}
    return str((proxy.get("Config") or {}).get("protocol") or "tcp").lower()


def target_id(service: str, subset: str, dc: str) -> str:
    return ".".join(p for p in (subset, service, NS, PARTITION, dc) if p)


def target_sni(service: str, subset: str, dc: str, trust_domain: str) -> str:
    return ".".join(p for p in (subset, service, NS, dc, "internal", trust_domain) if p)


class _Compiler:
    def __init__(self, req: ChainRequest, lookup: Lookup) -> None:
        self.req = req
        self.lookup = lookup
        self.nodes: Row = {}
        self.targets: Row = {}
        self.used_entry = False
        self.protocol = req.override_protocol or protocol_of(req.service, lookup)

    # -- targets and resolvers -------------------------------------------------------------------
    def resolver_for(self, service: str) -> Row | None:
        entry = self.lookup(SERVICE_RESOLVER, service)
        if entry is not None:
            self.used_entry = True
        return entry

    def resolve(self, service: str, subset: str, dc: str, seen: frozenset[str] = frozenset()) -> tuple[str, str, str]:
        """Follow redirects and DefaultSubset to the target a (service, subset, dc) lands on."""
        key = target_id(service, subset, dc)
        if key in seen:
            raise ChainError(f"detected circular resolver redirect: [{' -> '.join([*seen, key])}]")
        res = self.resolver_for(service) or {}
        redirect = res.get("Redirect")
        if redirect:
            return self.resolve(redirect.get("Service") or service, redirect.get("ServiceSubset") or "",
                                redirect.get("Datacenter") or dc, seen | {key})
        if not subset and res.get("DefaultSubset"):
            subset = res["DefaultSubset"]
        if subset and subset not in (res.get("Subsets") or {}):
            raise ChainError(f'service "{service}" does not have a subset named "{subset}"')
        return service, subset, dc

    def add_target(self, service: str, subset: str, dc: str, timeout: str) -> str:
        tid = target_id(service, subset, dc)
        if tid not in self.targets:
            res = self.lookup(SERVICE_RESOLVER, service) or {}
            sub = (res.get("Subsets") or {}).get(subset, {}) if subset else {}
            sni = target_sni(service, subset, dc, self.req.trust_domain)
            row: Row = {"ID": tid, "Service": service}
            if subset:
                row["ServiceSubset"] = subset
            row.update({"Namespace": NS, "Partition": PARTITION, "Datacenter": dc,
                        "MeshGateway": dict(self.req.override_mesh_gateway),
                        "Subset": {k: v for k, v in sub.items() if k in ("Filter", "OnlyPassing") and v},
                        "ConnectTimeout": timeout, "SNI": sni, "Name": sni})
            self.targets[tid] = row
        return tid

    def resolver_node(self, service: str, subset: str = "", dc: str = "") -> str:
        service, subset, dc = self.resolve(service, subset, dc or self.req.datacenter)
        res = self.resolver_for(service)
        timeout = self.req.override_connect_timeout or (res or {}).get("ConnectTimeout") or DEFAULT_CONNECT_TIMEOUT
        timeout = go_seconds(parse_duration(timeout))
        tid = self.add_target(service, subset, dc, timeout)
        name = "resolver:" + tid
        if name not in self.nodes:
            body: Row = {"ConnectTimeout": timeout, "Default": res is None, "Target": tid}
            if res and res.get("RequestTimeout"):
                body["RequestTimeout"] = res["RequestTimeout"]
            failover = (res or {}).get("Failover") or {}
            fo = failover.get(subset) or failover.get("*")
            if fo:
                body["Failover"] = {"Targets": self.failover_targets(service, subset, dc, fo, timeout)}
            self.nodes[name] = {"Type": "resolver", "Name": tid, "Resolver": body}
        return name

    def failover_targets(self, service: str, subset: str, dc: str, fo: Row, timeout: str) -> list[str]:
        out: list[str] = []
        if fo.get("Targets"):
            wanted = [(t.get("Service") or service, t.get("ServiceSubset") or "", t.get("Datacenter") or dc)
                      for t in fo["Targets"]]
        else:
            fo_service = fo.get("Service") or service
            fo_subset = fo.get("ServiceSubset") or ("" if fo.get("Service") else subset)
            wanted = [(fo_service, fo_subset, d) for d in (fo.get("Datacenters") or [dc])]
        for svc, sub, d in wanted:
            tid = self.add_target(svc, sub, d, timeout)
            if tid != target_id(service, subset, dc) and tid not in out:
                out.append(tid)
        return out

    # -- splitters and routers -------------------------------------------------------------------
    def splitter_entry(self, service: str) -> Row | None:
        if self.protocol not in PROTOCOLS_L7:
            return None
        entry = self.lookup(SERVICE_SPLITTER, service)
        if entry is not None:
            self.used_entry = True
        return entry

    def splits_of(self, service: str, weight: float, seen: frozenset[str]) -> list[Row]:
        entry = self.splitter_entry(service)
        if entry is None or service in seen:
            return [{"Weight": weight, "NextNode": self.resolver_node(service)}]
        out: list[Row] = []
        for split in entry["Splits"]:
            w = weight * float(split.get("Weight") or 0) / 100
            dest = split.get("Service") or service
            if split.get("ServiceSubset") or dest == service:
                out.append({"Weight": w, "NextNode": self.resolver_node(dest, split.get("ServiceSubset") or "")})
            else:
                out.extend(self.splits_of(dest, w, seen | {service}))
        return out

    def next_for(self, service: str, subset: str = "") -> str:
        """The node a route (or the start) hands a (service, subset) to: its splitter or resolver."""
        if not subset and self.splitter_entry(service) is not None:
            name = f"splitter:{service}.{NS}.{PARTITION}"
            if name not in self.nodes:
                splits = [{"Weight": _weight(s["Weight"]), "NextNode": s["NextNode"]}
                          for s in self.splits_of(service, 100.0, frozenset())]
                self.nodes[name] = {"Type": "splitter", "Name": f"{service}.{NS}.{PARTITION}", "Splits": splits}
            return name
        return self.resolver_node(service, subset)

    def compile(self) -> Row:
        req = self.req
        for kind in (SERVICE_ROUTER, SERVICE_SPLITTER):
            if self.protocol not in PROTOCOLS_L7 and self.lookup(kind, req.service) is not None:
                raise ChainError(f'discovery chain "{req.service}" uses a protocol "{self.protocol}" that does '
                                 "not permit advanced routing or splitting behavior")
        router = self.lookup(SERVICE_ROUTER, req.service) if self.protocol in PROTOCOLS_L7 else None
        if router is not None:
            self.used_entry = True
            routes = []
            for route in router.get("Routes") or []:
                dest = route.get("Destination") or {}
                nxt = self.next_for(dest.get("Service") or req.service, dest.get("ServiceSubset") or "")
                routes.append({"Definition": route, "NextNode": nxt})
            catch_all = {"Match": {"HTTP": {"PathPrefix": "/"}}, "Destination": {"Service": req.service}}
            routes.append({"Definition": catch_all, "NextNode": self.next_for(req.service)})
            start = f"router:{req.service}.{NS}.{PARTITION}"
            self.nodes = {start: {"Type": "router", "Name": f"{req.service}.{NS}.{PARTITION}", "Routes": routes},
                          **self.nodes}
        else:
            start = self.next_for(req.service)
        defaults = self.lookup(SERVICE_DEFAULTS, req.service) or {}
        chain: Row = {"ServiceName": req.service, "Namespace": NS, "Partition": PARTITION,
                      "Datacenter": req.datacenter}
        overrides = {k: v for k, v in (("OverrideProtocol", req.override_protocol),
                                       ("OverrideConnectTimeout", req.override_connect_timeout),
                                       ("OverrideMeshGateway", req.override_mesh_gateway)) if v}
        if overrides:
            chain["CustomizationHash"] = hashlib.sha256(json.dumps(overrides, sort_keys=True).encode()).hexdigest()[:8]
        chain.update({"Default": not self.used_entry, "Protocol": self.protocol,
                      "ServiceMeta": dict(defaults.get("Meta") or {}), "StartNode": start,
                      "Nodes": self.nodes, "Targets": self.targets})
        return chain


def _weight(w: float) -> float | int:
    return int(w) if float(w).is_integer() else round(w, 2)


def compile_chain(req: ChainRequest, lookup: Lookup) -> Row:
    """Consul's compiled discovery chain for `req.service`, or ChainError."""
    return _Compiler(req, lookup).compile()
