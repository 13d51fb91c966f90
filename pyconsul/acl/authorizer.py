"""Deciding one access: the rules of a token's policies merged, then the default policy.

Precedence (Consul's, acl-rules.mdx):
- For one resource and name, an exact rule on that name wins; otherwise the longest matching
  prefix rule decides; otherwise the default policy does.
- Rules on the same segment (same resource, both exact or both prefix) from several policies of
  one token merge with deny > write > list > read.
- A rule's disposition grants: write → read, list, write; list → read, list; read → read; deny
  → nothing.
- `service` rules also govern intentions on that destination: the `intentions` attribute when
  written, else read when the service policy is read or write (so a service can learn who may
  connect to it), else deny.
- `mesh` and `peering` fall back to `operator` when a token has no rule for them.
- Default "allow" allows everything except acl:read/acl:write, which need a management token
  (global-management policy or one with `acl = "write"`/"read").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import Protocol

from pyconsul.acl.rules import LABELED, UNLABELED, Rules

# Labeled resources the checks name; "intentions" is derived from service rules.
RESOURCES = (*LABELED, "intentions", *UNLABELED)


class Level(IntEnum):
    """A rule's disposition, ordered by merge priority (higher wins on the same segment)."""

    READ = 1
    LIST = 2
    WRITE = 3
    DENY = 4


_LEVEL = {"read": Level.READ, "list": Level.LIST, "write": Level.WRITE, "deny": Level.DENY}
ACCESSES = ("read", "list", "write")


class Decision(Enum):
    ALLOW = "allow"
    DENY = "deny"
    DEFAULT = "default"  # no rule matched: the next authorizer in the chain decides


def grants(level: Level, access: str) -> bool:
    """Whether a rule of `level` grants `access` (read, list or write)."""
    if level is Level.WRITE:
        return True
    if level is Level.LIST:
        return access in ("read", "list")
    if level is Level.READ:
        return access == "read"
    return False


class Authorizer(Protocol):
    """What an enforcement point asks: may this token do `access` on `resource` named `name`?"""

    def decide(self, resource: str, access: str, name: str = "") -> Decision: ...


@dataclass
class _Tree:
    """Exact and prefix rules of one resource: segment → merged level."""

    exact: dict[str, Level] = field(default_factory=dict)
    prefix: dict[str, Level] = field(default_factory=dict)

    def add(self, segment: str, prefix: bool, level: Level) -> None:
        table = self.prefix if prefix else self.exact
        current = table.get(segment)
        table[segment] = level if current is None else max(current, level)

    def lookup(self, name: str) -> Level | None:
        """Exact rule on `name`, else the longest prefix rule that `name` starts with."""
        level = self.exact.get(name)
        if level is not None:
            return level
        if not self.prefix:
            return None
        for end in range(len(name), -1, -1):
            level = self.prefix.get(name[:end])
            if level is not None:
                return level
        return None

    def below(self, prefix: str) -> Iterable[Level]:
        """Levels of every rule whose segment starts with `prefix` (exact or prefix)."""
        for table in (self.exact, self.prefix):
            for segment, level in table.items():
                if segment.startswith(prefix):
                    yield level


class PolicyAuthorizer:
    """The merged rules of one token's policies. Answers DEFAULT where no rule speaks."""

    def __init__(self, rule_sets: Iterable[Rules]) -> None:
        self.trees: dict[str, _Tree] = {name: _Tree() for name in (*LABELED, "intentions")}
        self.flat: dict[str, Level] = {}
        for rules in rule_sets:
            for rule in rules.labeled:
                if rule.policy:
                    self.trees[rule.resource].add(rule.segment, rule.prefix, _LEVEL[rule.policy])
                if rule.resource == "service":
                    intentions = rule.intentions or ("read" if rule.policy in ("read", "write") else "deny")
                    self.trees["intentions"].add(rule.segment, rule.prefix, _LEVEL[intentions])
            for resource, disposition in rules.unlabeled:
                level = _LEVEL[disposition]
                self.flat[resource] = max(self.flat.get(resource, level), level)

    def decide(self, resource: str, access: str, name: str = "") -> Decision:
        if resource in self.trees:
            level = self.trees[resource].lookup(name)
        else:
            level = self.flat.get(resource)
            if level is None and resource in ("mesh", "peering"):
                level = self.flat.get("operator")
        if level is None:
            return Decision.DEFAULT
        return Decision.ALLOW if grants(level, access) else Decision.DENY

    def decide_key_write_prefix(self, prefix: str) -> Decision:
        """Write on every key under `prefix` (delete-tree): no rule below may grant less than write."""
        return self.decide_all_below("key", "write", prefix)

    def decide_all_below(self, resource: str, access: str, prefix: str) -> Decision:
        """`access` on every name starting with `prefix`: every rule below must grant it, then
        the longest prefix rule covering `prefix` itself decides; none → DEFAULT."""
        tree = self.trees.get(resource)
        if tree is None:
            return self.decide(resource, access, prefix)
        if any(not grants(level, access) for level in tree.below(prefix)):
            return Decision.DENY
        for end in range(len(prefix), -1, -1):
            level = tree.prefix.get(prefix[:end])
            if level is not None:
                return Decision.ALLOW if grants(level, access) else Decision.DENY
        return Decision.DEFAULT


class StaticAuthorizer:
    """allow-all (default_policy allow), deny-all (deny), or manage-all (global-management)."""

    def __init__(self, allow: bool, manage: bool = False) -> None:
        self.allow = allow
        self.manage = manage

    def decide(self, resource: str, access: str, name: str = "") -> Decision:
        if resource == "acl" and not self.manage:
            return Decision.DENY
        return Decision.ALLOW if self.allow else Decision.DENY

    def decide_key_write_prefix(self, prefix: str) -> Decision:
        return Decision.ALLOW if self.allow else Decision.DENY

    def decide_all_below(self, resource: str, access: str, prefix: str) -> Decision:
        return self.decide(resource, access, prefix)


ALLOW_ALL = StaticAuthorizer(True)
DENY_ALL = StaticAuthorizer(False)
MANAGE_ALL = StaticAuthorizer(True, manage=True)


class ChainedAuthorizer:
    """A token's authorizer, then the agent's default: the first non-DEFAULT answer decides."""

    def __init__(self, *chain: PolicyAuthorizer | StaticAuthorizer) -> None:
        self.chain = chain

    def decide(self, resource: str, access: str, name: str = "") -> Decision:
        for link in self.chain:
            decision = link.decide(resource, access, name)
            if decision is not Decision.DEFAULT:
                return decision
        return Decision.DENY

    def allowed(self, resource: str, access: str, name: str = "") -> bool:
        return self.decide(resource, access, name) is Decision.ALLOW

    def key_write_prefix(self, prefix: str) -> bool:
        return self.all_below("key", "write", prefix)

    def all_below(self, resource: str, access: str, prefix: str = "") -> bool:
        """`access` on every name under `prefix` (with "" : on every name of the resource)."""
        for link in self.chain:
            decision = link.decide_all_below(resource, access, prefix)
            if decision is not Decision.DEFAULT:
                return decision is Decision.ALLOW
        return False


def token_authorizer(rule_sets: Iterable[Rules], default_policy: str, management: bool = False) -> ChainedAuthorizer:
    """The authorizer for a token holding policies with `rule_sets` under `default_policy`."""
    if management:
        return ChainedAuthorizer(MANAGE_ALL)
    default = ALLOW_ALL if default_policy == "allow" else DENY_ALL
    return ChainedAuthorizer(PolicyAuthorizer(rule_sets), default)
