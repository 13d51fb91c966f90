"""Consul's builtin templated policies (1.17+): a name, a variables schema, and the rules they grant.

Each template is kept twice: its rule text (what `/v1/acl/templated-policies` shows and
`preview` renders, as Consul writes it) and a builder of `Rules` values, which is what
enforcement uses, so no variable can smuggle rule text in. Variables are checked before a token
or role stores them: a template that needs `name` refuses a missing or empty one, and a
service or node name must be a valid identity name.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyconsul.acl.rules import Rule, Rules

Row = dict[str, Any]

NAME_SCHEMA = """{
	"type": "object",
	"properties": {
		"name": { "type": "string", "$ref": "#/definitions/min-length-one" }
	},
	"required": ["name"],
	"definitions": {
		"min-length-one": {
				"type": "string",
				"minLength": 1
		}
	}
}"""
_IDENTITY_NAME = re.compile(r"^[a-z0-9]([a-z0-9_-]{0,254}[a-z0-9])?$")


class TemplateError(ValueError):
    """Bad template name or variables; the text is what the API answers (400)."""


@dataclass(frozen=True)
class Template:
    name: str
    template_id: str
    description: str
    schema: str  # "" = takes no variables
    text: str  # Go text/template over {{.Name}}
    build: Callable[[str], Rules]

    def render(self, name: str) -> str:
        return self.text.replace("{{.Name}}", name)


def _svc(name: str) -> Rules:
    return Rules((Rule("service", name, False, "write"), Rule("service", f"{name}-sidecar-proxy", False, "write"),
                  Rule("service", "", True, "read"), Rule("node", "", True, "read")))


def _node(name: str) -> Rules:
    return Rules((Rule("node", name, False, "write"), Rule("service", "", True, "read")))


def _dns(_: str) -> Rules:
    return Rules((Rule("node", "", True, "read"), Rule("service", "", True, "read"), Rule("query", "", True, "read")))


def _nomad_server(_: str) -> Rules:
    return Rules((Rule("agent", "", True, "read"), Rule("node", "", True, "read"),
                  Rule("service", "", True, "write")), (("acl", "write"),))


def _nomad_client(name: str) -> Rules:
    return Rules((Rule("agent", name, False, "read"), Rule("node", name, False, "write"),
                  Rule("service", "", True, "write")))


def _api_gateway(name: str) -> Rules:
    return Rules((Rule("node", "", True, "read"), Rule("service", "", True, "read"),
                  Rule("service", name, False, "write")), (("mesh", "read"),))


TEMPLATES: dict[str, Template] = {t.name: t for t in (
    Template("builtin/service", "00000000-0000-0000-0000-000000000003",
             "Gives the token or role permissions to register a service and discover services in the Consul "
             "catalog. It also gives the specified service's sidecar proxy the permission to discover and route "
             "traffic to other services.", NAME_SCHEMA,
             '\nservice "{{.Name}}" {\n\tpolicy = "write"\n}\nservice "{{.Name}}-sidecar-proxy" {\n\tpolicy = "write"\n}'
             '\nservice_prefix "" {\n\tpolicy = "read"\n}\nnode_prefix "" {\n\tpolicy = "read"\n}', _svc),
    Template("builtin/node", "00000000-0000-0000-0000-000000000004",
             "Gives the token or role permissions for a register an agent/node into the catalog. A node is "
             "typically a consul agent but can also be a physical server, cloud instance or a container.",
             NAME_SCHEMA, '\nnode "{{.Name}}" {\n\tpolicy = "write"\n}\nservice_prefix "" {\n\tpolicy = "read"\n}',
             _node),
    Template("builtin/dns", "00000000-0000-0000-0000-000000000005",
             "Gives the token or role permissions for the Consul DNS to query services in the network.", "",
             '\nnode_prefix "" {\n\tpolicy = "read"\n}\nservice_prefix "" {\n\tpolicy = "read"\n}'
             '\nquery_prefix "" {\n\tpolicy = "read"\n}', _dns),
    Template("builtin/nomad-server", "00000000-0000-0000-0000-000000000006",
             "Gives the token or role permissions required for integration with a nomad server.", "",
             '\nacl = "write"\nagent_prefix "" {\n  policy = "read"\n}\nnode_prefix "" {\n  policy = "read"\n}'
             '\nservice_prefix "" {\n  policy = "write"\n}', _nomad_server),
    Template("builtin/api-gateway", "00000000-0000-0000-0000-000000000008",
             "Gives the token or role permissions for a Consul api gateway", NAME_SCHEMA,
             'mesh = "read"\nnode_prefix "" {\n\tpolicy = "read"\n}\nservice_prefix "" {\n\tpolicy = "read"\n}'
             '\nservice "{{.Name}}" {\n\tpolicy = "write"\n}', _api_gateway),
    Template("builtin/nomad-client", "00000000-0000-0000-0000-000000000009",
             "Gives the token or role permissions required for integration with a nomad client.", NAME_SCHEMA,
             'agent "{{.Name}}" {\n  policy = "read"\n}\nnode "{{.Name}}" {\n  policy = "write"\n}'
             '\nservice_prefix "" {\n  policy = "write"\n}\n', _nomad_client),
)}


def describe(t: Template) -> Row:
    """The API's view of one template (ACLTemplatedPolicyResponse)."""
    return {"TemplateName": t.name, "Schema": t.schema, "Template": t.text, "Description": t.description}


def _variable_name(variables: Any) -> str:
    if variables is None:
        return ""
    if not isinstance(variables, dict):
        raise TemplateError("TemplateVariables must be an object")
    lowered = {str(k).lower(): v for k, v in variables.items()}
    name = lowered.get("name", "")
    if not isinstance(name, str):
        raise TemplateError("1 error occurred:\n\t* name: Invalid type. Expected: string, given: "
                            f"{type(name).__name__}\n\n")
    return name


def check_variables(t: Template, variables: Any) -> str:
    """The template's `name` variable, checked against its schema (Consul's texts)."""
    name = _variable_name(variables)
    if not t.schema:
        return ""
    if t.name == "builtin/service" and name and not _IDENTITY_NAME.match(name):
        raise TemplateError(f'service identity "{name}" has an invalid name. Only lowercase alphanumeric '
                            "characters, '-' and '_' are allowed")
    if t.name in ("builtin/node", "builtin/nomad-client") and name and not _IDENTITY_NAME.match(name):
        raise TemplateError(f'node identity "{name}"  has an invalid name. Only lowercase alphanumeric '
                            "characters, '-' and '_' are allowed")
    if name == "" and variables is not None and "name" in {str(k).lower() for k in variables}:
        raise TemplateError("1 error occurred:\n\t* String length must be greater than or equal to 1\n\n")
    if not name:
        raise TemplateError("1 error occurred:\n\t* name is required\n\n")
    if t.name == "builtin/api-gateway" and not _IDENTITY_NAME.match(name):
        # the name goes into a rule's label: keep it to service-name characters
        raise TemplateError(f'service name "{name}" has an invalid name. Only lowercase alphanumeric '
                            "characters, '-' and '_' are allowed")
    return name


def templated_policies(items: Any, holder: str = "token") -> list[Row] | None:
    """A token's or role's `TemplatedPolicies`, checked and in stored form
    ([{TemplateName, TemplateVariables: {Name}}], duplicates dropped)."""
    if items is None:
        return None
    if not isinstance(items, list):
        raise TemplateError("TemplatedPolicies must be a list")
    out: list[Row] = []
    for item in items:
        if not isinstance(item, dict):
            raise TemplateError("TemplatedPolicies entries must be objects")
        fields = {str(k).lower(): v for k, v in item.items()}
        tname = fields.get("templatename")
        t = TEMPLATES.get(tname) if isinstance(tname, str) else None
        if t is None:
            raise TemplateError(f"templated policy with an invalid templated name: {tname} for this {holder}")
        try:
            name = check_variables(t, fields.get("templatevariables"))
        except TemplateError as exc:
            raise TemplateError(f"encountered templated policy variable validation error: {exc}") from None
        row: Row = {"TemplateName": t.name}
        if name:
            row["TemplateVariables"] = {"Name": name}
        dcs = fields.get("datacenters")
        if dcs:
            if not (isinstance(dcs, list) and all(isinstance(d, str) for d in dcs)):
                raise TemplateError("TemplatedPolicies Datacenters must be a list of strings")
            row["Datacenters"] = list(dcs)
        if row not in out:
            out.append(row)
    return out or None


def rules_of(row: Row) -> Rules:
    """What one stored templated policy grants (unknown names grant nothing)."""
    t = TEMPLATES.get(row.get("TemplateName", ""))
    if t is None:
        return Rules()
    return t.build((row.get("TemplateVariables") or {}).get("Name", ""))


def synthetic_policy(t: Template, name: str) -> Row:
    """What `preview` answers: the policy the template renders to, named by its rules' hash."""
    rules = t.render(name)
    hash_id = hashlib.blake2b(rules.encode(), digest_size=16).hexdigest()
    row: Row = {"ID": hash_id, "Name": f"synthetic-policy-{hash_id}",
                "Description": f"synthetic policy generated from templated policy: {t.name}", "Rules": rules}
    row["Hash"] = base64.b64encode(hashlib.blake2b(rules.encode(), digest_size=32).digest()).decode()
    return row
