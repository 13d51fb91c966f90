"""ACL tables through the FSM: bootstrap once (and again only with the reset index), tokens,
policies and roles with Consul's refusals, links resolved on read, expiry, snapshot and restore."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pyconsul.acl import builtins
from pyconsul.acl.objects import global_management_policy, management_token, policy_row, role_row, token_row
from pyconsul.fsm import commands as c
from pyconsul.state import watch
from pyconsul.state.errors import StateError
from tests.state.tables import Applied


def _boot(a: Applied, reset: int = 0, n: int = 1) -> object:
    tok = management_token(f"acc-{n}", f"sec-{n}", builtins.BOOTSTRAP_DESCRIPTION, 0.0)
    return a.apply(c.ACLBootstrap(token=tok, reset_index=reset))


def test_bootstrap_once_then_refused_with_the_reset_index_then_allowed_with_it() -> None:
    a = Applied()
    a.ok(c.ACLPolicySet(policy=global_management_policy()))
    first = _boot(a)
    assert isinstance(first, dict) and first["Policies"] == [{"ID": builtins.GLOBAL_MANAGEMENT_ID, "Name": "global-management"}]
    boot_index = a.index
    second = _boot(a, n=2)
    assert isinstance(second, StateError)
    assert str(second) == f"Permission denied: ACL bootstrap no longer allowed (reset index: {boot_index})"
    assert isinstance(_boot(a, reset=boot_index + 7, n=3), StateError)
    again = _boot(a, reset=boot_index, n=4)
    assert isinstance(again, dict) and again["AccessorID"] == "acc-4"
    # the reset index moved: the old one no longer works
    assert isinstance(_boot(a, reset=boot_index, n=5), StateError)


def test_token_links_show_current_names_and_drop_deleted_targets() -> None:
    a = Applied()
    a.ok(c.ACLPolicySet(policy=policy_row("p1", "readers", rules='key_prefix "" { policy = "read" }')))
    a.ok(c.ACLRoleSet(role=role_row("r1", "ops", policies=[{"ID": "p1"}])))
    a.ok(c.ACLTokenSet(token=token_row("t1", "s1", policies=[{"ID": "p1"}], roles=[{"ID": "r1"}])))
    _, tok = a.store.acl.token_by_secret(None, "s1")
    assert tok is not None and tok["Policies"] == [{"ID": "p1", "Name": "readers"}]
    a.ok(c.ACLPolicySet(policy=policy_row("p1", "renamed")))
    _, tok = a.store.acl.token_by_accessor(None, "t1")
    assert tok is not None and tok["Policies"][0]["Name"] == "renamed"
    a.ok(c.ACLPolicyDelete(policy_id="p1"))
    _, tok = a.store.acl.token_by_accessor(None, "t1")
    assert tok is not None and "Policies" not in tok and tok["Roles"] == [{"ID": "r1", "Name": "ops"}]
    _, role = a.store.acl.role_by_name(None, "ops")
    assert role is not None and "Policies" not in role


def test_list_filters_by_policy_and_role() -> None:
    a = Applied()
    a.ok(c.ACLPolicySet(policy=policy_row("p1", "one")))
    a.ok(c.ACLRoleSet(role=role_row("r1", "ops")))
    a.ok(c.ACLTokenSet(token=token_row("t1", "s1", policies=[{"ID": "p1"}])))
    a.ok(c.ACLTokenSet(token=token_row("t2", "s2", roles=[{"ID": "r1"}])))
    assert [t["AccessorID"] for t in a.store.acl.list_tokens(None, policy="p1")[1]] == ["t1"]
    assert [t["AccessorID"] for t in a.store.acl.list_tokens(None, role="r1")[1]] == ["t2"]
    assert a.store.acl.list_tokens(None, policy="nope")[1] == []


def test_refusals_with_consul_texts_move_no_index() -> None:
    a = Applied()
    a.ok(c.ACLPolicySet(policy=global_management_policy()))
    a.ok(c.ACLPolicySet(policy=policy_row("p1", "taken")))
    a.ok(c.ACLTokenSet(token=token_row(builtins.ANONYMOUS_ACCESSOR_ID, "anonymous")))
    a.ok(c.ACLTokenSet(token=token_row("t1", "s1")))
    before = a.store.indexes.as_dict()
    cases = [
        (c.ACLPolicySet(policy=policy_row("p2", "taken")), 'Invalid Policy: A Policy with Name "taken" already exists'),
        (c.ACLPolicyDelete(policy_id=builtins.GLOBAL_MANAGEMENT_ID), "Deletion of the builtin global-management policy is not permitted"),
        (c.ACLPolicySet(policy=policy_row(builtins.GLOBAL_MANAGEMENT_ID, "gm", rules='acl = "read"')),
            "Changing the Rules for the builtin global-management policy is not permitted"),
        (c.ACLPolicyDelete(policy_id="missing"), "Cannot find policy to delete"),
        (c.ACLTokenDelete(accessor_ids=[builtins.ANONYMOUS_ACCESSOR_ID]), "Delete operation not permitted on the anonymous token"),
        (c.ACLTokenSet(token=token_row("t2", "s1")), "Invalid Token: SecretID is already in use"),
        (c.ACLRoleDelete(role_id="missing"), "Cannot find role to delete"),
    ]
    for cmd, text in cases:
        out = a.apply(cmd)
        assert isinstance(out, StateError) and str(out) == text
    assert a.store.indexes.as_dict() == before
    # renaming the built-in policy is allowed; deleting a missing token is a no-op `true`
    assert a.ok(c.ACLPolicySet(policy=policy_row(builtins.GLOBAL_MANAGEMENT_ID, "root")))["Name"] == "root"
    assert a.ok(c.ACLTokenDelete(accessor_ids=["never-existed"])) is True


def test_expired_tokens_are_listed_for_the_leader_to_reap() -> None:
    a = Applied()
    a.ok(c.ACLTokenSet(token=token_row("old", "s1", expiration_time="2026-01-01T00:00:00.5Z")))
    a.ok(c.ACLTokenSet(token=token_row("new", "s2", expiration_time="2026-01-01T00:01:00Z")))
    a.ok(c.ACLTokenSet(token=token_row("forever", "s3")))
    jan1 = 1767225600.0
    assert a.store.acl.expired_tokens(jan1) == []
    assert a.store.acl.expired_tokens(jan1 + 1) == ["old"]
    a.ok(c.ACLTokenDelete(accessor_ids=a.store.acl.expired_tokens(jan1 + 61)))
    assert [t["AccessorID"] for t in a.store.acl.list_tokens(None)[1]] == ["forever"]
    assert a.store.acl.token_by_secret(None, "s1")[1] is None


def test_writes_wake_token_watchers_and_report_their_index() -> None:
    a = Applied()
    woke: list[int] = []
    ws_topics = [watch.table("acl-tokens")]
    a.store.watches.subscribe(ws_topics, lambda: woke.append(1))
    a.ok(c.ACLTokenSet(token=token_row("t1", "s1")))
    assert woke == [1]
    index, rows = a.store.acl.list_tokens(None)
    assert index == a.index and rows[0]["CreateIndex"] == rows[0]["ModifyIndex"] == a.index
    a.ok(c.ACLTokenSet(token=token_row("t1", "s1", description="changed")))
    _, row = a.store.acl.token_by_accessor(None, "t1")
    assert row is not None and row["CreateIndex"] == 1 and row["ModifyIndex"] == 2


_ops = st.lists(
    st.one_of(
        st.builds(lambda i, n: c.ACLPolicySet(policy=policy_row(f"p{i}", f"name{n}")), st.integers(0, 3), st.integers(0, 3)),
        st.builds(lambda i: c.ACLPolicyDelete(policy_id=f"p{i}"), st.integers(0, 3)),
        st.builds(lambda i, p: c.ACLTokenSet(token=token_row(f"t{i}", f"s{i}", policies=[{"ID": f"p{p}"}])),
                  st.integers(0, 3), st.integers(0, 3)),
        st.builds(lambda i: c.ACLTokenDelete(accessor_ids=[f"t{i}"]), st.integers(0, 3)),
        st.builds(lambda i: c.ACLRoleSet(role=role_row(f"r{i}", f"role{i}", policies=[{"ID": "p0"}])), st.integers(0, 2)),
        st.builds(lambda r: _boot_cmd(r), st.integers(0, 4)),
        st.builds(lambda i: c.ACLAuthMethodSet(method={"Name": f"m{i}", "Type": "jwt", "Config": {}}),
                  st.integers(0, 1)),
        st.builds(lambda i: c.ACLAuthMethodDelete(name=f"m{i}"), st.integers(0, 1)),
        st.builds(lambda i, m: c.ACLBindingRuleSet(rule={"ID": f"b{i}", "AuthMethod": f"m{m}", "BindType": "service",
                                                         "BindName": "x", "Selector": "", "Description": ""}),
                  st.integers(0, 2), st.integers(0, 1)),
        st.builds(lambda i: c.ACLBindingRuleDelete(rule_id=f"b{i}"), st.integers(0, 2)),
        st.builds(lambda i, m: c.ACLTokenSet(token=token_row(f"t{i}", f"s{i}", auth_method=f"m{m}")),
                  st.integers(0, 3), st.integers(0, 1)),
        st.builds(lambda i: c.ACLInitTokens(tokens=[management_token(f"t{i}", "root", "init", 0.0)],
                                            policies=[global_management_policy()], mark_bootstrap=True),
                  st.integers(0, 3)),
    ),
    max_size=18,
)


def _boot_cmd(reset: int) -> c.ACLBootstrap:
    return c.ACLBootstrap(token=management_token(f"b{reset}", f"bs{reset}", "boot", 0.0), reset_index=reset)


@settings(max_examples=150, deadline=None)
@given(_ops)
def test_snapshot_restore_and_replay_give_the_same_reads(ops: list[c.Command]) -> None:
    live = Applied()
    for op in ops:
        live.apply(op)
    restored = Applied()
    restored.machine.restore(live.machine.snapshot())
    replayed = Applied()
    for op in ops:
        replayed.apply(c.decode(c.encode(op)))
    for other in (restored, replayed):
        for read in ("list_tokens", "list_policies", "list_roles", "list_auth_methods", "list_binding_rules"):
            assert getattr(other.store.acl, read)(None) == getattr(live.store.acl, read)(None)
        assert other.store.acl.bootstrap_index == live.store.acl.bootstrap_index
        for i in range(4):
            assert other.store.acl.token_by_secret(None, f"s{i}") == live.store.acl.token_by_secret(None, f"s{i}")


def test_auth_method_delete_takes_its_rules_and_login_tokens() -> None:
    a = Applied()
    a.ok(c.ACLAuthMethodSet(method={"Name": "m", "Type": "jwt", "Config": {}}))
    a.ok(c.ACLBindingRuleSet(rule={"ID": "b1", "AuthMethod": "m", "BindType": "service", "BindName": "x"}))
    a.ok(c.ACLTokenSet(token=token_row("login", "s1", auth_method="m")))
    a.ok(c.ACLTokenSet(token=token_row("plain", "s2")))
    assert isinstance(a.apply(c.ACLBindingRuleSet(rule={"ID": "b2", "AuthMethod": "gone", "BindType": "service",
                                                        "BindName": "x"})), StateError)
    a.ok(c.ACLAuthMethodDelete(name="m"))
    assert a.store.acl.list_binding_rules(None)[1] == []
    assert [t["AccessorID"] for t in a.store.acl.list_tokens(None)[1]] == ["plain"]


def test_init_tokens_write_once_and_count_as_the_bootstrap() -> None:
    a = Applied()
    cmd = c.ACLInitTokens(tokens=[management_token("im", "root", "Initial Management Token", 0.0)],
                          policies=[global_management_policy()], mark_bootstrap=True)
    a.ok(cmd)
    first = a.index
    a.ok(c.ACLInitTokens(tokens=[management_token("im2", "root", "again", 0.0)], policies=[], mark_bootstrap=True))
    assert [t["AccessorID"] for t in a.store.acl.list_tokens(None)[1]] == ["im"]
    assert a.store.acl.bootstrap_index == first
    assert isinstance(_boot(a), StateError)
