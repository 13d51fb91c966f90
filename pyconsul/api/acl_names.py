"""Checks on names a request carries in its body or finds in a stored object (Need IN_HANDLER).

The gate (`api.acl_gate`) lets these routes through (`NAMED_IN_HANDLER`); their handlers call
`require_name` for every name they touch, so a token with `service "web" { policy = "write" }`
may register web and nothing else. With ACLs off the request carries no identity and every
check passes. A refusal is a 403 with Consul's text naming the resource, access and name.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pyconsul.acl.errors import permission_denied_text
from pyconsul.api.acl_filter import identity_of
from pyconsul.api.errors import HTTPError

Row = dict[str, Any]

# txn KV verbs that only read; every other verb writes
_TXN_READS = frozenset({"get", "check-index", "check-session", "check-not-exists"})


def require_name(req: web.Request, resource: str, access: str, name: str | None) -> None:
    """`name` None: an unlabeled resource (mesh, operator), named so in the refusal."""
    identity = identity_of(req)
    if identity is None or identity.authorizer.allowed(resource, access, name or ""):
        return
    raise HTTPError(403, permission_denied_text(identity.accessor_id, resource, access, name))


def require_all_below(req: web.Request, resource: str, access: str, prefix: str) -> None:
    """`access` on every name under `prefix` (a delete-tree or get-tree)."""
    identity = identity_of(req)
    if identity is None or identity.authorizer.all_below(resource, access, prefix):
        return
    raise HTTPError(403, permission_denied_text(identity.accessor_id, resource, access, prefix))


def node_changes(existing: Row | None, node: Row) -> bool:
    """Whether a registration writes the node itself (Consul asks node:write only then, so a
    service token may re-post an existing node's details with its service)."""
    if existing is None:
        return True
    return any((existing.get(f) or None) != (node.get(f) or None) for f in ("ID", "Address", "TaggedAddresses", "Meta"))


def require_check_write(req: web.Request, check: Row, service_name: str, node: str) -> None:
    """A service's check needs service:write on the service, a node check node:write."""
    if check.get("ServiceID") and service_name:
        require_name(req, "service", "write", service_name)
    else:
        require_name(req, "node", "write", node)


def require_txn_ops(req: web.Request, ops: list[Row]) -> None:
    for op in ops:
        kv = op.get("KV") or {}
        verb, key = str(kv.get("Verb") or ""), str(kv.get("Key") or "")
        if verb == "delete-tree":
            require_all_below(req, "key", "write", key)
        elif verb == "get-tree":
            require_all_below(req, "key", "read", key)
        else:
            require_name(req, "key", "read" if verb in _TXN_READS else "write", key)
