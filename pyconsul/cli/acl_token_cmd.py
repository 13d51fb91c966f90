"""`consul acl token create|list|read|update|clone|delete` with Consul's output and error texts."""

from __future__ import annotations

import json
from typing import Any

from pyconsul.cli.acl_format import (
    IDError,
    acl_flags,
    format_token,
    identity_flags,
    resolve_id,
    show,
    templated_flags,
    templated_policies,
)
from pyconsul.cli.common import connect
from pyconsul.cli.flags import Parsed
from pyconsul.cli.output import error, info
from pyconsul.cli.registry import register
from pyconsul.client.errors import ConsulError
from pyconsul.client.sync import Client

Row = dict[str, Any]
NEED_ONE = ("Cannot create a token without specifying -policy-name, -policy-id, -role-name, -role-id, "
            "-service-identity, -node-identity, or -templated-policy at least once")


def _link_flags(fs: Any) -> None:
    fs.list("policy-name", "Name of a policy to use for this token. May be specified multiple times")
    fs.list("policy-id", "ID of a policy to use for this token. May be specified multiple times")
    fs.list("role-name", "Name of a role to use for this token. May be specified multiple times")
    fs.list("role-id", "ID of a role to use for this token. May be specified multiple times")
    fs.list("service-identity", "Name of a service identity to use for this token, as svc[:dc1,dc2]")
    fs.list("node-identity", "Name of a node identity to use for this token, as node:datacenter")


def _links(client: Client, opts: Parsed) -> tuple[list[Row], list[Row]]:
    policies = [{"Name": n} for n in opts["policy-name"]]
    policies += [{"ID": resolve_id(client, "/v1/acl/policies", "ID", i, "policy")} for i in opts["policy-id"]]
    roles = [{"Name": n} for n in opts["role-name"]]
    roles += [{"ID": resolve_id(client, "/v1/acl/roles", "ID", i, "role")} for i in opts["role-id"]]
    return policies, roles


def _accessor(client: Client, opts: Parsed) -> str:
    return resolve_id(client, "/v1/acl/tokens", "AccessorID", opts["accessor-id"] or opts["id"], "token")


def _id_flags(fs: Any) -> None:
    fs.string("accessor-id", "", "The Accessor ID of the token. It may be specified as a unique ID prefix")
    fs.string("id", "", "Deprecated: use -accessor-id")


def token_create(argv: list[str]) -> int:
    fs = acl_flags("\nUsage: consul acl token create [options]\n\n  Create a new token.\n")
    fs.string("description", "", "A description of the token")
    fs.string("secret", "", "The secret ID of the new token")
    fs.string("accessor", "", "The accessor ID of the new token")
    fs.string("expires-ttl", "", "Duration of time this token should be valid for")
    fs.bool("local", False, "Create this as a datacenter local token")
    _link_flags(fs)
    templated_flags(fs)
    opts = fs.parse(argv)
    if not any(opts[f] for f in ("policy-name", "policy-id", "role-name", "role-id", "service-identity",
                                 "node-identity", "templated-policy")):
        error(NEED_ONE)
        return 1
    client = connect(opts)
    try:
        policies, roles = _links(client, opts)
        services, nodes = identity_flags(opts["service-identity"], opts["node-identity"])
        body: Row = {"Description": opts["description"], "Policies": policies, "Roles": roles,
                     "ServiceIdentities": services, "NodeIdentities": nodes,
                     "TemplatedPolicies": templated_policies(opts), "Local": opts["local"]}
        for flag, key in (("secret", "SecretID"), ("accessor", "AccessorID"), ("expires-ttl", "ExpirationTTL")):
            if opts[flag]:
                body[key] = opts[flag]
        tok = client.request("PUT", "/v1/acl/token", None, json.dumps(body)).json()
    except (ConsulError, IDError) as exc:
        error(f"Failed to create new token: {exc}")
        return 1
    show(opts, tok, format_token(tok))
    return 0


def token_list(argv: list[str]) -> int:
    opts = acl_flags("\nUsage: consul acl token list [options]\n\n  Lists all the ACL tokens.\n").parse(argv)
    try:
        rows, _ = connect(opts).get_json("/v1/acl/tokens")
    except ConsulError as exc:
        error(f"Failed to retrieve the token list: {exc}")
        return 1
    show(opts, rows, "\n\n".join(format_token(t) for t in rows))
    return 0


def token_read(argv: list[str]) -> int:
    fs = acl_flags("\nUsage: consul acl token read [options]\n\n  Reads an ACL token.\n")
    _id_flags(fs)
    fs.bool("self", False, "Indicates that the current HTTP token should be read by secret ID instead of "
                           "expecting a -accessor-id")
    opts = fs.parse(argv)
    if not (opts["accessor-id"] or opts["id"] or opts["self"]):
        error("Must specify the -accessor-id parameter")
        return 1
    client = connect(opts)
    try:
        path = "/v1/acl/token/self" if opts["self"] else f"/v1/acl/token/{_accessor(client, opts)}"
        tok, _ = client.get_json(path)
    except (ConsulError, IDError) as exc:
        error(f"Error reading token {opts['accessor-id'] or opts['id']!r}: {exc}")
        return 1
    show(opts, tok, format_token(tok))
    return 0


def token_update(argv: list[str]) -> int:
    fs = acl_flags("\nUsage: consul acl token update [options]\n\n  Updates a token.\n")
    _id_flags(fs)
    fs.string("description", "", "A description of the token")
    fs.bool("merge-policies", False, "Merge the new policies with the existing policies")
    fs.bool("merge-roles", False, "Merge the new roles with the existing roles")
    fs.bool("merge-service-identities", False, "Merge the new service identities with the existing ones")
    fs.bool("merge-node-identities", False, "Merge the new node identities with the existing ones")
    _link_flags(fs)
    opts = fs.parse(argv)
    if not (opts["accessor-id"] or opts["id"]):
        error("Cannot update a token without specifying the -accessor-id parameter")
        return 1
    client = connect(opts)
    try:
        accessor = _accessor(client, opts)
        tok, _ = client.get_json(f"/v1/acl/token/{accessor}")
        policies, roles = _links(client, opts)
        services, nodes = identity_flags(opts["service-identity"], opts["node-identity"])
        for key, new, merge in (("Policies", policies, "merge-policies"), ("Roles", roles, "merge-roles"),
                                ("ServiceIdentities", services, "merge-service-identities"),
                                ("NodeIdentities", nodes, "merge-node-identities")):
            if opts[merge]:
                tok[key] = list(tok.get(key) or []) + [x for x in new if x not in (tok.get(key) or [])]
            elif new:
                tok[key] = new
        if opts["description"]:
            tok["Description"] = opts["description"]
        out = client.request("PUT", f"/v1/acl/token/{accessor}", None, json.dumps(tok)).json()
    except (ConsulError, IDError) as exc:
        error(f"Failed to update token {opts['accessor-id'] or opts['id']}: {exc}")
        return 1
    show(opts, out, format_token(out))
    return 0


def token_clone(argv: list[str]) -> int:
    fs = acl_flags("\nUsage: consul acl token clone [options]\n\n  Clones an existing token.\n")
    _id_flags(fs)
    fs.string("description", "", "A description of the new cloned token")
    opts = fs.parse(argv)
    if not (opts["accessor-id"] or opts["id"]):
        error("Cannot clone a token without specifying the -accessor-id parameter")
        return 1
    client = connect(opts)
    try:
        accessor = _accessor(client, opts)
        body = json.dumps({"Description": opts["description"]})
        tok = client.request("PUT", f"/v1/acl/token/{accessor}/clone", None, body).json()
    except (ConsulError, IDError) as exc:
        error(f"Error cloning token: {exc}")
        return 1
    show(opts, tok, format_token(tok))
    return 0


def token_delete(argv: list[str]) -> int:
    fs = acl_flags("\nUsage: consul acl token delete [options]\n\n  Deletes an ACL token.\n")
    _id_flags(fs)
    opts = fs.parse(argv)
    if not (opts["accessor-id"] or opts["id"]):
        error("Must specify the -accessor-id parameter")
        return 1
    client = connect(opts)
    try:
        accessor = _accessor(client, opts)
        client.request("DELETE", f"/v1/acl/token/{accessor}")
    except (ConsulError, IDError) as exc:
        error(f"Error deleting token {opts['accessor-id'] or opts['id']!r}: {exc}")
        return 1
    info(f'Token "{accessor}" deleted successfully')
    return 0


register(("acl", "token", "create"), token_create, "Create an ACL token")
register(("acl", "token", "list"), token_list, "List ACL tokens")
register(("acl", "token", "read"), token_read, "Read an ACL token")
register(("acl", "token", "update"), token_update, "Update an ACL token")
register(("acl", "token", "clone"), token_clone, "Clone an ACL token")
register(("acl", "token", "delete"), token_delete, "Delete an ACL token")
