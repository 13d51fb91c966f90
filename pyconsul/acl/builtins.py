"""Built-in ACL objects whose IDs and texts clients know (section B.1 of the ACL spec)."""

from __future__ import annotations

GLOBAL_MANAGEMENT_ID = "00000000-0000-0000-0000-000000000001"
GLOBAL_MANAGEMENT_NAME = "global-management"
GLOBAL_MANAGEMENT_DESCRIPTION = "Builtin Policy that grants unlimited access"
GLOBAL_READ_ONLY_ID = "00000000-0000-0000-0000-000000000002"
GLOBAL_READ_ONLY_NAME = "builtin/global-read-only"
GLOBAL_READ_ONLY_DESCRIPTION = "Builtin Policy that grants unlimited read-only access to all components"
# Read on everything a rule can name; acl read comes with it.
GLOBAL_READ_ONLY_RULES = """
acl = "read"
agent_prefix "" { policy = "read" }
event_prefix "" { policy = "read" }
key_prefix "" { policy = "read" }
keyring = "read"
mesh = "read"
node_prefix "" { policy = "read" }
operator = "read"
peering = "read"
query_prefix "" { policy = "read" }
service_prefix "" { policy = "read" intentions = "read" }
session_prefix "" { policy = "read" }
"""

ANONYMOUS_ACCESSOR_ID = "00000000-0000-0000-0000-000000000002"
ANONYMOUS_SECRET_ID = "anonymous"
ANONYMOUS_DESCRIPTION = "Anonymous Token"

INITIAL_MANAGEMENT_DESCRIPTION = "Initial Management Token"
BOOTSTRAP_DESCRIPTION = "Bootstrap Token (Global Management)"
