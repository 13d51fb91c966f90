"""The values templates see, with consul-template's field names (`.Address`, `.Port`, `.Tags`…).

Plain dataclasses: equality is deep, so a view can drop a result equal to the last one, and
the Go engine treats them as structs (unknown fields are errors, as in Go).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class HealthCheck:
    Node: str = ""
    CheckID: str = ""
    Name: str = ""
    Status: str = ""
    Notes: str = ""
    Output: str = ""
    ServiceID: str = ""
    ServiceName: str = ""
    ServiceTags: list[str] = field(default_factory=list)
    Type: str = ""


@dataclass
class Weights:
    Passing: int = 1
    Warning: int = 1


@dataclass
class HealthService:
    Node: str = ""
    NodeID: str = ""
    NodeAddress: str = ""
    NodeDatacenter: str = ""
    NodeTaggedAddresses: dict[str, str] = field(default_factory=dict)
    NodeMeta: dict[str, str] = field(default_factory=dict)
    ServiceMeta: dict[str, str] = field(default_factory=dict)
    Address: str = ""
    ServiceTaggedAddresses: dict[str, dict[str, object]] = field(default_factory=dict)
    ID: str = ""
    Name: str = ""
    Kind: str = ""
    Tags: list[str] = field(default_factory=list)
    Checks: list[HealthCheck] = field(default_factory=list)
    Status: str = ""
    Port: int = 0
    Weights: Weights = field(default_factory=Weights)


@dataclass
class CatalogService:
    ID: str = ""
    Node: str = ""
    Address: str = ""
    Datacenter: str = ""
    TaggedAddresses: dict[str, str] = field(default_factory=dict)
    NodeMeta: dict[str, str] = field(default_factory=dict)
    ServiceID: str = ""
    ServiceName: str = ""
    ServiceAddress: str = ""
    ServiceTags: list[str] = field(default_factory=list)
    ServiceMeta: dict[str, str] = field(default_factory=dict)
    ServicePort: int = 0


@dataclass
class CatalogSnippet:
    Name: str = ""
    Tags: list[str] = field(default_factory=list)


@dataclass
class Node:
    ID: str = ""
    Node: str = ""
    Address: str = ""
    Datacenter: str = ""
    TaggedAddresses: dict[str, str] = field(default_factory=dict)
    Meta: dict[str, str] = field(default_factory=dict)


@dataclass
class CatalogNodeService:
    ID: str = ""
    Service: str = ""
    Tags: list[str] = field(default_factory=list)
    Meta: dict[str, str] = field(default_factory=dict)
    Port: int = 0
    Address: str = ""
    EnableTagOverride: bool = False


@dataclass
class CatalogNode:
    Node: Node | None = None
    Services: list[CatalogNodeService] = field(default_factory=list)


@dataclass
class KeyPair:
    Path: str = ""
    Key: str = ""
    Value: str = ""
    CreateIndex: int = 0
    ModifyIndex: int = 0
    LockIndex: int = 0
    Flags: int = 0
    Session: str = ""
