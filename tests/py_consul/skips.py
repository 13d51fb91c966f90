"""The py-consul methods not tested against our agent yet, each naming the open issue that owns its
endpoint. `test_methods.py` reads this table; nothing else may be skipped, and a method that
comes off this list must get a test (the coverage test fails otherwise)."""

from __future__ import annotations

ACL = (15, "ACL auth methods, binding rules, login and templated policies")
CONNECT = (16, "Connect, intentions, config entries and gateways")

_ACL_METHODS = [
    "acl.login", "acl.logout",
    *(f"acl.auth_method.{m}" for m in ("create", "delete", "list", "read", "update")),
    *(f"acl.binding_rule.{m}" for m in ("create", "delete", "list", "read", "update")),
    *(f"acl.templated_policies.{m}" for m in ("list", "preview", "read")),
]
_CONNECT_METHODS: list[str] = []

SKIPS: dict[str, tuple[int, str]] = {
    **dict.fromkeys(_ACL_METHODS, ACL),
    **dict.fromkeys(_CONNECT_METHODS, CONNECT),
}
