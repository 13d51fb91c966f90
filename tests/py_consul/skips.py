"""The py-consul methods not tested against our agent yet, each naming the open issue that owns its
endpoint. `test_methods.py` reads this table; nothing else may be skipped, and a method that
comes off this list must get a test (the coverage test fails otherwise)."""

from __future__ import annotations

CONNECT = (16, "Connect, intentions, config entries and gateways")

_CONNECT_METHODS = [
    "agent.connect.authorize", "agent.connect.ca.leaf", "agent.connect.ca.roots",
    "connect.ca.configuration", "connect.ca.roots", "connect.ca.update_configuration",
    *(f"connect.intentions.{m}" for m in ("check", "delete", "list", "match", "read", "upsert")),
]

SKIPS: dict[str, tuple[int, str]] = {
    **dict.fromkeys(_CONNECT_METHODS, CONNECT),
}
