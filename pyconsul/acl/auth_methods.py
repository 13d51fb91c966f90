"""Auth methods and binding rules: their rows in Consul's JSON shapes, checked as Consul checks them,
and the binder that turns a verified identity into what a login token carries.

Pure. Texts are Consul's (acl_endpoint.go, auth/binder.go); a refused input raises MethodError,
which the HTTP layer answers 400. Only the `jwt` type is served (see `jwt_method`); any other
type is refused naming what is supported, never accepted and ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyconsul.acl import jwt_method, templated
from pyconsul.api.filter import STRING, ListOf, MapOf, Struct, compile_filter
from pyconsul.api.filter_grammar import _PREFIX, FilterError
from pyconsul.gocompat.durations import format_duration, parse_duration

Row = dict[str, Any]
TYPES = ("jwt",)
BIND_TYPES = ("service", "node", "role", "policy", "templated-policy")
MIN_TTL, MAX_TTL = 60.0, 86400.0  # acl_token_{min,max}_expiration_ttl
_METHOD_NAME = re.compile(r"^[A-Za-z0-9\-_]{1,128}$")
_IDENTITY_NAME = re.compile(r"^[a-z0-9]([a-z0-9_-]{0,254}[a-z0-9])?$")
_ROLE_NAME = re.compile(r"^[A-Za-z0-9\-_]{1,256}$")
_POLICY_NAME = re.compile(r"^[A-Za-z0-9\-_]{1,128}$")
_HIL = re.compile(r"\$\{([^}]*)\}")
SELECTABLE = Struct({"value": MapOf(STRING), "list": MapOf(ListOf(STRING))})


class MethodError(ValueError):
    pass


def lower(body: Any, what: str) -> Row:
    if not isinstance(body, dict):
        raise MethodError(f"{what} decoding failed: expected an object")
    return {str(k).lower(): v for k, v in body.items()}


def _text(body: Row, key: str, what: str) -> str:
    v = body.get(key)
    if v is None:
        return ""
    if not isinstance(v, str):
        raise MethodError(f"{what} decoding failed: {key} must be a string")
    return v


# -- auth methods --------------------------------------------------------------------------------
def method_row(body: Row, existing: Row | None) -> Row:
    """An auth method as it will be stored, from a lowered request body."""
    name = _text(body, "name", "AuthMethod")
    if not name:
        raise MethodError("Invalid Auth Method: no Name is set")
    if not _METHOD_NAME.match(name):
        raise MethodError("Invalid Auth Method: invalid Name. Only alphanumeric characters, '-' and '_' are allowed")
    kind = _text(body, "type", "AuthMethod")
    if existing is not None:
        if not kind:
            kind = existing["Type"]
        elif kind != existing["Type"]:
            raise MethodError("the Type field of an Auth Method is immutable")
    if kind not in TYPES:
        extra = f" ({kind} auth methods are not supported by this agent)" if kind in ("kubernetes", "oidc") else ""
        raise MethodError(f"Invalid Auth Method: Type should be one of: [{' '.join(TYPES)}]{extra}")
    ttl = _max_ttl(body.get("maxtokenttl"))
    locality = _text(body, "tokenlocality", "AuthMethod")
    if locality not in ("", "local", "global"):
        raise MethodError("Invalid Auth Method: TokenLocality should be one of 'local' or 'global'")
    config = body.get("config") or {}
    try:
        jwt_method.parse_config(config)
    except jwt_method.ConfigError as exc:
        raise MethodError(f"Invalid Auth Method: {exc}") from None
    row: Row = {"Name": name, "Type": kind}
    for key, field_name in (("displayname", "DisplayName"), ("description", "Description")):
        if body.get(key):
            row[field_name] = _text(body, key, "AuthMethod")
    if ttl:
        row["MaxTokenTTL"] = format_duration(ttl)
    if locality:
        row["TokenLocality"] = locality
    if body.get("tokennameformat"):
        raise MethodError("Invalid Auth Method: TokenNameFormat is not supported by this agent")
    row["Config"] = config
    return row


def _max_ttl(raw: Any) -> float:
    if raw in (None, "", 0):
        return 0.0
    try:
        if isinstance(raw, bool):
            raise ValueError
        ttl = float(raw) / 1e9 if isinstance(raw, int | float) else parse_duration(str(raw))
    except ValueError:
        raise MethodError(f'AuthMethod decoding failed: time: invalid duration "{raw}"') from None
    if ttl > MAX_TTL:
        raise MethodError(f"MaxTokenTTL {format_duration(ttl)} cannot be more than {format_duration(MAX_TTL)}")
    if ttl < MIN_TTL:
        raise MethodError(f"MaxTokenTTL {format_duration(ttl)} cannot be less than {format_duration(MIN_TTL)}")
    return ttl


def method_stub(row: Row) -> Row:
    """The list view: everything but Config."""
    return {k: v for k, v in row.items() if k != "Config"}


def method_ttl(row: Row) -> float:
    return parse_duration(row["MaxTokenTTL"]) if row.get("MaxTokenTTL") else 0.0


# -- HIL bind names ------------------------------------------------------------------------------
def interpolate(template: str, variables: dict[str, str], lowercase: bool) -> str:
    """`${value.x}` replaced from `variables`; an unknown name is Consul's error."""
    def one(m: re.Match[str]) -> str:
        name = m.group(1).strip()
        if name not in variables:
            raise MethodError(f"error interpreting template: unknown variable accessed: {name}")
        value = variables[name]
        return value.lower() if lowercase else value
    return _HIL.sub(one, template)


def _bind_name(template: str, variables: dict[str, str], valid: Callable[[str], bool]) -> str:
    computed = interpolate(template, variables, True)
    if not valid(computed):
        raise MethodError(f'invalid bind name: "{computed}"')
    if "${" in template and interpolate(template, variables, False) != computed:
        raise MethodError("invalid bind name: the projected variables contain uppercase characters "
                          f'(interpolated as "{interpolate(template, variables, False)}" before lowercasing), but '
                          "bind names for this type must be lowercase; ensure the bound service or node name is "
                          "lowercase")
    return computed


_VALIDATORS: dict[str, Callable[[str], bool]] = {
    "service": lambda s: bool(_IDENTITY_NAME.match(s)),
    "node": lambda s: bool(_IDENTITY_NAME.match(s)),
    "role": lambda s: bool(_ROLE_NAME.match(s)),
    "policy": lambda s: bool(_POLICY_NAME.match(s)),
}


def _templated(bind_name: str, bind_vars: Row | None, variables: dict[str, str]) -> Row:
    t = templated.TEMPLATES.get(bind_name)
    if t is None:
        raise MethodError("Bind name for templated-policy bind type does not match existing template name: "
                          f"{bind_name}")
    name = ""
    if bind_vars and bind_vars.get("Name"):
        name = interpolate(bind_vars["Name"], variables, True)
    try:
        name = templated.check_variables(t, {"name": name} if bind_vars is not None else None)
    except templated.TemplateError as exc:
        raise MethodError(f"templated policy failed validation: {exc}") from None
    row: Row = {"TemplateName": t.name}
    if name:
        row["TemplateVariables"] = {"Name": name}
    return row


# -- binding rules -------------------------------------------------------------------------------
def _bind_vars(raw: Any) -> Row | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise MethodError("BindingRule decoding failed: BindVars must be an object")
    name = {str(k).lower(): v for k, v in raw.items()}.get("name", "")
    if not isinstance(name, str):
        raise MethodError("BindingRule decoding failed: BindVars.Name must be a string")
    return {"Name": name}


def rule_row(body: Row, rule_id: str, existing: Row | None, method: Row | None) -> Row:
    """A binding rule as it will be stored; `method` is the auth method it names (None = missing)."""
    auth_method = _text(body, "authmethod", "BindingRule")
    if existing is not None:
        if not auth_method:
            auth_method = existing["AuthMethod"]
        elif auth_method != existing["AuthMethod"]:
            raise MethodError("the AuthMethod field of an Binding Rule is immutable")
    if not auth_method:
        raise MethodError("Invalid Binding Rule: no AuthMethod is set")
    if method is None:
        raise MethodError(f'cannot find auth method with name "{auth_method}"')
    blank = jwt_method.blank_identity(jwt_method.parse_config(method.get("Config")))
    selector = _text(body, "selector", "BindingRule")
    if selector:
        try:
            compile_filter(selector, SELECTABLE)
        except FilterError as exc:
            raise MethodError(f"invalid Binding Rule: Selector is invalid: {str(exc).removeprefix(_PREFIX)}") from None
    bind_type, bind_name = _text(body, "bindtype", "BindingRule"), _text(body, "bindname", "BindingRule")
    if not bind_type:
        raise MethodError("Invalid Binding Rule: no BindType is set")
    if not bind_name:
        raise MethodError("Invalid Binding Rule: no BindName is set")
    if bind_type not in BIND_TYPES:
        raise MethodError(f'Invalid Binding Rule: unknown BindType "{bind_type}"')
    bind_vars = _bind_vars(body.get("bindvars"))
    fake = {name: "fake" for name in blank.projected()}
    try:
        if bind_type == "templated-policy":
            _templated(bind_name, bind_vars, fake)
        else:
            _bind_name(bind_name, fake, _VALIDATORS[bind_type])
    except MethodError as exc:
        raise MethodError(f'Invalid Binding Rule: invalid BindName: failed to validate bindType "{bind_type}": '
                          f"{exc}") from None
    row: Row = {"ID": rule_id, "Description": _text(body, "description", "BindingRule"), "AuthMethod": auth_method,
                "Selector": selector, "BindType": bind_type, "BindName": bind_name}
    if bind_vars is not None and bind_type == "templated-policy":
        row["BindVars"] = bind_vars
    return row


# -- the binder ----------------------------------------------------------------------------------
@dataclass
class Bindings:
    service_identities: list[Row] = field(default_factory=list)
    node_identities: list[Row] = field(default_factory=list)
    role_names: list[str] = field(default_factory=list)
    policy_names: list[str] = field(default_factory=list)
    templated_policies: list[Row] = field(default_factory=list)


def _matches(selector: str, fields: Row) -> bool:
    if not selector:
        return True
    try:
        return compile_filter(selector, SELECTABLE)(fields)
    except FilterError:
        return False  # an invalid selector matches nothing, as in Consul


def bind(rules: list[Row], identity: jwt_method.VerifiedIdentity, datacenter: str) -> Bindings:
    """Apply an auth method's binding rules to a verified identity. Roles and policies come back by
    name: the caller keeps the ones that exist (a missing one is skipped, as Consul does)."""
    out = Bindings()
    fields, variables = identity.selectable(), identity.projected()
    for rule in rules:
        if not _matches(rule.get("Selector", ""), fields):
            continue
        kind, template = rule["BindType"], rule["BindName"]
        if kind == "templated-policy":
            tp = _templated(template, rule.get("BindVars"), variables)
            if tp not in out.templated_policies:
                out.templated_policies.append(tp)
            continue
        name = _bind_name(template, variables, _VALIDATORS[kind])
        if kind == "service" and {"ServiceName": name} not in out.service_identities:
            out.service_identities.append({"ServiceName": name})
        elif kind == "node" and {"NodeName": name, "Datacenter": datacenter} not in out.node_identities:
            out.node_identities.append({"NodeName": name, "Datacenter": datacenter})
        elif kind == "role" and name not in out.role_names:
            out.role_names.append(name)
        elif kind == "policy" and name not in out.policy_names:
            out.policy_names.append(name)
    return out
