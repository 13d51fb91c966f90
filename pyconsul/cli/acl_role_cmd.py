"""`consul acl role create|list|read|update|delete` with Consul's output and error texts."""

from __future__ import annotations

import json
from typing import Any

from pyconsul.cli.acl_format import (
    IDError,
    acl_flags,
    format_role,
    format_role_list,
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
NEED_ONE = ("Cannot create a role without specifying -policy-name, -policy-id, -service-identity, "
            "-node-identity, or -templated-policy at least once")


def _link_flags(fs: Any) -> None:
    fs.list("policy-name", "Name of a policy to use for this role. May be specified multiple times")
    fs.list("policy-id", "ID of a policy to use for this role. May be specified multiple times")
    fs.list("service-identity", "Name of a service identity to use for this role, as svc[:dc1,dc2]")
    fs.list("node-identity", "Name of a node identity to use for this role, as node:datacenter")


def _policies(client: Client, opts: Parsed) -> list[Row]:
    links: list[Row] = [{"Name": n} for n in opts["policy-name"]]
    return links + [{"ID": resolve_id(client, "/v1/acl/policies", "ID", i, "policy")} for i in opts["policy-id"]]


def _role_id(client: Client, opts: Parsed) -> str:
    if opts["name"]:
        role, _ = client.get_json(f"/v1/acl/role/name/{opts['name']}")
        if role is None:
            raise IDError(f"No such role with name {opts['name']!r}")
        return str(role["ID"])
    return resolve_id(client, "/v1/acl/roles", "ID", opts["id"], "role")


def role_create(argv: list[str]) -> int:
    fs = acl_flags("\nUsage: consul acl role create -name NAME [options]\n\n  Create a new role.\n")
    fs.string("name", "", "The new role's name. This flag is required.")
    fs.string("description", "", "A description of the role")
    _link_flags(fs)
    templated_flags(fs)
    opts = fs.parse(argv)
    if not opts["name"]:
        error("Missing require '-name' flag")
        error(fs.help())
        return 1
    if not any(opts[f] for f in ("policy-name", "policy-id", "service-identity", "node-identity",
                                 "templated-policy")):
        error(NEED_ONE)
        return 1
    client = connect(opts)
    try:
        services, nodes = identity_flags(opts["service-identity"], opts["node-identity"])
        body = {"Name": opts["name"], "Description": opts["description"], "Policies": _policies(client, opts),
                "ServiceIdentities": services, "NodeIdentities": nodes,
                "TemplatedPolicies": templated_policies(opts)}
        role = client.request("PUT", "/v1/acl/role", None, json.dumps(body)).json()
    except (ConsulError, IDError) as exc:
        error(f"Failed to create new role: {exc}")
        return 1
    show(opts, role, format_role(role))
    return 0


def role_list(argv: list[str]) -> int:
    opts = acl_flags("\nUsage: consul acl role list [options]\n\n  Lists all the ACL roles.\n").parse(argv)
    try:
        rows, _ = connect(opts).get_json("/v1/acl/roles")
    except ConsulError as exc:
        error(f"Failed to retrieve the role list: {exc}")
        return 1
    show(opts, rows, format_role_list(rows))
    return 0


def _id_flags(help_text: str) -> Any:
    fs = acl_flags(help_text)
    fs.string("id", "", "The ID of the role. It may be specified as a unique ID prefix")
    fs.string("name", "", "The name of the role")
    return fs


def role_read(argv: list[str]) -> int:
    opts = _id_flags("\nUsage: consul acl role read [options] ROLE\n\n  Reads an ACL role.\n").parse(argv)
    if not opts["id"] and not opts["name"]:
        error("Must specify either the -id or -name parameters")
        return 1
    client = connect(opts)
    try:
        role, _ = client.get_json(f"/v1/acl/role/{_role_id(client, opts)}")
    except (ConsulError, IDError) as exc:
        error(f"Error reading role {opts['id'] or opts['name']!r}: {exc}")
        return 1
    show(opts, role, format_role(role))
    return 0


def role_update(argv: list[str]) -> int:
    fs = acl_flags("\nUsage: consul acl role update [options]\n\n  Updates a role.\n")
    fs.string("id", "", "The ID of the role to update. It may be specified as a unique ID prefix")
    fs.string("name", "", "The role's name")
    fs.string("description", "", "A description of the role")
    fs.bool("no-merge", False, "Replace the role's policies and identities instead of adding to them")
    _link_flags(fs)
    opts = fs.parse(argv)
    if not opts["id"]:
        error("Cannot update a role without specifying the -id parameter")
        return 1
    client = connect(opts)
    try:
        rid = resolve_id(client, "/v1/acl/roles", "ID", opts["id"], "role")
        role, _ = client.get_json(f"/v1/acl/role/{rid}")
        services, nodes = identity_flags(opts["service-identity"], opts["node-identity"])
        for key, new in (("Policies", _policies(client, opts)), ("ServiceIdentities", services),
                         ("NodeIdentities", nodes)):
            if opts["no-merge"]:
                role[key] = new
            else:
                role[key] = list(role.get(key) or []) + [x for x in new if x not in (role.get(key) or [])]
        if opts["name"]:
            role["Name"] = opts["name"]
        if opts["description"]:
            role["Description"] = opts["description"]
        out = client.request("PUT", f"/v1/acl/role/{rid}", None, json.dumps(role)).json()
    except (ConsulError, IDError) as exc:
        error(f"Failed to update role {opts['id']}: {exc}")
        return 1
    show(opts, out, format_role(out))
    return 0


def role_delete(argv: list[str]) -> int:
    opts = _id_flags("\nUsage: consul acl role delete [options]\n\n  Deletes an ACL role.\n").parse(argv)
    if not opts["id"] and not opts["name"]:
        error("Must specify either the -id or -name parameters")
        return 1
    client = connect(opts)
    try:
        rid = _role_id(client, opts)
        client.request("DELETE", f"/v1/acl/role/{rid}")
    except (ConsulError, IDError) as exc:
        error(f"Error deleting role {opts['id'] or opts['name']!r}: {exc}")
        return 1
    info(f'Role "{rid}" deleted successfully')
    return 0


register(("acl", "role", "create"), role_create, "Create an ACL role")
register(("acl", "role", "list"), role_list, "List ACL roles")
register(("acl", "role", "read"), role_read, "Read an ACL role")
register(("acl", "role", "update"), role_update, "Update an ACL role")
register(("acl", "role", "delete"), role_delete, "Delete an ACL role")
