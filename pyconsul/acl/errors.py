"""Consul's ACL error texts. Any text holding "Permission denied" or "ACL not found" answers 403."""

from __future__ import annotations

ACL_NOT_FOUND = "ACL not found"
ACL_DISABLED = "ACL support disabled"
PERMISSION_DENIED = "Permission denied"


class PermissionDenied(Exception):
    """A token lacks a right; str() is the 403 body."""

    def __init__(self, accessor_id: str, resource: str, access: str, name: str | None = None) -> None:
        super().__init__(permission_denied_text(accessor_id, resource, access, name))
        self.accessor_id = accessor_id
        self.resource = resource
        self.access = access
        self.name = name


def permission_denied_text(accessor_id: str, resource: str, access: str, name: str | None = None) -> str:
    """`Permission denied: token with AccessorID '<id>' lacks permission '<res>:<access>' on "<name>"`.

    Unlabeled resources (acl, operator, keyring, mesh, peering) have no ` on "…"` part; without
    an accessor (an unresolved token) Consul says "provided token".
    """
    who = f"token with AccessorID '{accessor_id}'" if accessor_id else "provided token"
    text = f"{PERMISSION_DENIED}: {who} lacks permission '{resource}:{access}'"
    if name is not None:
        text += f' on "{name}"'
    return text


def bootstrap_denied_text(reset_index: int) -> str:
    return f"{PERMISSION_DENIED}: ACL bootstrap no longer allowed (reset index: {reset_index})"
