"""`consul acl auth-method create|list|read|update|delete` and `consul acl binding-rule
create|list|read|update|delete`, with Consul's pretty output and error texts."""

from __future__ import annotations

import json
from typing import Any

from pyconsul.cli.acl_format import IDError, acl_flags, resolve_id, rules_arg, show
from pyconsul.cli.common import connect
from pyconsul.cli.flags import Parsed
from pyconsul.cli.output import error, info
from pyconsul.cli.registry import register
from pyconsul.client.errors import ConsulError

Row = dict[str, Any]


# -- formats (command/acl/authmethod and bindingrule formatters) --------------------------------
def format_method(m: Row) -> str:
    out = [f"Name:          {m.get('Name', '')}", f"Type:          {m.get('Type', '')}"]
    if m.get("DisplayName"):
        out.append(f"Display Name:  {m['DisplayName']}")
    out.append(f"Description:   {m.get('Description', '')}")
    if m.get("MaxTokenTTL"):
        out.append(f"MaxTokenTTL:   {m['MaxTokenTTL']}")
    if m.get("TokenLocality"):
        out.append(f"TokenLocality: {m['TokenLocality']}")
    out.append("Config:")
    out.append(json.dumps(m.get("Config") or {}, indent=2, sort_keys=True))  # Go sorts map keys
    return "\n".join(out)


def format_method_list(rows: list[Row]) -> str:
    out: list[str] = []
    for m in rows:
        out += [f"{m['Name']}:", f"   Type:         {m.get('Type', '')}"]
        if m.get("DisplayName"):
            out.append(f"   Display Name: {m['DisplayName']}")
        out.append(f"   Description:  {m.get('Description', '')}")
    return "\n".join(out)


def _rule_lines(r: Row, indent: str) -> list[str]:
    out = [f"{indent}AuthMethod:   {r.get('AuthMethod', '')}", f"{indent}Description:  {r.get('Description', '')}",
           f"{indent}BindType:     {r.get('BindType', '')}", f"{indent}BindName:     {r.get('BindName', '')}"]
    if r.get("BindVars"):
        out.append(f"{indent}BindVars:     Name: {r['BindVars'].get('Name', '')}")
    out.append(f"{indent}Selector:     {r.get('Selector', '')}")
    return out


def format_rule(r: Row) -> str:
    return "\n".join([f"ID:           {r.get('ID', '')}", *_rule_lines(r, "")])


def format_rule_list(rows: list[Row]) -> str:
    out: list[str] = []
    for r in rows:
        out += [f"{r['ID']}:", *_rule_lines(r, "   ")]
    return "\n".join(out)


# -- auth methods --------------------------------------------------------------------------------
def _method_flags(fs: Any) -> None:
    fs.string("display-name", "", "An optional name to use instead of the name when displaying this auth method")
    fs.string("description", "", "A description of the auth method")
    fs.string("max-token-ttl", "", "Duration of time all tokens created by this auth method should be valid for")
    fs.string("token-locality", "", "Defines the kind of token that this auth method should produce: "
                                    "'local' or 'global'")
    fs.string("config", "", "The configuration for the auth method. Must be JSON. May be prefixed with '@' to "
                            "read from a file or '-' for stdin")


def _config(opts: Parsed) -> Any:
    raw = rules_arg(opts["config"])
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise IDError(f"Error parsing JSON configuration: {exc}") from None


def _fill(body: Row, opts: Parsed) -> Row:
    for flag, key in (("display-name", "DisplayName"), ("description", "Description"),
                      ("max-token-ttl", "MaxTokenTTL"), ("token-locality", "TokenLocality")):
        if opts[flag]:
            body[key] = opts[flag]
    if opts["config"]:
        body["Config"] = _config(opts)
    return body


def method_create(argv: list[str]) -> int:
    fs = acl_flags("\nUsage: consul acl auth-method create -name NAME -type TYPE [options]\n\n"
                   "  Create a new auth method.\n")
    fs.string("type", "", "The new auth method's type. This flag is required.")
    fs.string("name", "", "The new auth method's name. This flag is required.")
    _method_flags(fs)
    opts = fs.parse(argv)
    if not opts["type"]:
        error("Missing required '-type' flag")
        error(fs.help())
        return 1
    if not opts["name"]:
        error("Missing required '-name' flag")
        error(fs.help())
        return 1
    try:
        body = _fill({"Name": opts["name"], "Type": opts["type"]}, opts)
        method = connect(opts).request("PUT", "/v1/acl/auth-method", None, json.dumps(body)).json()
    except (ConsulError, IDError, OSError) as exc:
        error(f"Failed to create new auth method: {exc}")
        return 1
    show(opts, method, format_method(method))
    return 0


def method_list(argv: list[str]) -> int:
    opts = acl_flags("\nUsage: consul acl auth-method list [options]\n\n  List all auth methods.\n").parse(argv)
    try:
        rows, _ = connect(opts).get_json("/v1/acl/auth-methods")
    except ConsulError as exc:
        error(f"Failed to retrieve the auth method list: {exc}")
        return 1
    show(opts, rows, format_method_list(rows))
    return 0


def _named(help_text: str) -> Any:
    fs = acl_flags(help_text)
    fs.string("name", "", "The name of the auth method")
    return fs


def method_read(argv: list[str]) -> int:
    opts = _named("\nUsage: consul acl auth-method read -name NAME [options]\n\n  Read an auth method.\n").parse(argv)
    if not opts["name"]:
        error("Must specify the -name parameter")
        return 1
    try:
        method, _ = connect(opts).get_json_or_none(f"/v1/acl/auth-method/{opts['name']}")
    except ConsulError as exc:
        error(f"Error reading auth method {opts['name']!r}: {exc}")
        return 1
    if method is None:
        error(f"Auth method not found with name {opts['name']!r}")
        return 1
    show(opts, method, format_method(method))
    return 0


def method_update(argv: list[str]) -> int:
    fs = _named("\nUsage: consul acl auth-method update -name NAME [options]\n\n  Update an auth method.\n")
    _method_flags(fs)
    fs.bool("no-merge", False, "Do not merge the current auth method information with what is provided")
    opts = fs.parse(argv)
    if not opts["name"]:
        error("Cannot update an auth method without specifying the -name parameter")
        return 1
    client = connect(opts)
    try:
        current, _ = client.get_json_or_none(f"/v1/acl/auth-method/{opts['name']}")
        if current is None:
            error(f"Auth method not found with name {opts['name']!r}")
            return 1
        base: Row = {"Name": opts["name"], "Type": current["Type"]} if opts["no-merge"] else current
        method = client.request("PUT", f"/v1/acl/auth-method/{opts['name']}", None,
                                json.dumps(_fill(base, opts))).json()
    except (ConsulError, IDError, OSError) as exc:
        error(f"Failed to update auth method: {exc}")
        return 1
    show(opts, method, format_method(method))
    return 0


def method_delete(argv: list[str]) -> int:
    opts = _named("\nUsage: consul acl auth-method delete -name NAME [options]\n\n  Delete an auth method.\n"
                  ).parse(argv)
    if not opts["name"]:
        error("Must specify the -name parameter")
        return 1
    try:
        connect(opts).request("DELETE", f"/v1/acl/auth-method/{opts['name']}")
    except ConsulError as exc:
        error(f"Error deleting auth method {opts['name']!r}: {exc}")
        return 1
    info(f'Auth-method "{opts["name"]}" deleted successfully')
    return 0


# -- binding rules -------------------------------------------------------------------------------
def _rule_flags(fs: Any) -> None:
    fs.string("description", "", "A description of the binding rule")
    fs.string("selector", "", "Selector is an expression that matches against verified identity attributes "
                              "returned from the auth method during login")
    fs.string("bind-type", "", "Type of binding to perform (service, node, role, policy or templated-policy)")
    fs.string("bind-name", "", "Name to bind on match. Can use ${var} interpolation")
    fs.string("bind-vars", "", "Templated policy variables, as JSON (only with -bind-type=templated-policy)")


def _rule_body(body: Row, opts: Parsed) -> Row:
    for flag, key in (("description", "Description"), ("selector", "Selector"), ("bind-type", "BindType"),
                      ("bind-name", "BindName")):
        if opts[flag]:
            body[key] = opts[flag]
    if opts["bind-vars"]:
        try:
            body["BindVars"] = json.loads(rules_arg(opts["bind-vars"]))
        except ValueError as exc:
            raise IDError(f"Error parsing JSON for the -bind-vars flag: {exc}") from None
    return body


def rule_create(argv: list[str]) -> int:
    fs = acl_flags("\nUsage: consul acl binding-rule create [options]\n\n  Create a new binding rule.\n")
    fs.string("method", "", "The auth method's name for which this binding rule applies. This flag is required.")
    _rule_flags(fs)
    opts = fs.parse(argv)
    for flag in ("method", "bind-type", "bind-name"):
        if not opts[flag]:
            error(f"Missing required '-{flag}' flag")
            error(fs.help())
            return 1
    try:
        body = _rule_body({"AuthMethod": opts["method"]}, opts)
        rule = connect(opts).request("PUT", "/v1/acl/binding-rule", None, json.dumps(body)).json()
    except (ConsulError, IDError, OSError) as exc:
        error(f"Failed to create new binding rule: {exc}")
        return 1
    show(opts, rule, format_rule(rule))
    return 0


def rule_list(argv: list[str]) -> int:
    fs = acl_flags("\nUsage: consul acl binding-rule list [options]\n\n  Lists all the ACL binding rules.\n")
    fs.string("method", "", "Only show rules linked to the auth method with the given name")
    opts = fs.parse(argv)
    try:
        rows, _ = connect(opts).get_json("/v1/acl/binding-rules", {"authmethod": opts["method"]} if opts["method"] else None)
    except ConsulError as exc:
        error(f"Failed to retrieve the binding rule list: {exc}")
        return 1
    show(opts, rows, format_rule_list(rows))
    return 0


def _rule_id(fs: Any) -> None:
    fs.string("id", "", "The ID of the binding rule. It may be specified as a unique ID prefix")


def rule_read(argv: list[str]) -> int:
    fs = acl_flags("\nUsage: consul acl binding-rule read -id ID [options]\n\n  Reads an ACL binding rule.\n")
    _rule_id(fs)
    opts = fs.parse(argv)
    if not opts["id"]:
        error("Must specify the -id parameter")
        return 1
    client = connect(opts)
    try:
        rid = resolve_id(client, "/v1/acl/binding-rules", "ID", opts["id"], "binding rule")
    except (ConsulError, IDError) as exc:
        error(f"Error determining binding rule ID: {exc}")
        return 1
    try:
        rule, _ = client.get_json_or_none(f"/v1/acl/binding-rule/{rid}")
    except ConsulError as exc:
        error(f"Error reading binding rule {rid!r}: {exc}")
        return 1
    if rule is None:
        error(f"Binding rule not found with ID {rid!r}")
        return 1
    show(opts, rule, format_rule(rule))
    return 0


def rule_update(argv: list[str]) -> int:
    fs = acl_flags("\nUsage: consul acl binding-rule update -id ID [options]\n\n  Updates a binding rule.\n")
    _rule_id(fs)
    _rule_flags(fs)
    fs.bool("no-merge", False, "Do not merge the current binding rule information with what is provided")
    opts = fs.parse(argv)
    if not opts["id"]:
        error("Cannot update a binding rule without specifying the -id parameter")
        return 1
    client = connect(opts)
    try:
        rid = resolve_id(client, "/v1/acl/binding-rules", "ID", opts["id"], "binding rule")
        current, _ = client.get_json_or_none(f"/v1/acl/binding-rule/{rid}")
        if current is None:
            error(f"Binding rule not found with ID {rid!r}")
            return 1
        base: Row = {"ID": rid, "AuthMethod": current["AuthMethod"]} if opts["no-merge"] else current
        rule = client.request("PUT", f"/v1/acl/binding-rule/{rid}", None, json.dumps(_rule_body(base, opts))).json()
    except (ConsulError, IDError, OSError) as exc:
        error(f"Failed to update binding rule {opts['id']}: {exc}")
        return 1
    show(opts, rule, format_rule(rule))
    return 0


def rule_delete(argv: list[str]) -> int:
    fs = acl_flags("\nUsage: consul acl binding-rule delete -id ID [options]\n\n  Deletes an ACL binding rule.\n")
    _rule_id(fs)
    opts = fs.parse(argv)
    if not opts["id"]:
        error("Must specify the -id parameter")
        return 1
    client = connect(opts)
    try:
        rid = resolve_id(client, "/v1/acl/binding-rules", "ID", opts["id"], "binding rule")
        client.request("DELETE", f"/v1/acl/binding-rule/{rid}")
    except (ConsulError, IDError) as exc:
        error(f"Error deleting binding rule {opts['id']!r}: {exc}")
        return 1
    info(f'Binding rule "{rid}" deleted successfully')
    return 0


register(("acl", "auth-method", "create"), method_create, "Create an ACL auth method")
register(("acl", "auth-method", "list"), method_list, "Lists ACL auth methods")
register(("acl", "auth-method", "read"), method_read, "Read an ACL auth method")
register(("acl", "auth-method", "update"), method_update, "Update an ACL auth method")
register(("acl", "auth-method", "delete"), method_delete, "Delete an ACL auth method")
register(("acl", "binding-rule", "create"), rule_create, "Create an ACL binding rule")
register(("acl", "binding-rule", "list"), rule_list, "Lists ACL binding rules")
register(("acl", "binding-rule", "read"), rule_read, "Read an ACL binding rule")
register(("acl", "binding-rule", "update"), rule_update, "Update an ACL binding rule")
register(("acl", "binding-rule", "delete"), rule_delete, "Delete an ACL binding rule")
