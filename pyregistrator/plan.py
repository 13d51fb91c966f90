"""What should be registered, and what to change in the agent to get there (pure).

The reconciler keeps the desired registrations per container; these functions decide a
container's desired services from its inspection, and compare desired with what the agent holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field
from typing import Any

from pyregistrator.mapping import ServiceRegistration, owned_by_host

DEREGISTER_POLICIES = ("always", "on-success")


def exited_cleanly(exit_code: Any) -> bool:
    """registrator's -deregister on-success rule: exit 0, or killed by a signal (128+n)."""
    try:
        code = int(exit_code)
    except (TypeError, ValueError):
        return True
    return code == 0 or code & 0x80 == 0x80


def is_serving(inspection: Mapping[str, Any]) -> bool:
    """Running and able to answer: a paused or restarting container is not registered."""
    state = inspection.get("State")
    if not isinstance(state, Mapping):
        return False
    return bool(state.get("Running")) and not state.get("Paused") and not state.get("Restarting")


def desired_services(
    inspection: Mapping[str, Any] | None,
    mapped: Iterable[ServiceRegistration],
    policy: str,
    previous: tuple[ServiceRegistration, ...],
) -> tuple[ServiceRegistration, ...]:
    """A container's services after looking at it again.

    `mapped` is the mapping of the inspection (used only while the container serves);
    `previous` what was desired before. With `-deregister on-success`, a container that failed
    keeps its services registered (its checks show the failure); a removed one never does."""
    if inspection is None:
        return ()
    if is_serving(inspection):
        return tuple(mapped)
    state = inspection.get("State")
    if isinstance(state, Mapping) and state.get("Paused"):
        return ()
    exit_code = state.get("ExitCode") if isinstance(state, Mapping) else None
    if policy == "on-success" and not exited_cleanly(exit_code):
        return previous
    return ()


def flatten(per_container: Mapping[str, tuple[ServiceRegistration, ...]]) -> dict[str, ServiceRegistration]:
    """Service ID → registration over all containers (a later container wins an ID clash)."""
    out: dict[str, ServiceRegistration] = {}
    for services in per_container.values():
        for service in services:
            out[service.id] = service
    return out


@dataclass
class SyncPlan:
    register: list[ServiceRegistration] = field(default_factory=list)
    deregister: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.register or self.deregister)


def plan_changes(
    desired: Mapping[str, ServiceRegistration],
    registered: Mapping[str, ServiceRegistration],
    touched: Set[str],
) -> SyncPlan:
    """Incremental step after some containers changed: `touched` are service IDs those
    containers had or have; `registered` what this process last wrote to the agent."""
    plan = SyncPlan()
    for sid in sorted(touched):
        want = desired.get(sid)
        if want is not None:
            if registered.get(sid) != want:
                plan.register.append(want)
        elif sid in registered:
            plan.deregister.append(sid)
    return plan


def plan_sync(
    desired: Mapping[str, ServiceRegistration],
    held: Mapping[str, Mapping[str, Any]],
    *,
    hostname: str,
    known: Set[str],
    cleanup: bool,
    force: bool,
) -> SyncPlan:
    """Full comparison of desired with the agent's services (GET /v1/agent/services).

    Registers what is missing or differs (everything when `force`, so checks are refreshed
    too). Deregisters services nobody wants that this process registered (`known`), and with
    `cleanup` any other service whose ID says registrator made it on this host."""
    plan = SyncPlan()
    for sid in sorted(desired):
        want = desired[sid]
        have = held.get(sid)
        if force or have is None or not want.matches_agent(have):
            plan.register.append(want)
    for sid in sorted(held):
        if sid in desired:
            continue
        if sid in known or (cleanup and owned_by_host(sid, hostname)):
            plan.deregister.append(sid)
    return plan
