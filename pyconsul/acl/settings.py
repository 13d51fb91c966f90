"""The agent's effective ACL settings from its config: the `acl {}` stanza, the old names, warnings.

Consul renamed its ACL keys twice; old names still work and each one used logs a deprecation
warning. Where an old and a new name are both written, the new one wins (as Consul's
deprecated.go applies them). `acl_datacenter` also turns ACLs on, as it did before 1.4.

Pure: `acl_settings(rc, given)` reads the typed config and the set of key paths a file wrote;
the shell logs the warnings and refuses to start on the errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_POLICIES = ("allow", "deny")
DOWN_POLICIES = ("allow", "deny", "extend-cache", "async-cache")


@dataclass(frozen=True)
class ACLSettings:
    enabled: bool = False
    default_policy: str = "allow"
    down_policy: str = "extend-cache"
    token_ttl: float = 30.0
    policy_ttl: float = 30.0
    role_ttl: float = 30.0
    enable_key_list_policy: bool = False
    enable_token_persistence: bool = False
    enable_token_replication: bool = False
    initial_management: str = ""
    agent: str = ""
    agent_recovery: str = ""
    default: str = ""
    replication: str = ""
    dns: str = ""


# old path → (new path, field of ACLSettings it sets, where its value lives in the RuntimeConfig)
_RENAMED: dict[str, tuple[str, str]] = {
    "acl_default_policy": ("acl.default_policy", "default_policy"),
    "acl_down_policy": ("acl.down_policy", "down_policy"),
    "acl_ttl": ("acl.token_ttl", "token_ttl"),
    "acl_master_token": ("acl.tokens.initial_management", "initial_management"),
    "acl.tokens.master": ("acl.tokens.initial_management", "initial_management"),
    "acl_agent_master_token": ("acl.tokens.agent_recovery", "agent_recovery"),
    "acl.tokens.agent_master": ("acl.tokens.agent_recovery", "agent_recovery"),
    "acl_agent_token": ("acl.tokens.agent", "agent"),
    "acl_token": ("acl.tokens.default", "default"),
    "acl_replication_token": ("acl.tokens.replication", "replication"),
    "enable_acl_replication": ("acl.enable_token_replication", "enable_token_replication"),
}


def deprecation_text(old: str, new: str) -> str:
    return f"The '{old}' field is deprecated. Use the '{new}' field instead."


def _value(rc: Any, path: str) -> Any:
    value = rc
    for part in path.split("."):
        value = getattr(value, part)
    return value


def acl_settings(rc: Any, given: frozenset[str]) -> tuple[ACLSettings, list[str], list[str]]:
    """(settings, warnings, errors) for the merged config `rc` whose files wrote `given` paths."""
    acl = rc.acl
    tokens = acl.tokens
    values: dict[str, Any] = {
        "enabled": acl.enabled,
        "default_policy": acl.default_policy,
        "down_policy": acl.down_policy,
        "token_ttl": acl.token_ttl,
        "policy_ttl": acl.policy_ttl,
        "role_ttl": acl.role_ttl,
        "enable_key_list_policy": acl.enable_key_list_policy,
        "enable_token_persistence": acl.enable_token_persistence,
        "enable_token_replication": acl.enable_token_replication,
        "initial_management": tokens.initial_management,
        "agent": tokens.agent,
        "agent_recovery": tokens.agent_recovery,
        "default": tokens.default,
        "replication": tokens.replication,
        "dns": tokens.dns,
    }
    warnings: list[str] = []
    for old, (new, name) in _RENAMED.items():
        if old not in given:
            continue
        warnings.append(deprecation_text(old, new))
        if new not in given:
            values[name] = _value(rc, old)
    if "acl_datacenter" in given:
        warnings.append(deprecation_text("acl_datacenter", "primary_datacenter"))
        if rc.acl_datacenter:
            values["enabled"] = True
    if "acl_enforce_version_8" in given:
        warnings.append("The 'acl_enforce_version_8' field is deprecated and has no effect.")
    errors: list[str] = []
    if values["default_policy"] not in DEFAULT_POLICIES:
        errors.append(f"acl.default_policy must be one of allow, deny: got {values['default_policy']!r}")
    if values["down_policy"] not in DOWN_POLICIES:
        errors.append(f"acl.down_policy must be one of {', '.join(DOWN_POLICIES)}: got {values['down_policy']!r}")
    for ttl in ("token_ttl", "policy_ttl", "role_ttl"):
        if values[ttl] < 0:
            errors.append(f"acl.{ttl} must not be negative")
    return ACLSettings(**values), warnings, errors


def written_paths(rc: Any) -> frozenset[str]:
    """The ACL key paths (old and new) holding a value other than empty, for an agent that no
    longer knows which file wrote what: a set old name then still counts, a new one still wins."""
    paths = {old for old in _RENAMED if _value(rc, old)} | {new for new, _ in _RENAMED.values() if _value(rc, new)}
    if rc.acl_datacenter:
        paths.add("acl_datacenter")
    return frozenset(paths)
