"""Consul's pretty formats for ACL objects (labels padded, list items indented 3 spaces), and the
helpers every `acl` subcommand shares: flags, output, rules arguments, ID prefixes."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

from pyconsul.cli.common import new_flags
from pyconsul.cli.flags import Parsed
from pyconsul.cli.output import info
from pyconsul.client.sync import Client

Row = dict[str, Any]
UUID_LEN = 36


def acl_flags(help_text: str) -> Any:
    fs = new_flags(help_text, http="client")
    fs.string("format", "pretty", "Output format {pretty|json}")
    return fs


def pretty_time(text: str) -> str:
    try:
        return str(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return text


def _links(title: str, links: list[Row] | None, indent: str = "") -> list[str]:
    if not links:
        return []
    return [f"{indent}{title}:"] + [f"{indent}   {link['ID']} - {link['Name']}" for link in links]


def _identities(holder: Row, indent: str = "") -> list[str]:
    lines: list[str] = []
    if holder.get("ServiceIdentities"):
        lines.append(f"{indent}Service Identities:")
        for s in holder["ServiceIdentities"]:
            dcs = s.get("Datacenters") or []
            lines.append(f"{indent}   {s['ServiceName']} (Datacenters: {', '.join(dcs) if dcs else 'all'})")
    if holder.get("NodeIdentities"):
        lines.append(f"{indent}Node Identities:")
        lines += [f"{indent}   {n['NodeName']} (Datacenter: {n.get('Datacenter', '')})" for n in holder["NodeIdentities"]]
    if holder.get("TemplatedPolicies"):
        lines.append(f"{indent}Templated Policies:")
        for t in holder["TemplatedPolicies"]:
            lines.append(f"{indent}   {t['TemplateName']}")
            name = (t.get("TemplateVariables") or {}).get("Name")
            if name:
                lines.append(f"{indent}      Name: {name}")
            lines.append(f"{indent}      Datacenters: {', '.join(t.get('Datacenters') or []) or 'all'}")
    return lines


def format_token(tok: Row) -> str:
    """Consul's PrettyFormatter.FormatToken."""
    lines = [
        f"{'AccessorID:':<18}{tok.get('AccessorID', '')}",
        f"{'SecretID:':<18}{tok.get('SecretID', '')}",
        f"{'Description:':<18}{tok.get('Description', '')}",
        f"{'Local:':<18}{str(bool(tok.get('Local'))).lower()}",
        f"{'Create Time:':<18}{pretty_time(tok.get('CreateTime', ''))}",
    ]
    if tok.get("AuthMethod"):
        lines.append(f"{'Auth Method:':<18}{tok['AuthMethod']}")
    if tok.get("ExpirationTime"):
        lines.append(f"{'Expiration Time:':<18}{pretty_time(tok['ExpirationTime'])}")
    lines += _links("Policies", tok.get("Policies")) + _links("Roles", tok.get("Roles")) + _identities(tok)
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


def format_role(role: Row) -> str:
    lines = [
        f"{'ID:':<14}{role.get('ID', '')}",
        f"{'Name:':<14}{role.get('Name', '')}",
        f"{'Description:':<14}{role.get('Description', '')}",
    ]
    return "\n".join(lines + _links("Policies", role.get("Policies")) + _identities(role))


def format_role_list(roles: list[Row]) -> str:
    out: list[str] = []
    for role in roles:
        out += [f"{role['Name']}:", f"   {'ID:':<14}{role['ID']}", f"   {'Description:':<14}{role.get('Description', '')}"]
        out += _links("Policies", role.get("Policies"), "   ") + _identities(role, "   ")
    return "\n".join(out)


def show(opts: Parsed, value: Any, pretty: str) -> None:
    info(json.dumps(value, indent=4) if opts["format"] == "json" else pretty)


def rules_arg(value: str) -> str:
    """-rules: the text, `@file`, or `-` for stdin."""
    if value.startswith("@"):
        with open(value[1:], encoding="utf-8") as fh:
            return fh.read()
    if value == "-":
        return sys.stdin.read()
    return value


class IDError(Exception):
    pass


def resolve_id(client: Client, list_path: str, id_field: str, prefix: str, what: str) -> str:
    """A full ID from a unique prefix, as Consul's CLI accepts (a full UUID is taken as it is)."""
    if len(prefix) == UUID_LEN:
        return prefix
    rows, _ = client.get_json(list_path)
    found = [r[id_field] for r in rows if r[id_field].startswith(prefix)]
    if not found:
        raise IDError(f"No such {what} ID with prefix: {prefix}")
    if len(found) > 1:
        raise IDError(f"Multiple {what} IDs found with prefix: {prefix}")
    return str(found[0])


def identity_flags(service: list[str], node: list[str]) -> tuple[list[Row], list[Row]]:
    """-service-identity svc[:dc1,dc2] and -node-identity node:dc as Consul parses them."""
    services: list[Row] = []
    for item in service:
        name, _, dcs = item.partition(":")
        row: Row = {"ServiceName": name}
        if dcs:
            row["Datacenters"] = [d for d in dcs.split(",") if d]
        services.append(row)
    nodes: list[Row] = []
    for item in node:
        name, sep, dc = item.partition(":")
        if not sep or not name or not dc:
            raise IDError(f"Malformed -node-identity argument: {item!r}")
        nodes.append({"NodeName": name, "Datacenter": dc})
    return services, nodes


def templated_flags(fs: Any) -> None:
    fs.string("templated-policy", "", "The templated policy name. Use -var flag to specify variables when required")
    fs.list("var", "Templated policy variables, as key:value (with -templated-policy)")


def templated_policies(opts: Parsed) -> list[Row]:
    """-templated-policy NAME [-var name:value], as Consul's CLI reads them."""
    name = opts["templated-policy"]
    if not name:
        if opts["var"]:
            raise IDError("Cannot specify -var without -templated-policy")
        return []
    variables: Row = {}
    for item in opts["var"]:
        key, sep, value = item.partition(":")
        if not sep or not key:
            raise IDError(f"Malformed -var argument: {item!r}, expecting VariableName:Value")
        if key.lower() != "name":
            raise IDError(f"Unknown templated policy variable: {key!r}")
        variables["Name"] = value
    row: Row = {"TemplateName": name}
    if variables:
        row["TemplateVariables"] = variables
    return [row]
