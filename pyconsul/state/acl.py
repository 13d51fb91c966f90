"""ACL tokens, policies and roles as replicated state, and the bootstrap marker.

A composed table (`store.acl`). Rows are Consul's JSON shapes as the endpoints built them: the
IDs, secrets, CreateTime and Hash are chosen before the command is written, so every replica
stores the same bytes. Links from tokens and roles to policies and roles are kept by ID; reads
fill in the current Name and drop links whose target is gone (Consul resolves them the same way,
so renaming a policy shows at once on every token that holds it).

Rules a caller must keep:
- Writes only from the FSM (`StateMachine.apply`), with the command's log index. A refused write
  raises StateError with Consul's text; nothing changes and no index moves.
- Table indexes: "acl-tokens", "acl-policies", "acl-roles", "acl-auth-methods",
  "acl-binding-rules". Reads return (index, value) and add
  the table's topic to the WatchSet.
"""

from __future__ import annotations

import copy
from typing import Any

from pyconsul.acl import builtins
from pyconsul.acl.errors import bootstrap_denied_text
from pyconsul.acl.objects import parse_rfc3339
from pyconsul.state import watch
from pyconsul.state.errors import StateError
from pyconsul.state.txn import IndexTable, WriteTxn
from pyconsul.state.watch import WatchSet

Row = dict[str, Any]

TOKENS = "acl-tokens"
POLICIES = "acl-policies"
ROLES = "acl-roles"
AUTH_METHODS = "acl-auth-methods"
BINDING_RULES = "acl-binding-rules"


class ACLTable:
    def __init__(self, txn: WriteTxn, indexes: IndexTable) -> None:
        self.txn = txn
        self.indexes = indexes
        self._restores = 0  # part of `revision`
        self.clear()

    def clear(self) -> None:
        self.tokens: dict[str, Row] = {}  # AccessorID → row
        self.secrets: dict[str, str] = {}  # SecretID → AccessorID
        self.policies: dict[str, Row] = {}  # ID → row
        self.roles: dict[str, Row] = {}  # ID → row
        self.auth_methods: dict[str, Row] = {}  # Name → row
        self.binding_rules: dict[str, Row] = {}  # ID → row
        self.bootstrap_index = 0  # index of the bootstrap that happened; 0 = never

    # -- writes ----------------------------------------------------------------------------------
    def bootstrap(self, idx: int, token: Row, reset_index: int) -> Row:
        """The one-time bootstrap: allowed once, or again with the reset index written to disk."""
        if self.bootstrap_index and reset_index != self.bootstrap_index:
            raise StateError(bootstrap_denied_text(self.bootstrap_index))
        row = self.set_token(idx, token)
        self.bootstrap_index = idx
        return row

    def set_token(self, idx: int, token: Row) -> Row:
        accessor, secret = token["AccessorID"], token["SecretID"]
        owner = self.secrets.get(secret)
        if owner is not None and owner != accessor:
            raise StateError("Invalid Token: SecretID is already in use")
        old = self.tokens.get(accessor)
        if old is not None and old["SecretID"] != secret:
            raise StateError("Cannot change the SecretID of an existing token")
        row = copy.deepcopy(token)
        row["CreateIndex"] = old["CreateIndex"] if old is not None else idx
        row["ModifyIndex"] = idx
        self.tokens[accessor] = row
        self.secrets[secret] = accessor
        self.txn.bump(idx, TOKENS)
        return self._token_view(row)

    def delete_tokens(self, idx: int, accessor_ids: list[str]) -> bool:
        """Delete tokens (a missing one is a no-op, as Consul answers `true`)."""
        if builtins.ANONYMOUS_ACCESSOR_ID in accessor_ids:
            raise StateError("Delete operation not permitted on the anonymous token")
        for accessor in accessor_ids:
            row = self.tokens.pop(accessor, None)
            if row is not None:
                self.secrets.pop(row["SecretID"], None)
                self.txn.bump(idx, TOKENS)
        return True

    def set_policy(self, idx: int, policy: Row) -> Row:
        pid, name = policy["ID"], policy["Name"]
        for other in self.policies.values():
            if other["Name"] == name and other["ID"] != pid:
                raise StateError(f"Invalid Policy: A Policy with Name \"{name}\" already exists")
        old = self.policies.get(pid)
        if pid == builtins.GLOBAL_MANAGEMENT_ID and old is not None:
            if policy.get("Rules", "") != old.get("Rules", "") or policy.get("Datacenters") != old.get("Datacenters"):
                raise StateError("Changing the Rules for the builtin global-management policy is not permitted")
        row = copy.deepcopy(policy)
        row["CreateIndex"] = old["CreateIndex"] if old is not None else idx
        row["ModifyIndex"] = idx
        self.policies[pid] = row
        self.txn.bump(idx, POLICIES)
        return copy.deepcopy(row)

    def delete_policy(self, idx: int, policy_id: str) -> bool:
        if policy_id == builtins.GLOBAL_MANAGEMENT_ID:
            raise StateError("Deletion of the builtin global-management policy is not permitted")
        if policy_id not in self.policies:
            raise StateError("Cannot find policy to delete")
        del self.policies[policy_id]
        self.txn.bump(idx, POLICIES)
        return True

    def set_role(self, idx: int, role: Row) -> Row:
        rid, name = role["ID"], role["Name"]
        for other in self.roles.values():
            if other["Name"] == name and other["ID"] != rid:
                raise StateError(f"Invalid Role: A Role with Name \"{name}\" already exists")
        old = self.roles.get(rid)
        row = copy.deepcopy(role)
        row["CreateIndex"] = old["CreateIndex"] if old is not None else idx
        row["ModifyIndex"] = idx
        self.roles[rid] = row
        self.txn.bump(idx, ROLES)
        return self._role_view(row)

    def delete_role(self, idx: int, role_id: str) -> bool:
        if role_id not in self.roles:
            raise StateError("Cannot find role to delete")
        del self.roles[role_id]
        self.txn.bump(idx, ROLES)
        return True

    def init_tokens(self, idx: int, tokens: list[Row], policies: list[Row], mark_bootstrap: bool = False) -> bool:
        """The leader's start-up objects, each written only if absent (a restart changes nothing);
        `mark_bootstrap` makes the first write of a management token the cluster's bootstrap."""
        for policy in policies:
            if policy["ID"] not in self.policies:
                self.set_policy(idx, policy)
        for token in tokens:
            if token["AccessorID"] not in self.tokens and token["SecretID"] not in self.secrets:
                self.set_token(idx, token)
                management = any(p["ID"] == builtins.GLOBAL_MANAGEMENT_ID for p in token.get("Policies") or ())
                if mark_bootstrap and management and not self.bootstrap_index:
                    self.bootstrap_index = idx
        return True

    def set_auth_method(self, idx: int, method: Row) -> Row:
        old = self.auth_methods.get(method["Name"])
        row = copy.deepcopy(method)
        row["CreateIndex"] = old["CreateIndex"] if old is not None else idx
        row["ModifyIndex"] = idx
        self.auth_methods[row["Name"]] = row
        self.txn.bump(idx, AUTH_METHODS)
        return copy.deepcopy(row)

    def delete_auth_method(self, idx: int, name: str) -> bool:
        """Delete a method, its binding rules and every token its logins made (Consul does all three)."""
        if self.auth_methods.pop(name, None) is None:
            return True
        self.txn.bump(idx, AUTH_METHODS)
        rules = [rid for rid, r in self.binding_rules.items() if r["AuthMethod"] == name]
        for rid in rules:
            del self.binding_rules[rid]
        if rules:
            self.txn.bump(idx, BINDING_RULES)
        made = [a for a, t in self.tokens.items() if t.get("AuthMethod") == name]
        if made:
            self.delete_tokens(idx, made)
        return True

    def set_binding_rule(self, idx: int, rule: Row) -> Row:
        if rule["AuthMethod"] not in self.auth_methods:
            raise StateError(f'cannot find auth method with name "{rule["AuthMethod"]}"')
        old = self.binding_rules.get(rule["ID"])
        row = copy.deepcopy(rule)
        row["CreateIndex"] = old["CreateIndex"] if old is not None else idx
        row["ModifyIndex"] = idx
        self.binding_rules[row["ID"]] = row
        self.txn.bump(idx, BINDING_RULES)
        return copy.deepcopy(row)

    def delete_binding_rule(self, idx: int, rule_id: str) -> bool:
        if self.binding_rules.pop(rule_id, None) is not None:
            self.txn.bump(idx, BINDING_RULES)
        return True

    # -- reads -----------------------------------------------------------------------------------
    def revision(self) -> int:
        """Moves whenever anything a token resolves through (tokens, policies, roles) changes,
        and on every restore (a snapshot may carry other state at the same indexes)."""
        get = self.indexes.get
        return max(get(TOKENS), get(POLICIES), get(ROLES)) + (self._restores << 48)

    def auth_method(self, ws: WatchSet | None, name: str) -> tuple[int, Row | None]:
        self._watch(ws, AUTH_METHODS)
        row = self.auth_methods.get(name)
        return self.indexes.get(AUTH_METHODS), copy.deepcopy(row) if row is not None else None

    def list_auth_methods(self, ws: WatchSet | None) -> tuple[int, list[Row]]:
        self._watch(ws, AUTH_METHODS)
        rows = [copy.deepcopy(r) for _, r in sorted(self.auth_methods.items())]
        return self.indexes.get(AUTH_METHODS), rows

    def binding_rule(self, ws: WatchSet | None, rule_id: str) -> tuple[int, Row | None]:
        self._watch(ws, BINDING_RULES)
        row = self.binding_rules.get(rule_id)
        return self.indexes.get(BINDING_RULES), copy.deepcopy(row) if row is not None else None

    def list_binding_rules(self, ws: WatchSet | None, auth_method: str = "") -> tuple[int, list[Row]]:
        self._watch(ws, BINDING_RULES)
        rows = [copy.deepcopy(r) for r in sorted(self.binding_rules.values(), key=lambda r: r["ID"])
                if not auth_method or r["AuthMethod"] == auth_method]
        return self.indexes.get(BINDING_RULES), rows

    def token_by_accessor(self, ws: WatchSet | None, accessor: str) -> tuple[int, Row | None]:
        self._watch(ws, TOKENS, POLICIES, ROLES)
        row = self.tokens.get(accessor)
        return self.indexes.max(TOKENS), (self._token_view(row) if row is not None else None)

    def token_by_secret(self, ws: WatchSet | None, secret: str) -> tuple[int, Row | None]:
        accessor = self.secrets.get(secret)
        return self.token_by_accessor(ws, accessor or "")

    def list_tokens(self, ws: WatchSet | None, policy: str = "", role: str = "") -> tuple[int, list[Row]]:
        self._watch(ws, TOKENS, POLICIES, ROLES)
        rows = []
        for row in sorted(self.tokens.values(), key=lambda r: r["AccessorID"]):
            if policy and not any(link["ID"] == policy for link in row.get("Policies") or ()):
                continue
            if role and not any(link["ID"] == role for link in row.get("Roles") or ()):
                continue
            rows.append(self._token_view(row))
        return self.indexes.max(TOKENS), rows

    def policy_by_id(self, ws: WatchSet | None, policy_id: str) -> tuple[int, Row | None]:
        self._watch(ws, POLICIES)
        row = self.policies.get(policy_id)
        return self.indexes.get(POLICIES), copy.deepcopy(row) if row is not None else None

    def policy_by_name(self, ws: WatchSet | None, name: str) -> tuple[int, Row | None]:
        self._watch(ws, POLICIES)
        row = next((p for p in self.policies.values() if p["Name"] == name), None)
        return self.indexes.get(POLICIES), copy.deepcopy(row) if row is not None else None

    def list_policies(self, ws: WatchSet | None) -> tuple[int, list[Row]]:
        self._watch(ws, POLICIES)
        rows = [copy.deepcopy(p) for p in sorted(self.policies.values(), key=lambda p: p["ID"])]
        return self.indexes.get(POLICIES), rows

    def role_by_id(self, ws: WatchSet | None, role_id: str) -> tuple[int, Row | None]:
        self._watch(ws, ROLES, POLICIES)
        row = self.roles.get(role_id)
        return self.indexes.get(ROLES), self._role_view(row) if row is not None else None

    def role_by_name(self, ws: WatchSet | None, name: str) -> tuple[int, Row | None]:
        self._watch(ws, ROLES, POLICIES)
        row = next((r for r in self.roles.values() if r["Name"] == name), None)
        return self.indexes.get(ROLES), self._role_view(row) if row is not None else None

    def list_roles(self, ws: WatchSet | None, policy: str = "") -> tuple[int, list[Row]]:
        self._watch(ws, ROLES, POLICIES)
        rows = []
        for row in sorted(self.roles.values(), key=lambda r: r["ID"]):
            if policy and not any(link["ID"] == policy for link in row.get("Policies") or ()):
                continue
            rows.append(self._role_view(row))
        return self.indexes.get(ROLES), rows

    def expired_tokens(self, now: float) -> list[str]:
        """Accessors of tokens whose ExpirationTime is at or before `now` (epoch seconds).

        The leader reaps them with one ACLTokenDelete; resolution refuses them before that."""
        return sorted(
            accessor
            for accessor, row in self.tokens.items()
            if row.get("ExpirationTime") and parse_rfc3339(row["ExpirationTime"]) <= now
        )

    # -- views -----------------------------------------------------------------------------------
    def _links(self, links: list[Row] | None, table: dict[str, Row]) -> list[Row]:
        return [{"ID": link["ID"], "Name": table[link["ID"]]["Name"]} for link in links or () if link["ID"] in table]

    def _token_view(self, row: Row) -> Row:
        return self._view(row, (("Policies", self.policies), ("Roles", self.roles)))

    def _role_view(self, row: Row) -> Row:
        return self._view(row, (("Policies", self.policies),))

    def _view(self, row: Row, fields: tuple[tuple[str, dict[str, Row]], ...]) -> Row:
        view = copy.deepcopy(row)
        for field, table in fields:
            if field in view:
                links = self._links(view[field], table)
                if links:
                    view[field] = links
                else:
                    del view[field]  # omitempty, as Consul writes it
        return view

    def _watch(self, ws: WatchSet | None, *tables: str) -> None:
        if ws is not None:
            for t in tables:
                ws.add(watch.table(t))

    # -- snapshot / restore ----------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {
            "acl": {
                "tokens": list(self.tokens.values()),
                "policies": list(self.policies.values()),
                "roles": list(self.roles.values()),
                "auth_methods": list(self.auth_methods.values()),
                "binding_rules": list(self.binding_rules.values()),
                "bootstrap_index": self.bootstrap_index,
            }
        }

    def restore(self, snap: dict[str, Any]) -> None:
        self.clear()
        self._restores += 1
        saved = snap.get("acl") or {}
        for row in saved.get("tokens", []):
            self.tokens[row["AccessorID"]] = row
            self.secrets[row["SecretID"]] = row["AccessorID"]
        self.policies = {row["ID"]: row for row in saved.get("policies", [])}
        self.roles = {row["ID"]: row for row in saved.get("roles", [])}
        self.auth_methods = {row["Name"]: row for row in saved.get("auth_methods", [])}
        self.binding_rules = {row["ID"]: row for row in saved.get("binding_rules", [])}
        self.bootstrap_index = int(saved.get("bootstrap_index", 0))
