"""SPIFFE identities as Consul writes them (pure).

- trust domain: `<cluster id>.consul`, lower-cased, whatever the agent's `domain` is;
- service: `spiffe://<td>/ns/<ns>/dc/<dc>/svc/<name>`;
- agent: `spiffe://<td>/agent/client/dc/<dc>/id/<node>`;
- signing (the CA itself): `spiffe://<td>`.
`parse` accepts any trust domain: authorize deliberately does not compare it (as Consul).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit


class SpiffeError(ValueError):
    pass


def trust_domain(cluster_id: str) -> str:
    return f"{cluster_id}.consul".lower()


@dataclass(frozen=True)
class ServiceID:
    host: str  # the trust domain the URI names
    namespace: str
    datacenter: str
    service: str

    def uri(self) -> str:
        return (f"spiffe://{self.host}/ns/{quote(self.namespace, safe='')}/dc/{quote(self.datacenter, safe='')}"
                f"/svc/{quote(self.service, safe='')}")


@dataclass(frozen=True)
class AgentID:
    host: str
    datacenter: str
    node: str


@dataclass(frozen=True)
class SigningID:
    host: str


Identity = ServiceID | AgentID | SigningID

_SERVICE = re.compile(r"^(?:/ap/[^/]+)?/ns/([^/]+)/dc/([^/]+)/svc/([^/]+)$")
_AGENT = re.compile(r"^/agent/client/dc/([^/]+)/id/([^/]+)$")


def service_uri(td: str, datacenter: str, service: str, namespace: str = "default") -> str:
    return ServiceID(td, namespace, datacenter, service).uri()


def parse(uri: str) -> Identity:
    """The identity a certificate's URI SAN names; SpiffeError if it is not a Connect one."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        raise SpiffeError("not a URI") from None
    if parts.scheme.lower() != "spiffe" or not parts.netloc:
        raise SpiffeError("not a spiffe URI")
    path = parts.path
    if path in ("", "/"):
        return SigningID(parts.netloc)
    m = _SERVICE.match(path)
    if m:
        return ServiceID(parts.netloc, unquote(m.group(1)), unquote(m.group(2)), unquote(m.group(3)))
    m = _AGENT.match(path)
    if m:
        return AgentID(parts.netloc, unquote(m.group(1)), unquote(m.group(2)))
    raise SpiffeError(f"unknown SPIFFE path {path!r}")


def same_service(got: str, want: str) -> bool:
    """What the proxy's outbound check compares: the path, ignoring the trust domain, any case."""
    try:
        g, w = parse(got), parse(want)
    except SpiffeError:
        return False
    if not isinstance(g, ServiceID) or not isinstance(w, ServiceID):
        return False
    return (g.namespace.lower(), g.datacenter.lower(), g.service.lower()) == (
        w.namespace.lower(), w.datacenter.lower(), w.service.lower())
