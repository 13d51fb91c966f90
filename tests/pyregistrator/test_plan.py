"""plan.py: desired state per container, and the repair of the agent's services."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pyregistrator.mapping import ServiceRegistration
from pyregistrator.plan import desired_services, exited_cleanly, plan_changes, plan_sync
from tests.pyregistrator.inspections import inspection

WEB = ServiceRegistration("vm:web:80", "nginx", "10.0.0.1", 8000)
WEB2 = ServiceRegistration("vm:web:80", "nginx", "10.0.0.1", 8001)


def held(reg: ServiceRegistration) -> dict:
    return {"ID": reg.id, "Service": reg.name, "Tags": list(reg.tags), "Address": reg.address,
            "Port": reg.port, "Meta": dict(reg.meta)}


def test_running_container_wants_its_mapping() -> None:
    assert desired_services(inspection(), [WEB], "always", ()) == (WEB,)


def test_gone_or_paused_container_wants_nothing() -> None:
    assert desired_services(None, [WEB], "on-success", (WEB,)) == ()
    assert desired_services(inspection(paused=True), [WEB], "on-success", (WEB,)) == ()


def test_exited_container_by_policy() -> None:
    failed = inspection(running=False, exit_code=1)
    assert desired_services(failed, [], "always", (WEB,)) == ()
    assert desired_services(failed, [], "on-success", (WEB,)) == (WEB,)
    for code in (0, 137, 143):
        assert desired_services(inspection(running=False, exit_code=code), [], "on-success", (WEB,)) == ()


@given(st.integers(0, 255))
def test_exit_codes_with_signal_bit_are_clean(code: int) -> None:
    assert exited_cleanly(code) == (code == 0 or code >= 128)


def test_changes_register_new_and_changed_and_drop_removed() -> None:
    gone = ServiceRegistration("vm:old:80", "nginx", "10.0.0.1", 9000)
    plan = plan_changes({WEB.id: WEB2}, {WEB.id: WEB, gone.id: gone}, {WEB.id, gone.id})
    assert plan.register == [WEB2]
    assert plan.deregister == [gone.id]


def test_changes_leave_untouched_services_alone() -> None:
    assert not plan_changes({WEB.id: WEB}, {}, set())


def test_sync_repairs_missing_and_different() -> None:
    plan = plan_sync({WEB.id: WEB2}, {WEB.id: held(WEB)}, hostname="vm", known=set(), cleanup=False, force=False)
    assert plan.register == [WEB2]
    plan = plan_sync({WEB.id: WEB}, {}, hostname="vm", known=set(), cleanup=False, force=False)
    assert plan.register == [WEB]
    assert not plan_sync({WEB.id: WEB}, {WEB.id: held(WEB)}, hostname="vm", known=set(), cleanup=False, force=False)


def test_sync_removes_known_always_and_dangling_only_with_cleanup() -> None:
    agent = {
        "vm:dead:80": {"Service": "nginx"},  # registrator's shape, this host
        "other:dead:80": {"Service": "nginx"},  # another host's registrator
        "custom-id": {"Service": "db"},  # registered by someone else
        "mine-custom": {"Service": "api"},  # a SERVICE_ID we registered earlier
    }
    kwargs = dict(hostname="vm", known={"mine-custom"}, force=False)
    assert plan_sync({}, agent, cleanup=False, **kwargs).deregister == ["mine-custom"]
    assert plan_sync({}, agent, cleanup=True, **kwargs).deregister == ["mine-custom", "vm:dead:80"]


ids = st.sampled_from(["vm:web:80", "vm:db:80", "vm:dns:53:udp", "x:web:80", "custom"])
regs = st.builds(lambda i, p: ServiceRegistration(i, "svc", "10.0.0.1", p), ids, st.integers(1, 3))


@given(
    st.dictionaries(ids, regs.map(held), max_size=5),
    st.lists(regs, max_size=5),
    st.sets(ids),
    st.booleans(),
)
def test_applying_a_sync_plan_converges(agent: dict, wanted: list, known: set, cleanup: bool) -> None:
    desired = {r.id: r for r in wanted}
    plan = plan_sync(desired, agent, hostname="vm", known=known, cleanup=cleanup, force=False)
    after = dict(agent)
    for sid in plan.deregister:
        after.pop(sid)
    for reg in plan.register:
        after[reg.id] = held(reg)
    # Everything desired is held as desired; nothing else of ours remains; others are untouched.
    assert all(desired[sid].matches_agent(after[sid]) for sid in desired)
    for sid in set(agent) - set(desired):
        ours = sid in known or (cleanup and sid.startswith("vm:"))
        assert (sid in after) != ours
    assert not plan_sync(desired, after, hostname="vm", known=known, cleanup=cleanup, force=False)
