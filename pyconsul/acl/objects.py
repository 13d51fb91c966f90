"""Building token, policy and role rows in Consul's JSON shapes, before they go through Raft.

Pure: IDs and secrets come from an injected `new_id`, times from the caller, so a row is fixed
before the command is written and every replica stores the same bytes. Optional fields are
omitted when empty, as Consul's omitempty writes them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pyconsul.acl import builtins

Row = dict[str, Any]
NewID = Callable[[], str]


def random_id() -> str:
    return str(uuid.uuid4())


def rfc3339(epoch: float) -> str:
    """Go's RFC3339Nano in UTC: microseconds kept, trailing zeros trimmed (2018-10-24T16:25:06.921933Z)."""
    moment = datetime.fromtimestamp(epoch, tz=UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
    return text + "Z"


_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_rfc3339(text: str) -> float:
    """Epoch seconds of an RFC 3339 time as Go writes it (nanoseconds, Z or an offset)."""
    return datetime.fromisoformat(_FRACTION.sub(r"\1", text.strip())).timestamp()


def content_hash(row: Row, fields: tuple[str, ...]) -> str:
    """Base64 of a blake2b-256 over the fields that make up the object's meaning."""
    body = json.dumps({f: row.get(f) for f in fields}, sort_keys=True, separators=(",", ":"))
    return base64.b64encode(hashlib.blake2b(body.encode(), digest_size=32).digest()).decode()


_TOKEN_HASHED = ("Description", "Policies", "Roles", "ServiceIdentities", "NodeIdentities", "TemplatedPolicies",
                 "Local", "AuthMethod", "ExpirationTime")
_POLICY_HASHED = ("Name", "Description", "Rules", "Datacenters")
_ROLE_HASHED = ("Name", "Description", "Policies", "ServiceIdentities", "NodeIdentities", "TemplatedPolicies")


def token_row(
    accessor_id: str,
    secret_id: str,
    description: str = "",
    policies: list[Row] | None = None,
    roles: list[Row] | None = None,
    service_identities: list[Row] | None = None,
    node_identities: list[Row] | None = None,
    local: bool = False,
    expiration_time: str = "",
    create_time: float = 0.0,
    templated_policies: list[Row] | None = None,
    auth_method: str = "",
) -> Row:
    row: Row = {"AccessorID": accessor_id, "SecretID": secret_id, "Description": description}
    if policies:
        row["Policies"] = [{"ID": p["ID"], "Name": p.get("Name", "")} for p in policies]
    if roles:
        row["Roles"] = [{"ID": r["ID"], "Name": r.get("Name", "")} for r in roles]
    if service_identities:
        row["ServiceIdentities"] = service_identities
    if node_identities:
        row["NodeIdentities"] = node_identities
    if templated_policies:
        row["TemplatedPolicies"] = templated_policies
    row["Local"] = local
    if auth_method:
        row["AuthMethod"] = auth_method
    if expiration_time:
        row["ExpirationTime"] = expiration_time
    row["CreateTime"] = rfc3339(create_time)
    row["Hash"] = content_hash(row, _TOKEN_HASHED)
    return row


def policy_row(policy_id: str, name: str, description: str = "", rules: str = "", datacenters: list[str] | None = None) -> Row:
    row: Row = {"ID": policy_id, "Name": name, "Description": description, "Rules": rules}
    if datacenters:
        row["Datacenters"] = list(datacenters)
    row["Hash"] = content_hash(row, _POLICY_HASHED)
    return row


def role_row(role_id: str, name: str, description: str = "", policies: list[Row] | None = None,
             service_identities: list[Row] | None = None, node_identities: list[Row] | None = None,
             templated_policies: list[Row] | None = None) -> Row:
    row: Row = {"ID": role_id, "Name": name, "Description": description}
    if policies:
        row["Policies"] = [{"ID": p["ID"], "Name": p.get("Name", "")} for p in policies]
    if service_identities:
        row["ServiceIdentities"] = service_identities
    if node_identities:
        row["NodeIdentities"] = node_identities
    if templated_policies:
        row["TemplatedPolicies"] = templated_policies
    row["Hash"] = content_hash(row, _ROLE_HASHED)
    return row


_MANAGEMENT_LINK = [{"ID": builtins.GLOBAL_MANAGEMENT_ID, "Name": builtins.GLOBAL_MANAGEMENT_NAME}]


def global_management_policy() -> Row:
    return policy_row(builtins.GLOBAL_MANAGEMENT_ID, builtins.GLOBAL_MANAGEMENT_NAME,
                      builtins.GLOBAL_MANAGEMENT_DESCRIPTION)


def global_read_only_policy() -> Row:
    return policy_row(builtins.GLOBAL_READ_ONLY_ID, builtins.GLOBAL_READ_ONLY_NAME,
                      builtins.GLOBAL_READ_ONLY_DESCRIPTION, builtins.GLOBAL_READ_ONLY_RULES)


def anonymous_token(create_time: float) -> Row:
    return token_row(builtins.ANONYMOUS_ACCESSOR_ID, builtins.ANONYMOUS_SECRET_ID,
                     builtins.ANONYMOUS_DESCRIPTION, create_time=create_time)


def management_token(accessor_id: str, secret_id: str, description: str, create_time: float) -> Row:
    """The initial-management or bootstrap token: global-management, not local."""
    return token_row(accessor_id, secret_id, description, policies=_MANAGEMENT_LINK, create_time=create_time)
