"""One type per dependency, each with a string identity used to share one view among templates.

A dependency is pure: it says which HTTP request fetches it (`request`) and how to turn the JSON
answer into template values (`decode`). Identities follow consul-template's (`health.service(
web|passing)`, `kv.block(key)`, `catalog.services`…) so logs read the same.
"""

from __future__ import annotations

import base64
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pytemplate import model
from pytemplate.consul_json import aggregated_status, catalog_node, health_check

_W = r"\w"  # Go's [[:word:]]
_TAG = rf"((?P<tag>[{_W}=:\.\-]+)\.)?"
_NAME = rf"(?P<name>[{_W}\-]+)"
_DC = rf"(@(?P<dc>[{_W}\.\-]+))?"
_NEAR = rf"(~(?P<near>[{_W}\.\-]+))?"
_FILTER = rf"(\|(?P<filter>[{_W},\s]+))?"
_KEY = r"/?(?P<key>[^@\?]+)"
_PREFIX = r"/?(?P<prefix>[^@\?]*)"
_NODE = rf"(?P<name>[{_W}\.\-]+)"

HEALTH_SERVICE_RE = re.compile(rf"\A{_TAG}{_NAME}{_DC}{_NEAR}{_FILTER}\Z")
CATALOG_SERVICE_RE = re.compile(rf"\A{_TAG}{_NAME}{_DC}{_NEAR}\Z")
KV_RE = re.compile(rf"\A{_KEY}{_DC}\Z")
PREFIX_RE = re.compile(rf"\A{_PREFIX}{_DC}\Z")
NODE_RE = re.compile(rf"\A({_NODE})?{_DC}\Z")
DC_NEAR_RE = re.compile(rf"\A{_DC}{_NEAR}\Z")

HEALTH_STATES = ("any", "passing", "warning", "critical", "maintenance")


class DependencyError(ValueError):
    """A malformed dependency string in a template (`service "bad name!"`)."""


@dataclass(frozen=True)
class Request:
    path: str
    params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Dependency:
    """Base: `key` is the identity; equal keys mean the same data."""

    key: str = field(init=False, default="")
    blocking: ClassVar[bool] = True
    block_on_nil: ClassVar[bool] = False
    needs_node_name: ClassVar[bool] = False
    is_file: ClassVar[bool] = False

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Dependency) and other.key == self.key

    def __str__(self) -> str:
        return self.key

    def request(self, node_name: str = "") -> Request:
        raise NotImplementedError

    def decode(self, status: int, body: Any) -> Any:
        raise NotImplementedError


def _set_key(dep: Dependency, key: str) -> None:
    object.__setattr__(dep, "key", key)


def _dc_params(dc: str) -> list[tuple[str, str]]:
    return [("dc", dc)] if dc else []


def _sorted_tags(tags: Any) -> list[str]:
    return sorted(str(t) for t in (tags or []))


@dataclass(frozen=True, eq=False)
class HealthServiceQuery(Dependency):
    """`service "tag.name@dc~near" "filter,..."`: instances whose aggregated status passes."""

    name: str = ""
    tag: str = ""
    dc: str = ""
    near: str = ""
    filters: tuple[str, ...] = ("passing",)

    def __post_init__(self) -> None:
        s = (self.tag + "." if self.tag else "") + self.name
        s += f"@{self.dc}" if self.dc else ""
        s += f"~{self.near}" if self.near else ""
        s += "|" + ",".join(self.filters) if self.filters else ""
        _set_key(self, f"health.service({s})")

    @classmethod
    def parse(cls, text: str) -> HealthServiceQuery:
        m = HEALTH_SERVICE_RE.match(text)
        if not m:
            raise DependencyError(f"health.service: invalid format: {text!r}")
        filters: list[str] = []
        for f in (m.group("filter") or "").split(","):
            f = f.strip()
            if not f:
                continue
            if f not in HEALTH_STATES:
                raise DependencyError(f"health.service: invalid filter: {f!r} in {text!r}")
            filters.append(f)
        return cls(name=m.group("name"), tag=m.group("tag") or "", dc=m.group("dc") or "",
                   near=m.group("near") or "", filters=tuple(sorted(filters)) or ("passing",))

    def request(self, node_name: str = "") -> Request:
        params = _dc_params(self.dc)
        if self.tag:
            params.append(("tag", self.tag))
        if self.near:
            params.append(("near", self.near))
        if self.filters == ("passing",):
            params.append(("passing", "1"))
        return Request("/v1/health/service/" + urllib.parse.quote(self.name), tuple(params))

    def decode(self, status: int, body: Any) -> list[model.HealthService]:
        out: list[model.HealthService] = []
        for entry in body or []:
            checks = list(entry.get("Checks") or [])
            state = aggregated_status(checks)
            if "any" not in self.filters and state not in self.filters:
                continue
            node = entry.get("Node") or {}
            svc = entry.get("Service") or {}
            weights = svc.get("Weights") or {}
            out.append(model.HealthService(
                Node=node.get("Node", "") or "", NodeID=node.get("ID", "") or "",
                NodeAddress=node.get("Address", "") or "", NodeDatacenter=node.get("Datacenter", "") or "",
                NodeTaggedAddresses=dict(node.get("TaggedAddresses") or {}),
                NodeMeta=dict(node.get("Meta") or {}), ServiceMeta=dict(svc.get("Meta") or {}),
                Address=svc.get("Address") or node.get("Address", "") or "",
                ServiceTaggedAddresses=dict(svc.get("TaggedAddresses") or {}),
                ID=svc.get("ID", "") or "", Name=svc.get("Service", "") or "", Kind=svc.get("Kind", "") or "",
                Tags=_sorted_tags(svc.get("Tags")), Checks=[health_check(c) for c in checks], Status=state,
                Port=int(svc.get("Port") or 0),
                Weights=model.Weights(int(weights.get("Passing", 1)), int(weights.get("Warning", 1))),
            ))
        if not self.near:
            out.sort(key=lambda s: (s.Node, s.ID))
        return out


@dataclass(frozen=True, eq=False)
class CatalogServiceQuery(Dependency):
    name: str = ""
    tag: str = ""
    dc: str = ""
    near: str = ""

    def __post_init__(self) -> None:
        s = (self.tag + "." if self.tag else "") + self.name
        s += f"@{self.dc}" if self.dc else ""
        s += f"~{self.near}" if self.near else ""
        _set_key(self, f"catalog.service({s})")

    @classmethod
    def parse(cls, text: str) -> CatalogServiceQuery:
        m = CATALOG_SERVICE_RE.match(text)
        if not m:
            raise DependencyError(f"catalog.service: invalid format: {text!r}")
        return cls(name=m.group("name"), tag=m.group("tag") or "", dc=m.group("dc") or "",
                   near=m.group("near") or "")

    def request(self, node_name: str = "") -> Request:
        params = _dc_params(self.dc)
        if self.tag:
            params.append(("tag", self.tag))
        if self.near:
            params.append(("near", self.near))
        return Request("/v1/catalog/service/" + urllib.parse.quote(self.name), tuple(params))

    def decode(self, status: int, body: Any) -> list[model.CatalogService]:
        return [model.CatalogService(
            ID=s.get("ID", "") or "", Node=s.get("Node", "") or "", Address=s.get("Address", "") or "",
            Datacenter=s.get("Datacenter", "") or "", TaggedAddresses=dict(s.get("TaggedAddresses") or {}),
            NodeMeta=dict(s.get("NodeMeta") or {}), ServiceID=s.get("ServiceID", "") or "",
            ServiceName=s.get("ServiceName", "") or "", ServiceAddress=s.get("ServiceAddress", "") or "",
            ServiceTags=_sorted_tags(s.get("ServiceTags")), ServiceMeta=dict(s.get("ServiceMeta") or {}),
            ServicePort=int(s.get("ServicePort") or 0),
        ) for s in body or []]


@dataclass(frozen=True, eq=False)
class CatalogServicesQuery(Dependency):
    dc: str = ""

    def __post_init__(self) -> None:
        _set_key(self, f"catalog.services(@{self.dc})" if self.dc else "catalog.services")

    @classmethod
    def parse(cls, text: str) -> CatalogServicesQuery:
        m = DC_NEAR_RE.match(text)
        if not m or m.group("near"):
            raise DependencyError(f"catalog.services: invalid format: {text!r}")
        return cls(dc=m.group("dc") or "")

    def request(self, node_name: str = "") -> Request:
        return Request("/v1/catalog/services", tuple(_dc_params(self.dc)))

    def decode(self, status: int, body: Any) -> list[model.CatalogSnippet]:
        items = [model.CatalogSnippet(Name=k, Tags=_sorted_tags(v)) for k, v in (body or {}).items()]
        return sorted(items, key=lambda s: s.Name)


@dataclass(frozen=True, eq=False)
class KVGetQuery(Dependency):
    """`key` blocks rendering until the key exists (kv.block); `keyOrDefault` does not (kv.get)."""

    path: str = ""
    dc: str = ""
    block: bool = False

    def __post_init__(self) -> None:
        s = self.path + (f"@{self.dc}" if self.dc else "")
        _set_key(self, f"kv.block({s})" if self.block else f"kv.get({s})")

    @property
    def block_on_nil(self) -> bool:  # type: ignore[override]
        return self.block

    @classmethod
    def parse(cls, text: str, block: bool = False) -> KVGetQuery:
        m = KV_RE.match(text)
        if not m:
            raise DependencyError(f"kv.get: invalid format: {text!r}")
        return cls(path=m.group("key"), dc=m.group("dc") or "", block=block)

    def request(self, node_name: str = "") -> Request:
        return Request("/v1/kv/" + urllib.parse.quote(self.path), tuple(_dc_params(self.dc)))

    def decode(self, status: int, body: Any) -> str | None:
        if status == 404 or not body:
            return None
        raw = body[0].get("Value")
        return base64.b64decode(raw).decode("utf-8", "replace") if raw else ""


@dataclass(frozen=True, eq=False)
class KVListQuery(Dependency):
    """All pairs under a prefix; `ls` shows the top level and `tree` everything but folders."""

    prefix: str = ""
    dc: str = ""

    def __post_init__(self) -> None:
        _set_key(self, f"kv.list({self.prefix}{'@' + self.dc if self.dc else ''})")

    @classmethod
    def parse(cls, text: str) -> KVListQuery:
        m = PREFIX_RE.match(text)
        if not m:
            raise DependencyError(f"kv.list: invalid format: {text!r}")
        return cls(prefix=m.group("prefix"), dc=m.group("dc") or "")

    def request(self, node_name: str = "") -> Request:
        return Request("/v1/kv/" + urllib.parse.quote(self.prefix),
                       tuple([("recurse", "1"), *_dc_params(self.dc)]))

    def decode(self, status: int, body: Any) -> list[model.KeyPair]:
        out = []
        for p in body or [] if status != 404 else []:
            path = p.get("Key", "")
            raw = p.get("Value")
            out.append(model.KeyPair(
                Path=path, Key=path[len(self.prefix):].lstrip("/") if path.startswith(self.prefix) else path,
                Value=base64.b64decode(raw).decode("utf-8", "replace") if raw else "",
                CreateIndex=int(p.get("CreateIndex", 0)), ModifyIndex=int(p.get("ModifyIndex", 0)),
                LockIndex=int(p.get("LockIndex", 0)), Flags=int(p.get("Flags", 0)),
                Session=p.get("Session", "") or "",
            ))
        return out


@dataclass(frozen=True, eq=False)
class KVKeysQuery(Dependency):
    prefix: str = ""
    dc: str = ""

    def __post_init__(self) -> None:
        _set_key(self, f"kv.keys({self.prefix}{'@' + self.dc if self.dc else ''})")

    @classmethod
    def parse(cls, text: str) -> KVKeysQuery:
        m = PREFIX_RE.match(text)
        if not m:
            raise DependencyError(f"kv.keys: invalid format: {text!r}")
        return cls(prefix=m.group("prefix"), dc=m.group("dc") or "")

    def request(self, node_name: str = "") -> Request:
        return Request("/v1/kv/" + urllib.parse.quote(self.prefix),
                       tuple([("keys", "1"), *_dc_params(self.dc)]))

    def decode(self, status: int, body: Any) -> list[str]:
        if status == 404:
            return []
        return [k[len(self.prefix):].lstrip("/") if k.startswith(self.prefix) else k for k in body or []]


@dataclass(frozen=True, eq=False)
class CatalogNodeQuery(Dependency):
    """`node "name"`; without a name, the node of the agent we talk to."""

    name: str = ""
    dc: str = ""

    def __post_init__(self) -> None:
        s = self.name + (f"@{self.dc}" if self.dc else "")
        _set_key(self, f"catalog.node({s})")

    @property
    def needs_node_name(self) -> bool:  # type: ignore[override]
        return not self.name

    @classmethod
    def parse(cls, text: str) -> CatalogNodeQuery:
        m = NODE_RE.match(text)
        if not m:
            raise DependencyError(f"catalog.node: invalid format: {text!r}")
        return cls(name=m.group("name") or "", dc=m.group("dc") or "")

    def request(self, node_name: str = "") -> Request:
        name = self.name or node_name
        return Request("/v1/catalog/node/" + urllib.parse.quote(name), tuple(_dc_params(self.dc)))

    def decode(self, status: int, body: Any) -> model.CatalogNode:
        if not body:
            return model.CatalogNode()
        services = [model.CatalogNodeService(
            ID=s.get("ID", "") or "", Service=s.get("Service", "") or "", Tags=_sorted_tags(s.get("Tags")),
            Meta=dict(s.get("Meta") or {}), Port=int(s.get("Port") or 0), Address=s.get("Address", "") or "",
            EnableTagOverride=bool(s.get("EnableTagOverride")),
        ) for s in (body.get("Services") or {}).values()]
        services.sort(key=lambda s: (s.Service, s.ID))
        return model.CatalogNode(Node=catalog_node(body.get("Node") or {}), Services=services)


@dataclass(frozen=True, eq=False)
class CatalogNodesQuery(Dependency):
    dc: str = ""
    near: str = ""

    def __post_init__(self) -> None:
        s = (f"@{self.dc}" if self.dc else "") + (f"~{self.near}" if self.near else "")
        _set_key(self, f"catalog.nodes({s})" if s else "catalog.nodes")

    @classmethod
    def parse(cls, text: str) -> CatalogNodesQuery:
        m = DC_NEAR_RE.match(text)
        if not m:
            raise DependencyError(f"catalog.nodes: invalid format: {text!r}")
        return cls(dc=m.group("dc") or "", near=m.group("near") or "")

    def request(self, node_name: str = "") -> Request:
        params = _dc_params(self.dc) + ([("near", self.near)] if self.near else [])
        return Request("/v1/catalog/nodes", tuple(params))

    def decode(self, status: int, body: Any) -> list[model.Node]:
        nodes = [catalog_node(n) for n in body or []]
        if not self.near:
            nodes.sort(key=lambda n: (n.Node, n.Address))
        return nodes


@dataclass(frozen=True, eq=False)
class CatalogDatacentersQuery(Dependency):
    """Datacenters can't block in Consul, so the view polls."""

    ignore_failing: bool = False
    blocking: ClassVar[bool] = False

    def __post_init__(self) -> None:
        _set_key(self, "catalog.datacenters(ignore-failing)" if self.ignore_failing else "catalog.datacenters")

    def request(self, node_name: str = "") -> Request:
        return Request("/v1/catalog/datacenters")

    def decode(self, status: int, body: Any) -> list[str]:
        return sorted(str(d) for d in body or [])


@dataclass(frozen=True, eq=False)
class FileQuery(Dependency):
    """A local file, polled by the view (its contents are the value)."""

    path: str = ""
    blocking: ClassVar[bool] = False
    is_file: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _set_key(self, f"file({self.path})")
