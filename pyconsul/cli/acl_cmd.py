"""`consul acl`: bootstrap, policy create|list|read|delete, token create|list|read|delete,
set-agent-token — with Consul's pretty output (labels padded to 18 columns) or -format=json.
The token comes from -token, -token-file, CONSUL_HTTP_TOKEN or CONSUL_HTTP_TOKEN_FILE."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

from pyconsul.cli.common import connect, new_flags
from pyconsul.cli.flags import Parsed
from pyconsul.cli.http import ConsulError
from pyconsul.cli.output import error, info
from pyconsul.cli.registry import register, register_group

Row = dict[str, Any]

GROUP_HELP = """
Usage: consul acl <subcommand> [options] [args]

  This command has subcommands for interacting with Consul's ACLs.
"""


def _flags(help_text: str) -> Any:
    fs = new_flags(help_text, http="client")
    fs.string("format", "pretty", "Output format {pretty|json}")
    return fs


def _pretty_time(text: str) -> str:
    try:
        return str(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return text


def format_token(tok: Row) -> str:
    """Consul's PrettyFormatter.FormatToken."""
    lines = [
        f"{'AccessorID:':<18}{tok.get('AccessorID', '')}",
        f"{'SecretID:':<18}{tok.get('SecretID', '')}",
        f"{'Description:':<18}{tok.get('Description', '')}",
        f"{'Local:':<18}{str(bool(tok.get('Local'))).lower()}",
        f"{'Create Time:':<18}{_pretty_time(tok.get('CreateTime', ''))}",
    ]
    if tok.get("ExpirationTime"):
        lines.append(f"{'Expiration Time:':<18}{_pretty_time(tok['ExpirationTime'])}")
    if tok.get("Policies"):
        lines.append("Policies:")
        lines += [f"   {p['ID']} - {p['Name']}" for p in tok["Policies"]]
    if tok.get("Roles"):
        lines.append("Roles:")
        lines += [f"   {r['ID']} - {r['Name']}" for r in tok["Roles"]]
    if tok.get("ServiceIdentities"):
        lines.append("Service Identities:")
        for s in tok["ServiceIdentities"]:
            dcs = s.get("Datacenters") or []
            lines.append(f"   {s['ServiceName']} (Datacenters: {', '.join(dcs) if dcs else 'all'})")
    if tok.get("NodeIdentities"):
        lines.append("Node Identities:")
        lines += [f"   {n['NodeName']} (Datacenter: {n.get('Datacenter', '')})" for n in tok["NodeIdentities"]]
    return "\n".join(lines)


def format_policy(pol: Row) -> str:
    return "\n".join([
        f"{'ID:':<14}{pol.get('ID', '')}",
        f"{'Name:':<14}{pol.get('Name', '')}",
        f"{'Description:':<14}{pol.get('Description', '')}",
        f"{'Datacenters:':<14}{', '.join(pol.get('Datacenters') or [])}",
        "Rules:",
        pol.get("Rules", ""),
    ])


def _show(opts: Parsed, value: Any, pretty: str) -> None:
    info(json.dumps(value, indent=4) if opts["format"] == "json" else pretty)


def bootstrap(argv: list[str]) -> int:
    opts = _flags("\nUsage: consul acl bootstrap [options]\n\n  Bootstraps Consul's ACL system.\n").parse(argv)
    try:
        tok = connect(opts).request("PUT", "/v1/acl/bootstrap").json()
    except ConsulError as exc:
        error(f"Failed ACL bootstrapping: {exc}")
        return 1
    tok.pop("ID", None)
    _show(opts, tok, format_token(tok))
    return 0


def _rules_arg(value: str) -> str:
    if value.startswith("@"):
        with open(value[1:], encoding="utf-8") as fh:
            return fh.read()
    if value == "-":
        return sys.stdin.read()
    return value


def policy_create(argv: list[str]) -> int:
    fs = _flags("\nUsage: consul acl policy create -name NAME [options]\n\n  Creates a new ACL policy.\n")
    fs.string("name", "", "The new policy's name. This flag is required.")
    fs.string("description", "", "A description of the policy")
    fs.string("rules", "", "The policy rules. May be prefixed with '@' to indicate a file or '-' for stdin")
    opts = fs.parse(argv)
    if not opts["name"]:
        error("Missing require '-name' flag")
        error(fs.help())
        return 1
    try:
        rules = _rules_arg(opts["rules"])
    except OSError as exc:
        error(f"Invalid rules: {exc}")
        return 1
    body = json.dumps({"Name": opts["name"], "Description": opts["description"], "Rules": rules})
    try:
        pol = connect(opts).request("PUT", "/v1/acl/policy", None, body).json()
    except ConsulError as exc:
        error(f"Failed to create new policy: {exc}")
        return 1
    _show(opts, pol, format_policy(pol))
    return 0


def policy_list(argv: list[str]) -> int:
    opts = _flags("\nUsage: consul acl policy list [options]\n\n  Lists all the ACL policies.\n").parse(argv)
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


def token_create(argv: list[str]) -> int:
    fs = _flags("\nUsage: consul acl token create [options]\n\n  Create a new token.\n")
    fs.string("description", "", "A description of the token")
    fs.string("secret", "", "The secret ID of the new token")
    fs.string("accessor", "", "The accessor ID of the new token")
    fs.list("policy-name", "Name of a policy to use for this token. May be specified multiple times")
    fs.list("policy-id", "ID of a policy to use for this token. May be specified multiple times")
    fs.string("expires-ttl", "", "Duration of time this token should be valid for")
    opts = fs.parse(argv)
    links = [{"Name": n} for n in opts["policy-name"]] + [{"ID": i} for i in opts["policy-id"]]
    if not links:
        error("Cannot create a token without specifying -policy-name, -policy-id, -role-name, -role-id, "
              "-service-identity, or -node-identity at least once")
        return 1
    body: Row = {"Description": opts["description"], "Policies": links}
    for flag, key in (("secret", "SecretID"), ("accessor", "AccessorID"), ("expires-ttl", "ExpirationTTL")):
        if opts[flag]:
            body[key] = opts[flag]
    try:
        tok = connect(opts).request("PUT", "/v1/acl/token", None, json.dumps(body)).json()
    except ConsulError as exc:
        error(f"Failed to create new token: {exc}")
        return 1
    _show(opts, tok, format_token(tok))
    return 0


def set_agent_token(argv: list[str]) -> int:
    opts = new_flags("\nUsage: consul acl set-agent-token [options] TYPE TOKEN\n", http="client").parse(argv)
    if not opts.args:
        error("Missing TYPE and TOKEN arguments")
        return 1
    if len(opts.args) < 2:
        error("Missing TOKEN argument")
        return 1
    kind, token = opts.args[0], opts.args[1]
    if kind not in ("default", "agent", "recovery", "agent_recovery", "replication", "dns",
                    "config_file_service_registration", "master", "agent_master"):
        error("Unknown token type")
        return 1
    path_kind = {"recovery": "agent_recovery", "master": "agent_recovery"}.get(kind, kind)
    try:
        connect(opts).request("PUT", f"/v1/agent/token/{path_kind}", None, json.dumps({"Token": token}))
    except ConsulError as exc:
        error(f'Failed to set ACL token "{kind}": {exc}')
        return 1
    info(f'ACL token "{kind}" set successfully')
    return 0


register_group(("acl",), "Interact with Consul's ACLs", GROUP_HELP)
register_group(("acl", "policy"), "Manage Consul's ACL policies", "\nUsage: consul acl policy <subcommand> [options] [args]\n")
register_group(("acl", "token"), "Manage Consul's ACL tokens", "\nUsage: consul acl token <subcommand> [options] [args]\n")
register(("acl", "bootstrap"), bootstrap, "Bootstrap Consul's ACL system")
register(("acl", "policy", "create"), policy_create, "Create an ACL policy")
register(("acl", "policy", "list"), policy_list, "Lists ACL policies")
register(("acl", "token", "create"), token_create, "Create an ACL token")
register(("acl", "set-agent-token"), set_agent_token, "Assign tokens for the Consul agent's usage")
