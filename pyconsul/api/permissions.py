"""What each route needs from the request's token: the one table the authorization hook reads.

Every (method, path) of `pyconsul.api.routes.ROUTES` has a `Need` here; a test fails for a route
without one, so a new endpoint cannot be open by omission. A Need names the resource and access
(Consul's rule vocabulary) and where the rule's segment comes from:
- `PATH`+name: the route's path parameter (`/v1/kv/{key}` → the key);
- `OWN_NODE`: the agent's own node name (agent endpoints);
- `UNLABELED`: none (operator, keyring, acl);
- `IN_HANDLER`: the segment is known only from the body or the stored object (a registration's
  service name, a check's service); the hook checks nothing and the handler must.
`filtered` marks lists whose rows the token may only partly see: the handler drops the rest and
sets `X-Consul-Results-Filtered-By-ACLs`. `NONE` routes need no token at all (Consul's too).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

OWN_NODE = "@node"
UNLABELED = ""
IN_HANDLER = "*"


@dataclass(frozen=True)
class Need:
    resource: str  # "" = no ACL needed
    access: str = "read"
    segment: str = UNLABELED  # "{param}", OWN_NODE, UNLABELED or IN_HANDLER
    filtered: bool = False


NONE = Need("")


def _r(resource: str, segment: str = UNLABELED, filtered: bool = False) -> Need:
    return Need(resource, "read", segment, filtered)


def _w(resource: str, segment: str = UNLABELED) -> Need:
    return Need(resource, "write", segment)


NEEDS: dict[tuple[str, str], Need] = {
    ("GET", "/v1/status/leader"): NONE,
    ("GET", "/v1/status/peers"): NONE,
    ("PUT", "/v1/catalog/register"): _w("node", IN_HANDLER),  # node:write on Node, service:write on Service
    ("PUT", "/v1/catalog/deregister"): _w("node", IN_HANDLER),
    ("GET", "/v1/catalog/datacenters"): NONE,
    ("GET", "/v1/catalog/nodes"): _r("node", filtered=True),
    ("GET", "/v1/catalog/services"): _r("service", filtered=True),
    ("GET", "/v1/catalog/service/{service}"): _r("service", "{service}", filtered=True),
    ("GET", "/v1/catalog/node/{node}"): _r("node", "{node}", filtered=True),
    ("GET", "/v1/catalog/node-services/{node}"): _r("node", "{node}", filtered=True),
    ("GET", "/v1/health/node/{node}"): _r("node", "{node}", filtered=True),
    ("GET", "/v1/health/checks/{service}"): _r("service", "{service}", filtered=True),
    ("GET", "/v1/health/service/{service}"): _r("service", "{service}", filtered=True),
    ("GET", "/v1/health/state/{state}"): _r("service", filtered=True),
    ("GET", "/v1/health/connect/{service}"): _r("service", "{service}", filtered=True),
    ("GET", "/v1/catalog/connect/{service}"): _r("service", "{service}", filtered=True),
    ("GET", "/v1/health/ingress/{service}"): _r("service", "{service}", filtered=True),
    ("GET", "/v1/catalog/gateway-services/{gateway}"): _r("service", "{gateway}"),
    ("GET", "/v1/agent/self"): _r("agent", OWN_NODE),
    ("GET", "/v1/agent/members"): _r("node", filtered=True),
    ("GET", "/v1/agent/host"): _r("operator"),
    ("GET", "/v1/agent/metrics"): _r("agent", OWN_NODE),
    ("GET", "/debug/pprof/profile"): _r("operator"),
    ("GET", "/debug/pprof/goroutine"): _r("operator"),
    ("GET", "/debug/pprof/heap"): _r("operator"),
    ("GET", "/v1/agent/monitor"): _r("agent", OWN_NODE),
    ("GET", "/v1/agent/services"): _r("service", filtered=True),
    ("GET", "/v1/agent/service/{id}"): _r("service", IN_HANDLER),
    ("GET", "/v1/agent/checks"): _r("service", filtered=True),
    ("PUT", "/v1/agent/service/register"): _w("service", IN_HANDLER),
    ("PUT", "/v1/agent/service/deregister/{id}"): _w("service", IN_HANDLER),
    ("PUT", "/v1/agent/service/maintenance/{id}"): _w("service", IN_HANDLER),
    ("PUT", "/v1/agent/check/register"): _w("node", IN_HANDLER),  # service:write for a service check
    ("PUT", "/v1/agent/check/deregister/{id}"): _w("node", IN_HANDLER),
    ("PUT", "/v1/agent/check/pass/{id}"): _w("node", IN_HANDLER),
    ("PUT", "/v1/agent/check/warn/{id}"): _w("node", IN_HANDLER),
    ("PUT", "/v1/agent/check/fail/{id}"): _w("node", IN_HANDLER),
    ("PUT", "/v1/agent/check/update/{id}"): _w("node", IN_HANDLER),
    ("PUT", "/v1/agent/maintenance"): _w("node", OWN_NODE),
    ("PUT", "/v1/agent/reload"): _w("agent", OWN_NODE),
    ("PUT", "/v1/agent/leave"): _w("agent", OWN_NODE),
    ("PUT", "/v1/agent/join/{address}"): _w("agent", OWN_NODE),
    ("PUT", "/v1/agent/force-leave/{node}"): _w("operator"),
    ("PUT", "/v1/agent/token/{type}"): _w("acl"),
    ("GET", "/v1/agent/version"): NONE,
    ("GET", "/v1/agent/health/service/id/{id}"): _r("service", IN_HANDLER),
    ("GET", "/v1/agent/health/service/name/{name}"): _r("service", "{name}"),
    ("GET", "/v1/kv/{key}"): _r("key", "{key}", filtered=True),  # ?recurse/?keys drop unreadable keys
    ("PUT", "/v1/kv/{key}"): _w("key", "{key}"),
    ("DELETE", "/v1/kv/{key}"): _w("key", "{key}"),  # ?recurse needs write on every key below
    ("PUT", "/v1/session/create"): _w("session", IN_HANDLER),  # session:write on the session's node
    ("PUT", "/v1/session/destroy/{id}"): _w("session", IN_HANDLER),
    ("PUT", "/v1/session/renew/{id}"): _w("session", IN_HANDLER),
    ("GET", "/v1/session/info/{id}"): _r("session", filtered=True),
    ("GET", "/v1/session/node/{node}"): _r("session", "{node}", filtered=True),
    ("GET", "/v1/session/list"): _r("session", filtered=True),
    ("PUT", "/v1/event/fire/{name}"): _w("event", "{name}"),
    ("GET", "/v1/event/list"): _r("event", filtered=True),
    ("PUT", "/v1/txn"): _w("key", IN_HANDLER),  # each operation's own resource
    ("GET", "/v1/operator/raft/configuration"): _r("operator"),
    ("DELETE", "/v1/operator/raft/peer"): _w("operator"),
    ("POST", "/v1/operator/raft/transfer-leader"): _w("operator"),
    ("GET", "/v1/operator/autopilot/configuration"): _r("operator"),
    ("PUT", "/v1/operator/autopilot/configuration"): _w("operator"),
    ("GET", "/v1/operator/autopilot/health"): _r("operator"),
    ("GET", "/v1/operator/autopilot/state"): _r("operator"),
    ("GET", "/v1/operator/usage"): _r("operator"),
    ("GET", "/v1/operator/keyring"): _r("keyring"),
    ("POST", "/v1/operator/keyring"): _w("keyring"),
    ("PUT", "/v1/operator/keyring"): _w("keyring"),
    ("DELETE", "/v1/operator/keyring"): _w("keyring"),
    ("GET", "/v1/snapshot"): _w("acl"),  # a snapshot holds every secret: management only
    ("PUT", "/v1/snapshot"): _w("acl"),
    ("GET", "/v1/coordinate/datacenters"): NONE,
    ("GET", "/v1/coordinate/nodes"): _r("node", filtered=True),
    ("GET", "/v1/coordinate/node/{node}"): _r("node", "{node}"),
    ("PUT", "/v1/coordinate/update"): _w("node", IN_HANDLER),  # node:write on the body's Node
    # prepared queries: query:read/write on the query's name, service:read on what it serves
    ("GET", "/v1/query"): _r("query", filtered=True),
    ("POST", "/v1/query"): _w("query", IN_HANDLER),
    ("GET", "/v1/query/{id}"): _r("query", IN_HANDLER),
    ("PUT", "/v1/query/{id}"): _w("query", IN_HANDLER),
    ("DELETE", "/v1/query/{id}"): _w("query", IN_HANDLER),
    ("GET", "/v1/query/{id}/execute"): _r("query", IN_HANDLER),
    ("GET", "/v1/query/{id}/explain"): _r("query", IN_HANDLER),
    ("GET", "/v1/internal/ui/services"): _r("service", filtered=True),
    ("GET", "/v1/internal/ui/nodes"): _r("node", filtered=True),
    ("GET", "/v1/internal/ui/node/{node}"): _r("node", "{node}", filtered=True),
    ("POST", "/v1/internal/server/auto-encrypt/sign"): _w("node", IN_HANDLER),  # the agent token's node:write
    # Connect. Roots need no token (as in Consul); intentions' names come from the query or body,
    # so their handlers check intentions:read/write on the destination themselves.
    ("GET", "/v1/connect/ca/roots"): NONE,
    ("GET", "/v1/agent/connect/ca/roots"): NONE,
    ("GET", "/v1/connect/ca/configuration"): _w("operator"),
    ("PUT", "/v1/connect/ca/configuration"): _w("operator"),
    ("POST", "/v1/internal/connect/ca/sign/{service}"): _w("service", "{service}"),  # = the CSR's service
    ("POST", "/v1/internal/connect/ca/sign-intermediate"): _w("operator"),  # the replication token
    ("GET", "/v1/agent/connect/ca/leaf/{service}"): _w("service", "{service}"),
    ("POST", "/v1/agent/connect/authorize"): _w("service", IN_HANDLER),  # on the body's Target
    ("PUT", "/v1/agent/connect/authorize"): _w("service", IN_HANDLER),
    ("GET", "/v1/connect/intentions"): _r("intentions", filtered=True),
    ("POST", "/v1/connect/intentions"): _w("intentions", IN_HANDLER),
    ("GET", "/v1/connect/intentions/exact"): _r("intentions", IN_HANDLER),
    ("PUT", "/v1/connect/intentions/exact"): _w("intentions", IN_HANDLER),
    ("DELETE", "/v1/connect/intentions/exact"): _w("intentions", IN_HANDLER),
    ("GET", "/v1/connect/intentions/match"): _r("intentions", IN_HANDLER),
    ("GET", "/v1/connect/intentions/check"): _r("service", IN_HANDLER),  # service:read on the destination
    ("GET", "/v1/connect/intentions/{id}"): _r("intentions", IN_HANDLER),
    ("PUT", "/v1/connect/intentions/{id}"): _w("intentions", IN_HANDLER),
    ("DELETE", "/v1/connect/intentions/{id}"): _w("intentions", IN_HANDLER),
    # config entries: each kind's rule (pyconsul.entries.access: service, intentions or mesh),
    # checked by the handlers since the kind and name come from the path or the body
    ("PUT", "/v1/config"): _w("service", IN_HANDLER),
    ("GET", "/v1/config/{kind}"): _r("service", filtered=True),
    ("GET", "/v1/config/{kind}/{name}"): _r("service", IN_HANDLER),
    ("DELETE", "/v1/config/{kind}/{name}"): _w("service", IN_HANDLER),
    ("GET", "/v1/discovery-chain/{service}"): _r("service", "{service}"),
    ("POST", "/v1/discovery-chain/{service}"): _r("service", "{service}"),
    # /v1/acl/*: each endpoint checks acl:read/acl:write itself (token/self needs nothing)
    ("GET", "/v1/acl/replication"): NONE,  # Consul's ACL.ReplicationStatus needs no token
    ("GET", "/v1/acl/{path}"): Need("acl", "read", IN_HANDLER),
    ("PUT", "/v1/acl/{path}"): Need("acl", "write", IN_HANDLER),
    ("POST", "/v1/acl/{path}"): Need("acl", "write", IN_HANDLER),
    ("DELETE", "/v1/acl/{path}"): Need("acl", "write", IN_HANDLER),
}

_PARAM_REGEX = re.compile(r"\{(\w+):[^}]*\}")


def canonical(path: str) -> str:
    """A route path without its parameters' regexes (`/v1/kv/{key:.*}` → `/v1/kv/{key}`)."""
    return _PARAM_REGEX.sub(r"{\1}", path)


@dataclass(frozen=True)
class Check:
    """One check the hook makes: `name` is None for unlabeled resources."""

    resource: str
    access: str
    name: str | None


def static_check(need: Need, match_info: Mapping[str, str], own_node: str) -> Check | None:
    """The check a route's Need makes before the handler runs, or None (no ACL, or the handler's)."""
    if not need.resource or need.segment == IN_HANDLER:
        return None
    if need.segment == UNLABELED:
        # A filtered list with no segment: the handler filters row by row; nothing to refuse up front.
        return None if need.filtered else Check(need.resource, need.access, None)
    if need.segment == OWN_NODE:
        return Check(need.resource, need.access, own_node)
    return Check(need.resource, need.access, match_info.get(need.segment.strip("{}"), ""))
