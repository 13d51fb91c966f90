"""Typed write commands. Every change to the state store is one of these, appended to the log.

Encoding is msgpack of `[type_name, fields]`; decoding an unknown type raises UnknownCommand, so
replicas never silently diverge. Payloads use Consul's JSON shapes (CamelCase dicts) because those
are what the API receives and what the store keeps.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

import msgpack


class UnknownCommand(Exception):
    pass


_REGISTRY: dict[str, type[Command]] = {}


@dataclass
class Command:
    TYPE: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.TYPE:
            if cls.TYPE in _REGISTRY:
                raise TypeError(f"duplicate command type {cls.TYPE}")
            _REGISTRY[cls.TYPE] = cls


@dataclass
class Register(Command):
    """Catalog.Register: upsert a node, optionally one service and some checks."""

    TYPE: ClassVar[str] = "register"
    node: dict[str, Any]  # ID, Node, Address, Datacenter, TaggedAddresses, Meta
    service: dict[str, Any] | None = None
    checks: list[dict[str, Any]] = field(default_factory=list)
    skip_node_update: bool = False


@dataclass
class Deregister(Command):
    """Catalog.Deregister: a whole node, or one service (and its checks), or one check."""

    TYPE: ClassVar[str] = "deregister"
    node: str
    service_id: str = ""
    check_id: str = ""


@dataclass
class KVOp(Command):
    """One KV verb: set, cas, lock, unlock, delete, delete-cas, delete-tree."""

    TYPE: ClassVar[str] = "kv"
    verb: str
    key: str
    value: bytes | None = None
    flags: int = 0
    index: int = 0  # for cas / delete-cas
    session: str = ""


@dataclass
class Txn(Command):
    """Atomic list of operations in Consul's /v1/txn shape (KV verbs; Node/Service/Check verbs)."""

    TYPE: ClassVar[str] = "txn"
    ops: list[dict[str, Any]]


@dataclass
class SessionCreate(Command):
    TYPE: ClassVar[str] = "session-create"
    session: dict[str, Any]  # ID, Name, Node, NodeChecks, ServiceChecks, LockDelay(ns), Behavior, TTL


@dataclass
class SessionDestroy(Command):
    TYPE: ClassVar[str] = "session-destroy"
    session_id: str


@dataclass
class EventFire(Command):
    TYPE: ClassVar[str] = "event"
    event: dict[str, Any]  # ID, Name, Payload, NodeFilter, ServiceFilter, TagFilter


@dataclass
class TombstoneReap(Command):
    """Forget KV tombstones up to an index (they only exist to wake blocking queries)."""

    TYPE: ClassVar[str] = "tombstone-reap"
    index: int


@dataclass
class AutopilotSet(Command):
    """Operator.AutopilotSetConfiguration: the whole configuration, optionally check-and-set."""

    TYPE: ClassVar[str] = "autopilot-set"
    config: dict[str, Any]
    cas: int | None = None


@dataclass
class PreparedQuerySet(Command):
    """PreparedQuery.Apply create/update: the whole validated definition (ID chosen by the API)."""

    TYPE: ClassVar[str] = "query-set"
    query: dict[str, Any]
    create: bool = True


@dataclass
class PreparedQueryDelete(Command):
    TYPE: ClassVar[str] = "query-delete"
    query_id: str


@dataclass
class CoordinateBatchUpdate(Command):
    """Coordinate.Update: [{Node, Segment, Coord}], batched by the server that received them."""

    TYPE: ClassVar[str] = "coordinate-update"
    updates: list[dict[str, Any]]


@dataclass
class ACLBootstrap(Command):
    """ACL.BootstrapTokens: the first management token; `reset_index` from acl-bootstrap-reset."""

    TYPE: ClassVar[str] = "acl-bootstrap"
    token: dict[str, Any]
    reset_index: int = 0


@dataclass
class ACLTokenSet(Command):
    """Create or update one token (the row as the endpoint built it: IDs, CreateTime, Hash)."""

    TYPE: ClassVar[str] = "acl-token-set"
    token: dict[str, Any]


@dataclass
class ACLTokenDelete(Command):
    """Delete tokens by AccessorID: one from the API, a batch of expired ones from the leader."""

    TYPE: ClassVar[str] = "acl-token-delete"
    accessor_ids: list[str]


@dataclass
class ACLPolicySet(Command):
    TYPE: ClassVar[str] = "acl-policy-set"
    policy: dict[str, Any]


@dataclass
class ACLPolicyDelete(Command):
    TYPE: ClassVar[str] = "acl-policy-delete"
    policy_id: str


@dataclass
class ACLRoleSet(Command):
    TYPE: ClassVar[str] = "acl-role-set"
    role: dict[str, Any]


@dataclass
class ACLRoleDelete(Command):
    TYPE: ClassVar[str] = "acl-role-delete"
    role_id: str


@dataclass
class ACLAuthMethodSet(Command):
    TYPE: ClassVar[str] = "acl-auth-method-set"
    method: dict[str, Any]


@dataclass
class ACLAuthMethodDelete(Command):
    """Delete an auth method with its binding rules and the tokens its logins made."""

    TYPE: ClassVar[str] = "acl-auth-method-delete"
    name: str


@dataclass
class ACLBindingRuleSet(Command):
    TYPE: ClassVar[str] = "acl-binding-rule-set"
    rule: dict[str, Any]


@dataclass
class ACLBindingRuleDelete(Command):
    TYPE: ClassVar[str] = "acl-binding-rule-delete"
    rule_id: str


@dataclass
class ACLInitTokens(Command):
    """The leader's start-up write: the anonymous token, the global-management policy and the
    configured initial-management token, each only if it is not there yet."""

    TYPE: ClassVar[str] = "acl-init-tokens"
    tokens: list[dict[str, Any]]
    policies: list[dict[str, Any]]
    # the initial-management token counts as the bootstrap (a later `acl bootstrap` is refused)
    mark_bootstrap: bool = False


ACL_COMMANDS: tuple[type[Command], ...] = (
    ACLBootstrap, ACLTokenSet, ACLTokenDelete, ACLPolicySet, ACLPolicyDelete, ACLRoleSet, ACLRoleDelete,
    ACLAuthMethodSet, ACLAuthMethodDelete, ACLBindingRuleSet, ACLBindingRuleDelete, ACLInitTokens,
)


@dataclass
class AgentCAInit(Command):
    """The leader's built-in CA for auto_encrypt (pyconsul/state/agent_ca.py): kept only if none is."""

    TYPE: ClassVar[str] = "agent-ca-init"
    root_pem: str
    key_pem: str
    trust_domain: str


@dataclass
class ConfigEntryOp(Command):
    """ConfigEntry.Apply / Delete: verb set, cas (with `index`), delete, delete-cas (with `index`).

    `entry` is the whole validated entry (Kind, Name, kind fields) for set/cas; delete verbs need
    only its Kind and Name."""

    TYPE: ClassVar[str] = "config-entry"
    verb: str
    entry: dict[str, Any]
    index: int = 0


@dataclass
class ConnectCAOp(Command):
    """The Connect CA's state: verb init (first configuration and root), set-roots (rotation or
    a new configuration, only if the roots index is still `cas`), next-serial (the counter)."""

    TYPE: ClassVar[str] = "connect-ca"
    verb: str
    config: dict[str, Any] = field(default_factory=dict)
    roots: list[dict[str, Any]] = field(default_factory=list)
    cas: int = 0


@dataclass
class Noop(Command):
    """Committed by a new leader / on startup so reads see every earlier write."""

    TYPE: ClassVar[str] = "noop"


def encode(cmd: Command) -> bytes:
    if not cmd.TYPE or _REGISTRY.get(cmd.TYPE) is not type(cmd):
        raise UnknownCommand(f"unregistered command {type(cmd).__name__}")
    fields = {f.name: getattr(cmd, f.name) for f in dataclasses.fields(cmd)}
    return msgpack.packb([cmd.TYPE, fields], use_bin_type=True)


def decode(data: bytes) -> Command:
    try:
        type_name, fields = msgpack.unpackb(data, raw=False, strict_map_key=False)
    except Exception as exc:
        raise UnknownCommand(f"undecodable command: {exc}") from exc
    cls = _REGISTRY.get(type_name)
    if cls is None:
        raise UnknownCommand(f"unknown command type {type_name!r}")
    return cls(**fields)
