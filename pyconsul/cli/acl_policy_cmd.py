"""`consul acl policy create|list|read|update|delete` with Consul's output and error texts."""

from __future__ import annotations

import json
from typing import Any

from pyconsul.cli.acl_format import IDError, acl_flags, format_policy, resolve_id, rules_arg, show
from pyconsul.cli.common import connect
from pyconsul.cli.flags import Parsed
from pyconsul.cli.output import error, info
from pyconsul.cli.registry import register
from pyconsul.client.errors import ConsulError
from pyconsul.client.sync import Client

Row = dict[str, Any]


def _policy_id(client: Client, opts: Parsed) -> str:
    if opts["name"]:
        pol, _ = client.get_json(f"/v1/acl/policy/name/{opts['name']}")
        return str(pol["ID"])
    return resolve_id(client, "/v1/acl/policies", "ID", opts["id"], "policy")


def policy_create(argv: list[str]) -> int:
    fs = acl_flags("\nUsage: consul acl policy create -name NAME [options]\n\n  Creates a new ACL policy.\n")
    fs.string("name", "", "The new policy's name. This flag is required.")
    fs.string("description", "", "A description of the policy")
    fs.string("rules", "", "The policy rules. May be prefixed with '@' to indicate a file or '-' for stdin")
    fs.list("valid-datacenter", "Datacenter that the policy should be valid within. May be specified multiple times")
    opts = fs.parse(argv)
    if not opts["name"]:
        error("Missing require '-name' flag")
        error(fs.help())
        return 1
    try:
        rules = rules_arg(opts["rules"])
    except OSError as exc:
        error(f"Invalid rules: {exc}")
        return 1
    body: Row = {"Name": opts["name"], "Description": opts["description"], "Rules": rules}
    if opts["valid-datacenter"]:
        body["Datacenters"] = opts["valid-datacenter"]
    try:
        pol = connect(opts).request("PUT", "/v1/acl/policy", None, json.dumps(body)).json()
    except ConsulError as exc:
        error(f"Failed to create new policy: {exc}")
        return 1
    show(opts, pol, format_policy(pol))
    return 0


def policy_list(argv: list[str]) -> int:
    opts = acl_flags("\nUsage: consul acl policy list [options]\n\n  Lists all the ACL policies.\n").parse(argv)
    try:
        rows, _ = connect(opts).get_json("/v1/acl/policies")
    except ConsulError as exc:
        error(f"Failed to retrieve the policy list: {exc}")
        return 1
    if opts["format"] == "json":
        info(json.dumps(rows, indent=4))
        return 0
    for pol in rows:
        info(f"{pol['Name']}:")
        info(f"   {'ID:':<14}{pol['ID']}")
        info(f"   {'Description:':<14}{pol.get('Description', '')}")
        info(f"   {'Datacenters:':<14}{', '.join(pol.get('Datacenters') or [])}")
    return 0


def _id_flags(help_text: str) -> Any:
    fs = acl_flags(help_text)
    fs.string("id", "", "The ID of the policy. It may be specified as a unique ID prefix")
    fs.string("name", "", "The name of the policy")
    return fs


def policy_read(argv: list[str]) -> int:
    opts = _id_flags("\nUsage: consul acl policy read [options] POLICY\n\n  Reads an ACL policy.\n").parse(argv)
    if not opts["id"] and not opts["name"]:
        error("Must specify either the -id or -name parameters")
        return 1
    client = connect(opts)
    try:
        pid = _policy_id(client, opts)
        pol, _ = client.get_json(f"/v1/acl/policy/{pid}")
    except (ConsulError, IDError) as exc:
        error(f"Error reading policy {opts['id'] or opts['name']!r}: {exc}")
        return 1
    show(opts, pol, format_policy(pol))
    return 0


def policy_update(argv: list[str]) -> int:
    fs = acl_flags("\nUsage: consul acl policy update [options]\n\n  Updates a policy.\n")
    fs.string("id", "", "The ID of the policy to update. It may be specified as a unique ID prefix")
    fs.string("name", "", "The policy's name")
    fs.string("description", "", "A description of the policy")
    fs.string("rules", "", "The policy rules. May be prefixed with '@' to indicate a file or '-' for stdin")
    fs.list("valid-datacenter", "Datacenter that the policy should be valid within. May be specified multiple times")
    opts = fs.parse(argv)
    if not opts["id"]:
        error("Cannot update a policy without specifying the -id parameter")
        return 1
    client = connect(opts)
    try:
        pid = resolve_id(client, "/v1/acl/policies", "ID", opts["id"], "policy")
        pol, _ = client.get_json(f"/v1/acl/policy/{pid}")
        if opts["name"]:
            pol["Name"] = opts["name"]
        if opts["description"]:
            pol["Description"] = opts["description"]
        if opts["rules"]:
            pol["Rules"] = rules_arg(opts["rules"])
        if opts["valid-datacenter"]:
            pol["Datacenters"] = opts["valid-datacenter"]
        body = {k: pol.get(k) for k in ("ID", "Name", "Description", "Rules", "Datacenters") if pol.get(k) is not None}
        out = client.request("PUT", f"/v1/acl/policy/{pid}", None, json.dumps(body)).json()
    except (ConsulError, IDError, OSError) as exc:
        error(f"Failed to update policy {opts['id']}: {exc}")
        return 1
    show(opts, out, format_policy(out))
    return 0


def policy_delete(argv: list[str]) -> int:
    opts = _id_flags("\nUsage: consul acl policy delete [options]\n\n  Deletes an ACL policy.\n").parse(argv)
    if not opts["id"] and not opts["name"]:
        error("Must specify either the -id or -name parameters")
        return 1
    client = connect(opts)
    try:
        pid = _policy_id(client, opts)
        client.request("DELETE", f"/v1/acl/policy/{pid}")
    except (ConsulError, IDError) as exc:
        error(f"Error deleting policy {opts['id'] or opts['name']!r}: {exc}")
        return 1
    info(f'Policy "{pid}" deleted successfully')
    return 0


register(("acl", "policy", "create"), policy_create, "Create an ACL policy")
register(("acl", "policy", "list"), policy_list, "Lists ACL policies")
register(("acl", "policy", "read"), policy_read, "Read an ACL policy")
register(("acl", "policy", "update"), policy_update, "Update an ACL policy")
register(("acl", "policy", "delete"), policy_delete, "Delete an ACL policy")
