"""Connect dependencies: `connect "svc"`, `caLeaf "svc"` and `caRoots` (consul-template's
health.connect, connect.caleaf and connect.caroots).

- `connect` is `service` over /v1/health/connect/<svc>: the service's Connect-capable endpoints
  (its sidecar proxies' addresses and ports, or Connect-native instances), same syntax and filters.
- `caLeaf` blocks on /v1/agent/connect/ca/leaf/<svc>: the agent's current leaf for the service
  (the token needs service:write on it); a new leaf (renewal, root rotation) moves the index and
  re-renders. Values: `.SerialNumber .CertPEM .PrivateKeyPEM .Service .ServiceURI .ValidAfter
  .ValidBefore`.
- `caRoots` blocks on /v1/agent/connect/ca/roots and gives the `Roots` list; the PEM is
  `.RootCertPEM` (the JSON's `RootCert`), as in Consul's Go api.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from pytemplate.dependencies import Dependency, DependencyError, HealthServiceQuery, Request, _set_key

Row = dict[str, Any]


@dataclass
class LeafCert:
    SerialNumber: str = ""
    CertPEM: str = ""
    PrivateKeyPEM: str = ""
    Service: str = ""
    ServiceURI: str = ""
    ValidAfter: str = ""
    ValidBefore: str = ""
    CreateIndex: int = 0
    ModifyIndex: int = 0


@dataclass
class CARoot:
    ID: str = ""
    Name: str = ""
    SerialNumber: int = 0
    SigningKeyID: str = ""
    ExternalTrustDomain: str = ""
    NotBefore: str = ""
    NotAfter: str = ""
    RootCertPEM: str = ""
    IntermediateCerts: list[str] = field(default_factory=list)
    Active: bool = False
    PrivateKeyType: str = ""
    PrivateKeyBits: int = 0
    CreateIndex: int = 0
    ModifyIndex: int = 0


@dataclass(frozen=True, eq=False)
class HealthConnectQuery(HealthServiceQuery):
    """`connect "tag.name@dc~near" "filter"`: like `service`, answered by the mesh view."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _set_key(self, "health.connect(" + self.key[len("health.service("):])

    @classmethod
    def parse(cls, text: str) -> HealthConnectQuery:
        base = HealthServiceQuery.parse(text)
        return cls(name=base.name, tag=base.tag, dc=base.dc, near=base.near, filters=base.filters)

    def request(self, node_name: str = "") -> Request:
        base = super().request(node_name)
        return Request("/v1/health/connect/" + urllib.parse.quote(self.name), base.params)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


@dataclass(frozen=True, eq=False)
class LeafQuery(Dependency):
    service: str = ""

    def __post_init__(self) -> None:
        if not self.service:
            raise DependencyError("caLeaf: a service name is required")
        _set_key(self, f"connect.caleaf({self.service})")

    def request(self, node_name: str = "") -> Request:
        return Request("/v1/agent/connect/ca/leaf/" + urllib.parse.quote(self.service))

    def decode(self, status: int, body: Any) -> LeafCert:
        body = body or {}
        return LeafCert(
            SerialNumber=_text(body.get("SerialNumber")), CertPEM=_text(body.get("CertPEM")),
            PrivateKeyPEM=_text(body.get("PrivateKeyPEM")), Service=_text(body.get("Service")),
            ServiceURI=_text(body.get("ServiceURI")), ValidAfter=_text(body.get("ValidAfter")),
            ValidBefore=_text(body.get("ValidBefore")), CreateIndex=int(body.get("CreateIndex") or 0),
            ModifyIndex=int(body.get("ModifyIndex") or 0))


@dataclass(frozen=True, eq=False)
class RootsQuery(Dependency):
    def __post_init__(self) -> None:
        _set_key(self, "connect.caroots")

    def request(self, node_name: str = "") -> Request:
        return Request("/v1/agent/connect/ca/roots")

    def decode(self, status: int, body: Any) -> list[CARoot]:
        out = []
        for root in (body or {}).get("Roots") or []:
            out.append(CARoot(
                ID=_text(root.get("ID")), Name=_text(root.get("Name")), SerialNumber=int(root.get("SerialNumber") or 0),
                SigningKeyID=_text(root.get("SigningKeyID")), ExternalTrustDomain=_text(root.get("ExternalTrustDomain")),
                NotBefore=_text(root.get("NotBefore")), NotAfter=_text(root.get("NotAfter")),
                RootCertPEM=_text(root.get("RootCert")), IntermediateCerts=list(root.get("IntermediateCerts") or []),
                Active=bool(root.get("Active")), PrivateKeyType=_text(root.get("PrivateKeyType")),
                PrivateKeyBits=int(root.get("PrivateKeyBits") or 0), CreateIndex=int(root.get("CreateIndex") or 0),
                ModifyIndex=int(root.get("ModifyIndex") or 0)))
        return out
